/**
 * The seccomp program for a policy: the profile it names, resolved for this host and the kept
 * capabilities, with the violation action applied, compiled once per process and cached.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { StockadeError } from '../../errors.js';
import { actionValue, RET } from '../../seccomp/actions.js';
import { hostArch } from '../../seccomp/arch.js';
import { builtinProfile, isBuiltinName } from '../../seccomp/builtin.js';
import { compileFilter } from '../../seccomp/compile.js';
import { parseProfile, type SeccompProfile } from '../../seccomp/profile.js';
import { resolveProfile } from '../../seccomp/resolve.js';
import type { SeccompFilter } from '../../seccomp/rules.js';
import type { SyscallPolicy } from '../../policy/types.js';

const EPERM = actionValue('ERRNO', 1);
const cache = new Map<string, Buffer>();

function loadProfile(name: string): { profile: SeccompProfile; key: string } {
  if (isBuiltinName(name)) return { profile: builtinProfile(name, 'syscalls.profile'), key: name };
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read the seccomp profile: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, name);
  }
  return { profile: parseProfile(text, name), key: createHash('sha256').update(text).digest('hex') };
}

/**
 * `kill` turns the profile's plain denials (EPERM, the default) into KILL_PROCESS and `log` into
 * LOG (allowed and logged: an audit run). Other errnos (ENOSYS for clone3, EAFNOSUPPORT for socket
 * families) are how programs find a fallback, not violations, and stay.
 */
export function applyViolationAction(filter: SeccompFilter, onViolation: SyscallPolicy['onViolation']): SeccompFilter {
  if (onViolation === 'errno') return filter;
  const to = onViolation === 'kill' ? RET.KILL_PROCESS : RET.LOG;
  const swap = (a: number) => (a === EPERM ? to : a);
  const rules: SeccompFilter['rules'] = {};
  for (const [arch, list] of Object.entries(filter.rules)) {
    rules[arch as keyof SeccompFilter['rules']] = list!.map((r) => ({ ...r, action: swap(r.action) }));
  }
  return { ...filter, defaultAction: swap(filter.defaultAction), rules };
}

/** The compiled program, or undefined for `unconfined`. */
export function seccompProgramFor(sc: SyscallPolicy, caps: readonly string[], kernel: [number, number]): Buffer | undefined {
  if (sc.profile === 'unconfined') return undefined;
  const { profile, key } = loadProfile(sc.profile);
  const cacheKey = `${key}|${sc.onViolation}|${[...caps].sort().join(',')}|${kernel.join('.')}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const filter = resolveProfile(profile, { native: hostArch(), caps, kernel });
  const program = compileFilter(applyViolationAction(filter, sc.onViolation), sc.profile).bytes;
  cache.set(cacheKey, program);
  return program;
}
