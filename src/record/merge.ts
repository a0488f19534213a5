/** `stockade record --merge`: the union of recordings of different runs of one workload. */
import { posix } from 'node:path';
import { createRequire } from 'node:module';
import { StockadeError } from '../errors.js';
import { policyFromDocument } from '../policy/validate.js';

const require = createRequire(import.meta.url);

function union(a: unknown, b: unknown): string[] {
  return [...new Set([...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])] as string[])].sort();
}

function topmost(paths: string[]): string[] {
  const under = (p: string, d: string) => p === d || p.startsWith(`${d}/`);
  return paths.filter((p, i) => !paths.some((q, j) => j !== i && under(p, q) && q !== p));
}

const NETWORK_ORDER = ['none', 'loopback', 'host'];

export function mergeRecordings(files: Array<{ path: string; text: string }>, read: (path: string) => string): { policy: Record<string, unknown>; profile: Record<string, unknown>; complete: boolean } {
  const yaml = require('yaml') as typeof import('yaml');
  let policy: Record<string, unknown> | undefined;
  let profile: Record<string, unknown> | undefined;
  let complete = true;
  for (const f of files) {
    const doc = yaml.parse(f.text) as Record<string, unknown>;
    const p = policyFromDocument(doc, f.path); // validates, and resolves the profile path
    if (/^# complete: no/m.test(f.text)) complete = false;
    const prof = JSON.parse(read(p.syscalls.profile)) as { syscalls: Array<{ names: string[]; args?: unknown[] }>; architectures: string[] };
    if (!policy || !profile) {
      policy = { ...doc };
      profile = prof as unknown as Record<string, unknown>;
      continue;
    }
    if (JSON.stringify(p.command) !== JSON.stringify(policy.command)) {
      throw new StockadeError('input', `records ${JSON.stringify(p.command)}, not ${JSON.stringify(policy.command)}: merge recordings of one workload`, f.path);
    }
    const fs = policy.filesystem as Record<string, unknown>;
    const ofs = doc.filesystem as Record<string, unknown>;
    fs.read = topmost(union(fs.read, ofs.read));
    fs.write = topmost(union(fs.write, ofs.write));
    fs.read = (fs.read as string[]).filter((r) => !(fs.write as string[]).some((w) => r === w || r.startsWith(`${w}/`)));
    policy.capabilities = union(policy.capabilities, doc.capabilities);
    policy.network = NETWORK_ORDER[Math.max(NETWORK_ORDER.indexOf(String(policy.network)), NETWORK_ORDER.indexOf(String(doc.network)))];
    const a = profile as { syscalls: Array<{ names: string[]; args?: unknown[]; action: string; comment?: string }>; architectures: string[] };
    a.architectures = union(a.architectures, prof.architectures);
    const plainA = a.syscalls.find((s) => !s.args)!;
    const plainB = prof.syscalls.find((s) => !s.args);
    plainA.names = union(plainA.names, plainB?.names);
    const key = (s: { names: string[]; args?: unknown[] }) => JSON.stringify([s.names, s.args]);
    const have = new Set(a.syscalls.map(key));
    for (const s of prof.syscalls) if (s.args && !have.has(key(s))) a.syscalls.push(s as typeof a.syscalls[number]);
    // A syscall now allowed outright needs no conditional entries.
    a.syscalls = a.syscalls.filter((s) => !s.args || !s.names.every((n) => plainA.names.includes(n)));
  }
  if (!policy || !profile) throw new StockadeError('usage', 'nothing to merge', 'stockade record --merge');
  (policy.syscalls as Record<string, unknown>).profile = posix.basename(String((policy.syscalls as Record<string, unknown>).profile));
  return { policy, profile, complete };
}
