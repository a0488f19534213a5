/**
 * The seccomp program for a policy: the profile it names, resolved for this host and the kept
 * capabilities, with the violation action applied (src/seccomp/violation.ts), compiled.
 */
import { readFileSync } from 'node:fs';
import { StockadeError } from '../../errors.js';
import { hostArch } from '../../seccomp/arch.js';
import { builtinProfile, isBuiltinName } from '../../seccomp/builtin.js';
import { compileFilter } from '../../seccomp/compile.js';
import { parseProfile, type SeccompProfile } from '../../seccomp/profile.js';
import { resolveProfile } from '../../seccomp/resolve.js';
import { applyViolationAction } from '../../seccomp/violation.js';
import type { SyscallPolicy } from '../../policy/types.js';


function loadProfile(name: string): SeccompProfile {
  if (isBuiltinName(name)) return builtinProfile(name, 'syscalls.profile');
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read the seccomp profile: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, name);
  }
  return parseProfile(text, name);
}

/** The compiled program, or undefined for `unconfined`. */
export function seccompProgramFor(sc: SyscallPolicy, caps: readonly string[], kernel: [number, number]): Buffer | undefined {
  if (sc.profile === 'unconfined') return undefined;
  // Memoized by the caller (seccomp-cache.ts, in memory and on disk): this only compiles.
  const filter = resolveProfile(loadProfile(sc.profile), { native: hostArch(), caps, kernel });
  return compileFilter(applyViolationAction(filter, sc.onViolation), sc.profile).bytes;
}
