/**
 * Container state on disk: <root>/<id>/ holds state.json (what `state` reports and what the other
 * commands need), config.json (the config as created) and exec.fifo (the start gate). The status
 * is never stored: it is derived from the monitor process, identified by pid and start time, so a
 * recycled pid never passes for the container.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../errors.js';
import type { JoinableNamespace } from '../helper/plan.js';
import type { CgroupLayout } from './cgroups.js';

export const DEFAULT_STATE_ROOT = '/run/stockade';

export interface ContainerState {
  ociVersion: string;
  id: string;
  bundle: string;
  /** The monitor: the process the engine waits for (its exit status is the container's). */
  pid: number;
  pidStart: string;
  /** The sandbox init and the workload, as the host numbers them. */
  initPid: number;
  workloadPid: number;
  workloadStart: string;
  created: string;
  started: boolean;
  annotations: Record<string, string>;
  cgroup: CgroupLayout;
  namespaces: JoinableNamespace[];
}

export type Status = 'created' | 'running' | 'stopped';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

export function checkId(id: string | undefined): string {
  if (!id) throw new StockadeError('usage', 'a container id is required', 'container id');
  if (!ID_RE.test(id)) throw new StockadeError('usage', `"${id}" is not a valid container id (letters, digits, _ . + -; at most 128)`, 'container id');
  return id;
}

export function containerDir(root: string, id: string): string {
  return join(root, checkId(id));
}

/** Creates the container's directory; refuses an id in use. */
export function claimId(root: string, id: string): string {
  const dir = containerDir(root, id);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StockadeError('input', `container "${id}" already exists`, 'container id');
    throw new StockadeError('io', `cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, '--root');
  }
  return dir;
}

export function writeState(dir: string, s: ContainerState): void {
  const tmp = join(dir, '.state.json.tmp');
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, join(dir, 'state.json'));
}

export function readState(root: string, id: string): ContainerState {
  const dir = containerDir(root, id);
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ContainerState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StockadeError('input', `container "${id}" does not exist`, 'container id');
    throw new StockadeError('io', `cannot read the state of container "${id}": ${(e as Error).message}`, dir);
  }
}

export function removeStateDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or '' when the process is gone or a zombie. */
export function processStart(pid: number): string {
  if (!(pid > 0)) return '';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return '';
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

export function isAlive(pid: number, start: string): boolean {
  return start !== '' && processStart(pid) === start;
}

/**
 * `dir` is the container's state directory: `start` leaves a `started` file there (the native
 * front's start, native/runtime/front_ops.c, does not rewrite state.json).
 */
export function statusOf(s: ContainerState, dir: string): Status {
  if (!isAlive(s.pid, s.pidStart)) return 'stopped';
  return s.started || existsSync(join(dir, 'started')) ? 'running' : 'created';
}

/**
 * <dir>/fast: what the native front needs to start, kill and delete the container without Node
 * (docs/oci-runtime.md, "The fast path"). Not written when a value would not fit its line format:
 * the front then hands every command to Node.
 */
export function writeFast(dir: string, s: ContainerState, hooks: boolean): void {
  const pids = [s.pid, s.workloadPid, s.initPid];
  const starts = [s.pidStart, s.workloadStart];
  if (!pids.every((p) => Number.isInteger(p) && p >= 0) || !starts.every((t) => /^\d*$/.test(t))) return;
  if (s.cgroup.dirs.some((d) => !d.startsWith('/') || /[\n\r]/.test(d))) return;
  const lines = [
    'stockade-fast 1',
    `monitor ${s.pid} ${s.pidStart || 0}`,
    `workload ${s.workloadPid} ${s.workloadStart || 0}`,
    `init ${s.initPid}`,
    `hooks ${hooks ? 1 : 0}`,
    ...s.cgroup.dirs.map((d) => `cgroup ${d}`),
  ];
  const tmp = join(dir, '.fast.tmp');
  writeFileSync(tmp, `${lines.join('\n')}\n`);
  renameSync(tmp, join(dir, 'fast'));
}

/** The state object of the runtime spec, as `state` prints it. */
export function specState(s: ContainerState, dir: string): Record<string, unknown> {
  const status = statusOf(s, dir);
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    status,
    pid: status === 'stopped' ? 0 : s.pid,
    bundle: s.bundle,
    annotations: s.annotations,
    created: s.created,
  };
}
