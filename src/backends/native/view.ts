/**
 * Facts about the file system a run needs, gathered before planning: which granted paths exist,
 * what the hidden patterns expand to, where the program is. The planner itself touches nothing.
 */
import { accessSync, constants, lstatSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { StockadeError } from '../../errors.js';
import type { Policy } from '../../policy/types.js';

function kind(path: string): 'dir' | 'file' | undefined {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Expands `*` components against the host file system (e.g. /home/*\/.ssh). */
export function expandPattern(pattern: string): string[] {
  const parts = pattern.split('/').filter(Boolean);
  let found = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of found) {
      if (part.includes('*')) {
        const re = new RegExp(`^${part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
        let names: string[] = [];
        try {
          names = readdirSync(base);
        } catch {
          /* unreadable or absent */
        }
        for (const n of names.sort()) if (re.test(n)) next.push(join(base, n));
      } else next.push(join(base, part));
    }
    found = next;
  }
  return found.filter((p) => kind(p) !== undefined);
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/**
 * The concrete paths to hide. A hidden directory that contains a granted path (the working
 * directory under /root, say) is hidden entry by entry instead, down to the granted path, so the
 * grant stays reachable and everything beside it stays hidden.
 */
export function hiddenPaths(patterns: readonly string[], granted: readonly string[]): Array<{ path: string; dir: boolean }> {
  const out = new Map<string, boolean>();
  const hide = (p: string) => {
    const inside = granted.filter((g) => isUnder(g, p));
    if (inside.some((g) => g === p)) return; // the grant wins over the hide of the same path
    const k = kind(p);
    if (!k) return;
    if (inside.length === 0 || k !== 'dir') {
      out.set(p, k === 'dir');
      return;
    }
    let names: string[] = [];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const n of names.sort()) hide(join(p, n));
  };
  for (const pat of patterns) for (const p of expandPattern(pat)) hide(p);
  return [...out].map(([path, dir]) => ({ path, dir }));
}

/** The program's path inside the sandbox: as given when it has a slash, else found on PATH. */
export function resolveProgram(command: readonly string[], envPath: string | undefined, rootDir: string): string {
  const name = command[0];
  if (!name) throw new StockadeError('usage', 'no command to run; give one after --, or `command:` in the policy', 'command');
  if (name.includes('/')) return name;
  for (const dir of (envPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = posix.join(dir, name);
    const onHost = rootDir === '/' ? candidate : join(rootDir, candidate);
    try {
      if (statSync(onHost).isFile()) {
        accessSync(onHost, constants.X_OK);
        return candidate;
      }
    } catch {
      /* keep looking */
    }
  }
  throw new StockadeError('input', `command not found on PATH: ${name}`, 'command');
}

/** The workload's environment: the inherited names that are set, then the explicit values. */
export function buildEnv(policy: Policy, callerEnv: NodeJS.ProcessEnv): string[] {
  const env = new Map<string, string>();
  for (const name of policy.env.inherit) {
    const v = callerEnv[name];
    if (v !== undefined) env.set(name, v);
  }
  for (const [k, v] of Object.entries(policy.env.set)) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/bin:/usr/bin:/bin');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** Which of the policy's bind sources exist on the host; a missing required one is an error. */
export function existingPaths(policy: Policy, cwd: string): Set<string> {
  const out = new Set<string>();
  for (const p of policy.filesystem.read) if (kind(p)) out.add(p);
  for (const p of policy.filesystem.write) {
    if (!kind(p)) throw new StockadeError('input', `"${p}" does not exist; create it or remove it from filesystem.write`, 'filesystem.write');
    out.add(p);
  }
  if (kind(cwd)) out.add(cwd);
  return out;
}

/** The owner of a host path, or undefined when it does not exist. */
export function ownerOf(path: string): { uid: number; gid: number } | undefined {
  try {
    const st = statSync(path);
    return { uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}
