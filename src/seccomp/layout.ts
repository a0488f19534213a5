/**
 * Turning the IR DAG into a linear classic-BPF program: drop loads of a word A already holds, order
 * nodes parents-first with fall-throughs adjacent, then resolve jumps. Conditional jumps reach at
 * most 255 instructions ahead; a farther target gets a copy of its RET (when it is one) or a JA
 * trampoline right after the jump, repeated until every jump fits.
 */
import { insn, OP, type Insn } from './bpf.js';
import { topoOrder, type Node } from './ir.js';

const JUMP_CODE = { jeq: OP.JEQ, jgt: OP.JGT, jge: OP.JGE, jset: OP.JSET } as const;
const MAX_COND_JUMP = 255;

/** For each node, the word offset A holds on entry when every path agrees; undefined otherwise. */
function knownA(order: readonly Node[]): Map<number, number | undefined> {
  const entry = new Map<number, number | undefined>();
  const meet = (id: number, v: number | undefined) => {
    if (!entry.has(id)) entry.set(id, v);
    else if (entry.get(id) !== v) entry.set(id, undefined);
  };
  entry.set(order[0]!.id, undefined);
  for (const n of order) {
    const a = entry.get(n.id);
    if (n.t === 'ld') meet(n.next.id, n.off);
    else if (n.t === 'and') meet(n.next.id, undefined);
    else if (n.t === 'jmp') {
      meet(n.jt.id, a);
      meet(n.jf.id, a);
    }
  }
  return entry;
}

/** A node and the trampolines laid out right after it (for jt, then for jf, or a fall-through JA). */
interface Slot {
  node: Node;
  farT?: Node;
  farF?: Node;
  fallJa?: Node;
}

function size(s: Slot): number {
  return 1 + (s.farT ? 1 : 0) + (s.farF ? 1 : 0) + (s.fallJa ? 1 : 0);
}

export function layout(root: Node): Insn[] {
  const all = topoOrder(root);
  const known = knownA(all);
  const redundant = new Set(all.filter((n) => n.t === 'ld' && known.get(n.id) === n.off).map((n) => n.id));
  const alias = (n: Node): Node => {
    while (n.t === 'ld' && redundant.has(n.id)) n = n.next;
    return n;
  };
  const slots: Slot[] = all.filter((n) => !redundant.has(n.id)).map((node) => ({ node }));
  // Each pass finds every jump that does not fit under the current positions and gives it a
  // trampoline; trampolines only lengthen jumps, so a few passes reach a fixed point.
  for (;;) {
    const pos = new Map<number, number>();
    let at = 0;
    for (const s of slots) {
      pos.set(s.node.id, at);
      at += size(s);
    }
    const where = (n: Node) => pos.get(alias(n).id)!;
    let changed = false;
    for (const s of slots) {
      const i = pos.get(s.node.id)!;
      const n = s.node;
      if ((n.t === 'ld' || n.t === 'and') && !s.fallJa && where(n.next) !== i + 1) {
        s.fallJa = alias(n.next);
        changed = true;
      } else if (n.t === 'jmp') {
        if (!s.farT && where(n.jt) - i - 1 > MAX_COND_JUMP) {
          s.farT = alias(n.jt);
          changed = true;
        }
        if (!s.farF && where(n.jf) - i - 1 > MAX_COND_JUMP) {
          s.farF = alias(n.jf);
          changed = true;
        }
      }
    }
    if (!changed) return emit(slots, where, pos);
  }
}

/** A trampoline to `target`: a copy of its RET when it is one (one instruction fewer to run), else a JA. */
function trampoline(target: Node, at: number, where: (n: Node) => number): Insn {
  return target.t === 'ret' ? insn(OP.RET, target.k) : insn(OP.JA, where(target) - at - 1);
}

function emit(slots: readonly Slot[], where: (n: Node) => number, pos: Map<number, number>): Insn[] {
  const out: Insn[] = [];
  for (const s of slots) {
    const i = pos.get(s.node.id)!;
    const n = s.node;
    switch (n.t) {
      case 'ret': out.push(insn(OP.RET, n.k)); break;
      case 'ld': out.push(insn(OP.LD_ABS, n.off)); break;
      case 'and': out.push(insn(OP.AND, n.k)); break;
      case 'jmp': {
        const jt = s.farT ? 0 : where(n.jt) - i - 1;
        const jf = s.farF ? (s.farT ? 1 : 0) : where(n.jf) - i - 1;
        out.push(insn(JUMP_CODE[n.op], n.k, jt, jf));
      }
    }
    let at = i + 1;
    for (const t of [s.farT, s.farF, s.fallJa]) {
      if (t) out.push(trampoline(t, at++, where));
    }
  }
  return out;
}
