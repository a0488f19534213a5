/**
 * The seccomp program for a policy: the profile it names, resolved for this host and the kept
 * capabilities, with the violation action applied (src/seccomp/violation.ts), compiled.
 */
import { hostArch } from '../../seccomp/arch.js';
import { compileFilter } from '../../seccomp/compile.js';
import { loadPolicyProfile } from '../../policy/seccomp-profile.js';
import { resolveProfile } from '../../seccomp/resolve.js';
import { applyViolationAction } from '../../seccomp/violation.js';
import type { SyscallPolicy } from '../../policy/types.js';

/** The compiled program, or undefined for `unconfined`. */
export function seccompProgramFor(sc: SyscallPolicy, caps: readonly string[], kernel: [number, number]): Buffer | undefined {
  if (sc.profile === 'unconfined') return undefined;
  // Memoized by the caller (seccomp-cache.ts, in memory and on disk): this only compiles.
  const filter = resolveProfile(loadPolicyProfile(sc.profile), { native: hostArch(), caps, kernel });
  return compileFilter(applyViolationAction(filter, sc.onViolation), sc.profile).bytes;
}
