/**
 * What a target format cannot express, shared by the Kubernetes and Docker emitters. A rule the
 * format cannot carry is a StockadeError('input') naming the rule and the format, unless the caller
 * passed `allowWeaker`, in which case it is dropped and listed (docs/kubernetes.md, "What cannot be
 * expressed"). Pure.
 */
import { StockadeError } from '../errors.js';
import type { Policy } from '../policy/types.js';

export interface Shortfall {
  /** The policy rule, as written in a policy file: `limits.pids`, `filesystem.hide[2]`. */
  rule: string;
  /** Why the format cannot carry it, and what would. */
  reason: string;
}

/** Throws for the shortfalls unless `allowWeaker`; returns the lines to list as dropped. */
export function settle(policy: Policy, format: string, shortfalls: readonly Shortfall[], allowWeaker: boolean): string[] {
  if (shortfalls.length === 0) return [];
  const lines = shortfalls.map((s) => `${s.rule}: ${s.reason}`);
  if (!allowWeaker) {
    throw new StockadeError('input', `${format} cannot express ${lines.join('; ')}; change the policy, or pass --allow-weaker to drop ${shortfalls.length === 1 ? 'it' : 'them'} (listed in the output)`, policy.source);
  }
  return lines;
}

function globComponent(pattern: string, literal: string): boolean {
  if (!pattern.includes('*')) return pattern === literal;
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return re.test(literal);
}

function components(path: string): string[] {
  return path.split('/').filter(Boolean);
}

/**
 * Hide patterns that name something strictly inside one of `mounts` (host paths bound into the
 * container): the container would see them, and a pattern can be neither expanded nor masked
 * without looking at the host. A pattern naming the mount itself is not listed (as in `stockade run`,
 * the grant wins) and one above a mount hides nothing the container sees.
 */
export function hiddenInsideMounts(hide: readonly string[], mounts: readonly string[]): Array<{ index: number; pattern: string; mount: string }> {
  const out: Array<{ index: number; pattern: string; mount: string }> = [];
  hide.forEach((pattern, index) => {
    const p = components(pattern);
    for (const mount of [...mounts].sort()) {
      const m = components(mount);
      if (p.length > m.length && m.every((c, i) => globComponent(p[i]!, c))) {
        out.push({ index, pattern, mount });
        break;
      }
    }
  });
  return out;
}

/**
 * Writable paths, as `stockade run` binds them (src/backends/native/plan-builder.ts): the policy's
 * filesystem.write, plus an explicit working directory when the root is the host's (and not /).
 */
export function writePaths(policy: Policy): string[] {
  const out = [...policy.filesystem.write];
  if (policy.filesystem.root === 'host' && policy.cwd !== undefined && policy.cwd !== '/') out.push(policy.cwd);
  return [...new Set(out)];
}

/** tmpfs paths, without those also writable (the grant wins, as in `stockade run`). */
export function tmpfsPaths(policy: Policy): string[] {
  const w = new Set(writePaths(policy));
  return [...new Set(policy.filesystem.tmpfs)].filter((t) => !w.has(t));
}

/** Read-only paths, without those also writable. */
export function readPaths(policy: Policy): string[] {
  const w = new Set(writePaths(policy));
  return [...new Set(policy.filesystem.read)].filter((r) => !w.has(r));
}

/** Capability names without the CAP_ prefix, sorted (Kubernetes' and Docker's spelling). */
export function capabilityNames(policy: Policy): string[] {
  return [...new Set(policy.capabilities.map((c) => c.replace(/^CAP_/, '')))].sort();
}

/** The identity the workload gets: the policy's, else nobody (as `stockade run` gives when started as root). */
export const NOBODY = 65534;
export function identity(policy: Policy): { uid: number; gid: number } {
  return policy.user ?? { uid: NOBODY, gid: NOBODY };
}

/** Environment variables to set, sorted by name. */
export function envEntries(policy: Policy): Array<[string, string]> {
  return Object.entries(policy.env.set).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
