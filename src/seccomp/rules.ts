/**
 * The meaning of a resolved seccomp filter, shared by the reference evaluator and the compiler.
 *
 * A syscall's rules are conjunctions of 64-bit argument conditions. When several rules match one
 * call, the most specific rule wins: the one whose conditions admit the fewest argument tuples
 * (a rule with no conditions is the least specific). Ties go to the more restrictive action, then to
 * the rule written first. This reproduces libseccomp's results where its rules nest (a narrower range
 * on the same argument overrides a wider one) and makes "allow ioctl, but ERRNO for TIOCSTI" mean
 * what its author meant, whatever order the rules were written in.
 */
import { restrictiveness } from './actions.js';
import type { CmpOp } from './profile.js';
import type { Arch } from './arch.js';

export const U64 = (1n << 64n) - 1n;

export interface Cond {
  index: number; // argument 0..5
  op: CmpOp;
  /** The datum. For MASKED_EQ it is already masked: the condition is (arg & mask) == value. */
  value: bigint;
  /** For MASKED_EQ the mask; U64 otherwise. */
  mask: bigint;
}

export interface Rule {
  nr: number;
  name: string;
  /** The 32-bit SECCOMP_RET_* value. */
  action: number;
  conds: Cond[];
  /** Position in the profile, for the last tie-break and for messages. */
  order: number;
  source: string;
}

export interface SeccompFilter {
  /** The arches the filter lets through; the first is the native one. Any other arch is killed. */
  arches: Arch[];
  defaultAction: number;
  rules: Partial<Record<Arch, Rule[]>>;
  flags: string[];
  listenerPath?: string;
}

export function condHolds(c: Cond, arg: bigint): boolean {
  switch (c.op) {
    case 'EQ': return arg === c.value;
    case 'NE': return arg !== c.value;
    case 'LT': return arg < c.value;
    case 'LE': return arg <= c.value;
    case 'GT': return arg > c.value;
    case 'GE': return arg >= c.value;
    case 'MASKED_EQ': return (arg & c.mask) === c.value;
  }
}

export function ruleMatches(r: Rule, args: readonly bigint[]): boolean {
  return r.conds.every((c) => condHolds(c, args[c.index] ?? 0n));
}

function popcount(x: bigint): number {
  let n = 0;
  for (; x; x &= x - 1n) n++;
  return n;
}

/** How many 64-bit values satisfy one condition. */
function condMeasure(c: Cond): bigint {
  const all = U64 + 1n;
  switch (c.op) {
    case 'EQ': return 1n;
    case 'NE': return U64;
    case 'LT': return c.value;
    case 'LE': return c.value + 1n;
    case 'GT': return U64 - c.value;
    case 'GE': return all - c.value;
    case 'MASKED_EQ': return (c.value & ~c.mask) !== 0n ? 0n : 1n << BigInt(64 - popcount(c.mask));
  }
}

/**
 * The specificity of a rule: the product over the six arguments of the number of values the rule
 * admits for it (for several conditions on one argument, the smallest of their counts). Smaller is
 * more specific.
 */
const FULL_MEASURE = (U64 + 1n) ** 6n;

export function ruleMeasure(r: Rule): bigint {
  if (r.conds.length === 0) return FULL_MEASURE;
  let m = 1n;
  for (let i = 0; i < 6; i++) {
    let best = U64 + 1n;
    for (const c of r.conds) if (c.index === i) {
      const cm = condMeasure(c);
      if (cm < best) best = cm;
    }
    m *= best;
  }
  return m;
}

/** Orders rules so that the first matching one is the winner (see the module comment). */
export function sortBySpecificity(rules: readonly Rule[]): Rule[] {
  const keyed = rules.map((r) => ({ r, m: ruleMeasure(r) }));
  keyed.sort((a, b) =>
    a.m < b.m ? -1 : a.m > b.m ? 1
      : restrictiveness(a.r.action) - restrictiveness(b.r.action) || a.r.order - b.r.order);
  return keyed.map((k) => k.r);
}

/** True when no argument tuple can satisfy the rule (for example LT 0, or conflicting EQs). */
export function ruleIsUnsatisfiable(r: Rule): boolean {
  if (r.conds.length === 0) return false;
  if (ruleMeasure(r) === 0n) return true;
  for (let i = 0; i < 6; i++) {
    const eqs = r.conds.filter((c) => c.index === i && c.op === 'EQ');
    if (eqs.length === 0) continue;
    const v = eqs[0]!.value;
    if (r.conds.some((c) => c.index === i && !condHolds(c, v))) return true;
  }
  return false;
}
