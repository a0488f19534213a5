/**
 * What a resolved filter does with each syscall of an arch, in words: `seccomp explain` prints it and
 * `seccomp diff` compares two filters through it.
 */
import { formatAction } from './actions.js';
import type { Arch } from './arch.js';
import { ruleIsUnsatisfiable, sortBySpecificity, U64, type Cond, type Rule, type SeccompFilter } from './rules.js';
import { syscallsOf } from './syscalls.js';

export interface SyscallVerdict {
  name: string;
  nr: number;
  /** The rules that can decide, in winning order, as text (`args[0] & 0x7e020000 == 0 -> ALLOW`). */
  rules: string[];
  /** The action when no rule matches (the default action, or an unconditional rule's). */
  otherwise: string;
  /** A one-line summary: `ALLOW`, or `ALLOW if args[0] ... else ERRNO(1)`. */
  summary: string;
  conditional: boolean;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

export function describeCond(c: Cond): string {
  const a = `args[${c.index}]`;
  if (c.op === 'MASKED_EQ') return c.mask === U64 ? `${a} == ${hex(c.value)}` : `${a} & ${hex(c.mask)} == ${hex(c.value)}`;
  const sym = { EQ: '==', NE: '!=', LT: '<', LE: '<=', GT: '>', GE: '>=' }[c.op];
  return `${a} ${sym} ${hex(c.value)}`;
}

function describeRule(r: Rule): string {
  return `${r.conds.map(describeCond).join(' && ')} -> ${formatAction(r.action)}`;
}

/** The verdict structure of one syscall given its rules (mirrors conditions.ts's pruning). */
export function verdictOf(filter: SeccompFilter, rules: readonly Rule[], name: string, nr: number): SyscallVerdict {
  const live: Rule[] = [];
  let otherwise = filter.defaultAction;
  for (const r of sortBySpecificity(rules)) {
    if (ruleIsUnsatisfiable(r)) continue;
    if (r.conds.length === 0) {
      otherwise = r.action;
      break;
    }
    live.push(r);
  }
  while (live.length > 0 && live[live.length - 1]!.action === otherwise) live.pop();
  const text = live.map(describeRule);
  const other = formatAction(otherwise);
  const summary = live.length === 0 ? other
    : `${live.map((r) => `${formatAction(r.action)} if ${r.conds.map(describeCond).join(' && ')}`).join('; ')}; else ${other}`;
  return { name, nr, rules: text, otherwise: other, summary, conditional: live.length > 0 };
}

/** Every syscall of `arch` with what the filter does to it. */
export function explainFilter(filter: SeccompFilter, arch: Arch): SyscallVerdict[] {
  const rules = filter.rules[arch] ?? [];
  const byNr = new Map<number, Rule[]>();
  for (const r of rules) byNr.set(r.nr, [...(byNr.get(r.nr) ?? []), r]);
  if (!filter.arches.includes(arch)) {
    return syscallsOf(arch).map(([name, nr]) => ({ name, nr, rules: [], otherwise: 'KILL_PROCESS', summary: 'KILL_PROCESS (arch not in the filter)', conditional: false }));
  }
  return syscallsOf(arch).map(([name, nr]) => verdictOf(filter, byNr.get(nr) ?? [], name, nr));
}

export interface VerdictDiff {
  name: string;
  nr: number;
  a: string;
  b: string;
}

/** Syscalls of `arch` whose verdicts differ between two filters. */
export function diffFilters(a: SeccompFilter, b: SeccompFilter, arch: Arch): VerdictDiff[] {
  const vb = new Map(explainFilter(b, arch).map((v) => [v.nr, v]));
  const out: VerdictDiff[] = [];
  for (const va of explainFilter(a, arch)) {
    const other = vb.get(va.nr)!;
    if (va.summary !== other.summary) out.push({ name: va.name, nr: va.nr, a: va.summary, b: other.summary });
  }
  return out;
}
