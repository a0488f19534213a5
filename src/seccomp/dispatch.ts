/**
 * Dispatch on the syscall number: the number space of one audit arch is cut into segments of equal
 * outcome, and a search tree of JGE comparisons over the segment boundaries leads to each outcome.
 * The tree is the optimal binary search tree for the segments' weights (how many known syscalls each
 * holds), so common outcomes sit near the root; plain outcomes are bare RETs, which keeps every
 * unconditional syscall eligible for the kernel's action cache (only nr loads, JGE/JEQ and RET on
 * its path).
 */
import type { Builder, Node } from './ir.js';

export interface Segment {
  lo: number; // first nr (u32)
  hi: number; // last nr (u32), inclusive
  node: Node;
  weight: number;
}

export interface Region {
  lo: number;
  hi: number;
  /** Outcome for the numbers that have one of their own. */
  byNr: ReadonlyMap<number, Node>;
  /** Outcome for every other number in [lo, hi]. */
  fill: Node;
  /** Known syscall numbers of the region's arch, sorted (for weighting). */
  known: readonly number[];
}

/** Splits regions (sorted, disjoint, together covering 0..2^32-1) into merged segments. */
export function segmentsOf(regions: readonly Region[]): Segment[] {
  const segs: Segment[] = [];
  const push = (lo: number, hi: number, node: Node, weight: number) => {
    const last = segs[segs.length - 1];
    if (last && last.node === node && last.hi + 1 === lo) {
      last.hi = hi;
      last.weight += weight;
    } else segs.push({ lo, hi, node, weight });
  };
  for (const r of regions) {
    let at = r.lo;
    const nrs = [...r.byNr.keys()].filter((n) => n >= r.lo && n <= r.hi).sort((a, b) => a - b);
    for (const nr of nrs) {
      if (nr > at) push(at, nr - 1, r.fill, countKnown(r.known, at, nr - 1));
      push(nr, nr, r.byNr.get(nr)!, countKnown(r.known, nr, nr));
      at = nr + 1;
    }
    if (at <= r.hi) push(at, r.hi, r.fill, countKnown(r.known, at, r.hi));
  }
  return segs;
}

/** How many of the sorted `known` numbers lie in [lo, hi]. */
function countKnown(known: readonly number[], lo: number, hi: number): number {
  return lowerBound(known, hi + 1) - lowerBound(known, lo);
}

function lowerBound(xs: readonly number[], v: number): number {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (xs[m]! < v) a = m + 1;
    else b = m;
  }
  return a;
}

/**
 * Instructions a leaf costs when reached (1 for a RET; for argument checks, the instructions run
 * with all-zero arguments), used to weigh leaves in the tree.
 */
function leafCost(n: Node): number {
  let cost = 0;
  let A = 0;
  for (let cur: Node = n; ; ) {
    cost++;
    switch (cur.t) {
      case 'ret': return cost;
      case 'ld': A = 0; cur = cur.next; break;
      case 'and': A = A & cur.k; cur = cur.next; break;
      case 'jmp': {
        const taken = cur.op === 'jeq' ? A === cur.k : cur.op === 'jgt' ? A > cur.k : cur.op === 'jge' ? A >= cur.k : (A & cur.k) !== 0;
        cur = taken ? cur.jt : cur.jf;
      }
    }
  }
}

/**
 * The search tree over `segs` (sorted, contiguous). Every segment gets a small floor weight so that
 * numbers outside the table (denied probes like nr 1000) still land at a reasonable depth.
 */
const LEAF_FACTOR = 4;
export function buildTree(b: Builder, segs: readonly Segment[]): Node {
  const n = segs.length;
  if (n === 1) return segs[0]!.node;
  // An expensive leaf (argument checks) weighs as much as the instructions it runs, so it is placed
  // high in the tree: that bounds the worst path, not just the mean.
  const lc = segs.map((s) => leafCost(s.node));
  const w = segs.map((s, i) => (s.weight + 0.25) * (lc[i]! > 1 ? lc[i]! * LEAF_FACTOR : 1));
  const leaf = w.map((wi, i) => wi * lc[i]!);
  const prefix = [0];
  for (const x of w) prefix.push(prefix[prefix.length - 1]! + x);
  const W = (i: number, j: number) => prefix[j + 1]! - prefix[i]!;
  // cost[i][j]: weighted instructions for segments i..j; root[i][j]: last segment of the left side.
  const cost: Float64Array[] = [];
  const root: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    cost.push(new Float64Array(n));
    root.push(new Int32Array(n));
    cost[i]![i] = leaf[i]!;
    root[i]![i] = i;
  }
  for (let len = 2; len <= n; len++) {
    for (let i = 0; i + len - 1 < n; i++) {
      const j = i + len - 1;
      // Knuth's bound: the optimal split moves monotonically, which keeps this quadratic.
      const lo = len === 2 ? i : root[i]![j - 1]!;
      const hi = len === 2 ? i : Math.min(root[i + 1]![j]!, j - 1);
      let best = Infinity;
      let bestK = lo;
      for (let k = lo; k <= hi; k++) {
        const c = cost[i]![k]! + cost[k + 1]![j]!;
        if (c < best) { best = c; bestK = k; }
      }
      cost[i]![j] = best + W(i, j);
      root[i]![j] = bestK;
    }
  }
  const make = (i: number, j: number): Node => {
    if (i === j) return segs[i]!.node;
    const k = root[i]![j]!;
    return b.jmp('jge', segs[k + 1]!.lo, make(k + 1, j), make(i, k));
  };
  return make(0, n - 1);
}
