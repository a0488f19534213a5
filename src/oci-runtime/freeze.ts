/**
 * pause and resume: the container's cgroup frozen (v1 freezer.state, v2 cgroup.freeze).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../errors.js';
import type { GlobalOptions } from './create.js';
import { containerDir, readState, statusOf } from './state.js';

export function freeze(g: GlobalOptions, id: string, pause: boolean): number {
  const s = readState(g.root, id);
  if (statusOf(s, containerDir(g.root, id)) !== 'running') throw new StockadeError('input', `container "${id}" is not running`, 'container id');
  const files = s.cgroup.v2
    ? s.cgroup.dirs.map((d) => join(d, 'cgroup.freeze'))
    : s.cgroup.dirs.filter((d) => d.startsWith('/sys/fs/cgroup/freezer/')).map((d) => join(d, 'freezer.state'));
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) throw new StockadeError('unsupported', 'the container\'s cgroup has no freezer; mount the v1 freezer controller or use cgroup v2', 'container id');
  for (const f of present) writeFileSync(f, s.cgroup.v2 ? (pause ? '1' : '0') : pause ? 'FROZEN' : 'THAWED');
  return 0;
}
