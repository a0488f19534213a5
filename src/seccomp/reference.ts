/**
 * The reference meaning of a resolved filter, evaluated directly (no BPF). Tests compare the
 * emulator running the compiled program with this, case by case.
 */
import { RET } from './actions.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT, type Arch } from './arch.js';
import type { SeccompData } from './emulate.js';
import { ruleMatches, sortBySpecificity, type Rule, type SeccompFilter } from './rules.js';

/** Which of the filter's arches a call belongs to, or undefined when the filter kills it as foreign. */
export function archOfCall(filter: SeccompFilter, arch: number, nr: number): Arch | undefined {
  const n = nr >>> 0;
  for (const a of filter.arches) {
    if (AUDIT_ARCH[a] !== arch >>> 0) continue;
    if (a === 'x86_64' && n < X32_SYSCALL_BIT) return a;
    if (a === 'x32' && n >= X32_SYSCALL_BIT) return a;
    if (a !== 'x86_64' && a !== 'x32') return a;
  }
  return undefined;
}

export function evaluate(filter: SeccompFilter, data: SeccompData): number {
  const arch = archOfCall(filter, data.arch, data.nr);
  if (arch === undefined) return RET.KILL_PROCESS;
  const nr = data.nr >>> 0;
  const candidates: Rule[] = (filter.rules[arch] ?? []).filter((r) => r.nr >>> 0 === nr);
  const args = data.args ?? [];
  const winner = sortBySpecificity(candidates).find((r) => ruleMatches(r, args));
  return winner ? winner.action : filter.defaultAction;
}
