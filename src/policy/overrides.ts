/** Command-line flags that override a policy for one run (`stockade run --write DIR --net loopback`). */
import { StockadeError } from '../errors.js';
import { checkConsistency, parseDuration, parseSize } from './validate.js';
import type { NetworkMode, Policy } from './types.js';

export interface Overrides {
  read?: string[];
  write?: string[];
  hide?: string[];
  net?: string;
  memory?: string;
  pids?: string;
  timeout?: string;
  rootfs?: string;
  bestEffort?: boolean;
  command?: string[];
}

function absolute(paths: string[] | undefined, flag: string, cwd: string): string[] {
  return (paths ?? []).map((p) => {
    if (p.length === 0) throw new StockadeError('usage', 'needs a path', flag);
    const abs = p.startsWith('/') ? p : `${cwd.replace(/\/$/, '')}/${p}`;
    return abs.length > 1 ? abs.replace(/\/+$/, '') : abs;
  });
}

/** Applies flags to a policy. Flags add paths; scalar flags replace the policy's value. */
export function applyOverrides(policy: Policy, o: Overrides, cwd: string): Policy {
  const p: Policy = structuredClone(policy);
  p.filesystem.read.push(...absolute(o.read, '--read', cwd));
  p.filesystem.write.push(...absolute(o.write, '--write', cwd));
  p.filesystem.hide.push(...absolute(o.hide, '--hide', cwd));
  if (o.net !== undefined) {
    if (!['none', 'loopback', 'host'].includes(o.net)) throw new StockadeError('usage', `"${o.net}" must be none, loopback or host`, '--net');
    p.network = o.net as NetworkMode;
  }
  if (o.memory !== undefined) p.limits.memory = parseSize(o.memory, '--memory');
  if (o.pids !== undefined) {
    const n = Number(o.pids);
    if (!Number.isInteger(n) || n < 1) throw new StockadeError('usage', `"${o.pids}" is not a positive whole number`, '--pids');
    p.limits.pids = n;
  }
  if (o.timeout !== undefined) p.limits.wallTimeMs = parseDuration(o.timeout, '--timeout');
  if (o.rootfs !== undefined) p.filesystem.root = absolute([o.rootfs], '--rootfs', cwd)[0]!;
  if (o.bestEffort) p.enforcement = 'best-effort';
  if (o.command && o.command.length > 0) p.command = o.command;
  const both = p.filesystem.write.find((w) => (o.hide ?? []).length > 0 && p.filesystem.hide.includes(w));
  if (both) throw new StockadeError('usage', `"${both}" is both writable (--write) and hidden (--hide)`, '--hide');
  checkConsistency(p);
  return p;
}
