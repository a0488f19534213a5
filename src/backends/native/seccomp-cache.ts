/**
 * Compiled seccomp programs, cached on disk between runs (src/host/cache.ts) and in memory within
 * one. The compiler and the profile modules load only on a miss: a cached `stockade run` never
 * pays for them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { StockadeError } from '../../errors.js';
import { cacheKey, readCache, writeCache } from '../../host/cache.js';
import type { SyscallPolicy } from '../../policy/types.js';

const memory = new Map<string, Buffer>();
let stamp: string | undefined;

/** Changes whenever any compiled seccomp module or the built-in profile changes. */
function compilerStamp(): string {
  if (stamp) return stamp;
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'seccomp');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.js')) continue;
    const st = statSync(join(dir, f));
    h.update(`${f}:${st.size}:${st.mtimeMs}\n`);
  }
  stamp = h.digest('hex');
  return stamp;
}

function profileIdentity(name: string): string {
  if (name.startsWith('stockade:')) return name;
  try {
    return createHash('sha256').update(readFileSync(name)).digest('hex');
  } catch (e) {
    throw new StockadeError('io', `cannot read the seccomp profile: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, name);
  }
}

/** The program for the policy's syscall rules on this host, or undefined for `unconfined`. */
export async function seccompProgram(sc: SyscallPolicy, caps: readonly string[], kernel: [number, number]): Promise<Buffer | undefined> {
  if (sc.profile === 'unconfined') return undefined;
  const key = cacheKey(compilerStamp(), profileIdentity(sc.profile), sc.onViolation, [...caps].sort().join(','), kernel.join('.'), process.arch);
  const hit = memory.get(key) ?? readCache(`seccomp-${key}.bpf`);
  if (hit && hit.length > 0 && hit.length % 8 === 0) {
    memory.set(key, hit);
    return hit;
  }
  const { seccompProgramFor } = await import('./seccomp-for-policy.js');
  const program = seccompProgramFor(sc, caps, kernel)!;
  memory.set(key, program);
  writeCache(`seccomp-${key}.bpf`, program);
  return program;
}
