/**
 * Compiling one syscall's rules into IR: 64-bit argument comparisons out of 32-bit BPF words, in the
 * order that makes the first matching rule the winner (rules.ts). When several rules compare the
 * same argument with values below 2^32 (socket families, personality values, clone flags), the high
 * word is tested once and the rules continue on the low word alone.
 */
import { argWordOffset } from './bpf.js';
import type { Builder, Node } from './ir.js';
import { ruleIsUnsatisfiable, sortBySpecificity, U64, type Cond, type Rule } from './rules.js';

const LO = 0xffffffffn;

interface WordCond extends Cond {
  /** True when only the low 32 bits are compared (the high word is known to be zero, or masked out). */
  lo32: boolean;
}

interface Alt {
  conds: WordCond[];
  action: number;
}

function toWord(c: Cond): WordCond {
  const maskedLowOnly = c.op === 'MASKED_EQ' && c.mask >> 32n === 0n;
  return { ...c, lo32: maskedLowOnly };
}

/** The IR for one syscall: its rules in winning order, falling back to `fallback`. */
export function compileSyscall(b: Builder, rules: readonly Rule[], fallback: Node): Node {
  let alts: Alt[] = [];
  let tail = fallback;
  for (const r of sortBySpecificity(rules)) {
    if (ruleIsUnsatisfiable(r)) continue;
    if (r.conds.length === 0) {
      tail = b.ret(r.action); // always matches: nothing after it can win
      break;
    }
    alts.push({ conds: r.conds.map(toWord), action: r.action });
  }
  // Rules at the end that return what falling through returns change nothing.
  while (alts.length > 0 && tail.t === 'ret' && alts[alts.length - 1]!.action === tail.k) alts = alts.slice(0, -1);
  return compileAlts(b, alts, tail);
}

function compileAlts(b: Builder, alts: readonly Alt[], tail: Node): Node {
  if (alts.length === 0) return tail;
  if (alts[0]!.conds.length === 0) return b.ret(alts[0]!.action);
  const split = splitCandidate(alts);
  if (split !== undefined) {
    // Each split removes the full-width conditions on one argument, so this recursion is at most
    // six levels deep.
    const zero = compileAlts(b, specialize(alts, split, true), tail);
    const nonzero = compileAlts(b, specialize(alts, split, false), tail);
    return b.ld(argWordOffset(split, true), b.jmp('jeq', 0, zero, nonzero));
  }
  // A plain chain, built from the last rule back (iteratively: profiles may hold thousands of rules).
  let node = tail;
  for (let i = alts.length - 1; i >= 0; i--) {
    const alt = alts[i]!;
    let n = b.ret(alt.action);
    const conds = [...alt.conds].sort((x, y) => x.index - y.index || Number(x.lo32) - Number(y.lo32));
    for (let j = conds.length - 1; j >= 0; j--) n = compileCond(b, conds[j]!, n, node);
    node = n;
  }
  return node;
}

/** An argument compared by two or more full-width conditions whose high words are all zero. */
function splitCandidate(alts: readonly Alt[]): number | undefined {
  for (let i = 0; i < 6; i++) {
    const full = alts.flatMap((a) => a.conds.filter((c) => c.index === i && !c.lo32));
    if (full.length >= 2 && full.every((c) => c.op !== 'MASKED_EQ' && c.value >> 32n === 0n)) return i;
  }
  return undefined;
}

/** The rules once the high word of argument `index` is known to be zero (or known not to be). */
function specialize(alts: readonly Alt[], index: number, hiZero: boolean): Alt[] {
  const out: Alt[] = [];
  for (const a of alts) {
    const conds: WordCond[] = [];
    let possible = true;
    for (const c of a.conds) {
      if (c.index !== index || c.lo32) conds.push(c);
      else if (hiZero) conds.push({ ...c, lo32: true });
      else if (c.op === 'EQ' || c.op === 'LT' || c.op === 'LE') possible = false; // arg >= 2^32 > value
      // NE, GT, GE hold for every arg >= 2^32 when value < 2^32: the condition drops out.
    }
    if (possible) out.push({ conds, action: a.action });
  }
  return out;
}

/** One comparison of the 32-bit word in A against k, as IR that goes to T when it holds. */
function cmp32(b: Builder, op: Cond['op'], k: number, T: Node, F: Node): Node {
  switch (op) {
    case 'EQ': return b.jmp('jeq', k, T, F);
    case 'NE': return b.jmp('jeq', k, F, T);
    case 'LT': return b.jmp('jge', k, F, T);
    case 'LE': return b.jmp('jgt', k, F, T);
    case 'GT': return b.jmp('jgt', k, T, F);
    case 'GE': return b.jmp('jge', k, T, F);
    case 'MASKED_EQ': throw new Error('cmp32: MASKED_EQ is compiled by maskedEq');
  }
}

/** (A & mask) == datum, using JSET where it saves the AND. */
function maskedEq(b: Builder, mask: number, datum: number, T: Node, F: Node): Node {
  if (mask === 0) return T;
  if (datum === 0) return b.jmp('jset', mask, F, T);
  if (datum === mask && (mask & (mask - 1)) === 0) return b.jmp('jset', mask, T, F);
  return mask === 0xffffffff ? b.jmp('jeq', datum, T, F) : b.and(mask, b.jmp('jeq', datum, T, F));
}

function compileCond(b: Builder, c: WordCond, T: Node, F: Node): Node {
  const lo = Number(c.value & LO);
  const hi = Number(c.value >> 32n);
  const ldLo = (n: Node) => b.ld(argWordOffset(c.index, false), n);
  const ldHi = (n: Node) => b.ld(argWordOffset(c.index, true), n);
  if (c.op === 'MASKED_EQ') {
    const low = ldLo(maskedEq(b, Number(c.mask & LO), lo, T, F));
    if (c.lo32 || c.mask >> 32n === 0n) return low;
    return ldHi(maskedEq(b, Number(c.mask >> 32n), hi, low, F));
  }
  const low = ldLo(cmp32(b, c.op, lo, T, F));
  if (c.lo32) return low;
  switch (c.op) {
    case 'EQ': return ldHi(b.jmp('jeq', hi, low, F));
    case 'NE': return ldHi(b.jmp('jeq', hi, low, T));
    case 'GT':
    case 'GE':
      // hi > hv: holds; hi < hv: fails; equal: decided by the low word.
      return ldHi(b.jmp('jgt', hi, T, b.jmp('jeq', hi, low, F)));
    case 'LT':
    case 'LE':
      return ldHi(b.jmp('jgt', hi, F, b.jmp('jeq', hi, low, T)));
  }
}

export { U64 };
