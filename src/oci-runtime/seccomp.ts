/**
 * linux.seccomp of a config compiled by stockade's compiler for this host, cached on disk by the
 * profile's content (src/host/cache.ts): an engine that creates many containers from one profile
 * compiles it once.
 */
import { release } from 'node:os';
import { cacheKey, readCache, writeCache } from '../host/cache.js';
import { hostArch } from '../seccomp/arch.js';
import type { SeccompProfile } from '../seccomp/profile.js';

/** SECCOMP_FILTER_FLAG_* by the names a profile's `flags` use (TSYNC is moot: one thread at exec). */
const FLAG_BITS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 0,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

export async function compileContainerSeccomp(profile: SeccompProfile, caps: readonly string[]): Promise<{ program: Buffer; flags: number }> {
  const flags = profile.flags.reduce((acc, f) => acc | (FLAG_BITS[f] ?? 0), 0);
  const { source: _source, ...content } = profile;
  const identity = JSON.stringify(content, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const kernel = release();
  const key = cacheKey('oci-seccomp-v1', identity, [...caps].sort().join(','), kernel, process.arch);
  const hit = readCache(`seccomp-${key}.bpf`);
  if (hit && hit.length > 0 && hit.length % 8 === 0) return { program: hit, flags };
  const [{ resolveProfile, parseKernelVersion }, { compileFilter }] = await Promise.all([import('../seccomp/resolve.js'), import('../seccomp/compile.js')]);
  const filter = resolveProfile(profile, { native: hostArch(), caps, kernel: parseKernelVersion(kernel, 'kernel release') });
  const program = compileFilter(filter, profile.source).bytes;
  writeCache(`seccomp-${key}.bpf`, program);
  return { program, flags };
}

/** stockade:default for the hardening layer (to-plan.ts), compiled for the process's bounding set. */
export async function compileStockadeDefault(caps: readonly string[]): Promise<Buffer> {
  const { builtinProfile } = await import('../seccomp/builtin.js');
  return (await compileContainerSeccomp(builtinProfile('stockade:default'), caps)).program;
}
