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

type Item =
  | { kind: 'node'; node: Node; farT?: boolean; farF?: boolean; fallJa?: boolean }
  | { kind: 'ja'; target: Node }
  | { kind: 'ret'; k: number };

/** Trampoline for a jump to `target`: a RET copy when the target is a RET, else a JA. */
function trampoline(target: Node): Item {
  return target.t === 'ret' ? { kind: 'ret', k: target.k } : { kind: 'ja', target };
}

export function layout(root: Node): Insn[] {
  const all = topoOrder(root);
  const known = knownA(all);
  const redundant = new Set(all.filter((n) => n.t === 'ld' && known.get(n.id) === n.off).map((n) => n.id));
  const alias = (n: Node): Node => {
    while (n.t === 'ld' && redundant.has(n.id)) n = n.next;
    return n;
  };
  const items: Item[] = all.filter((n) => !redundant.has(n.id)).map((node) => ({ kind: 'node', node }));

  for (;;) {
    const pos = new Map<number, number>();
    items.forEach((it, i) => { if (it.kind === 'node') pos.set(it.node.id, i); });
    const at = (n: Node) => pos.get(alias(n).id)!;
    let changed = false;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.kind !== 'node') continue;
      const n = it.node;
      if ((n.t === 'ld' || n.t === 'and') && !it.fallJa && at(n.next) !== i + 1) {
        it.fallJa = true;
        items.splice(i + 1, 0, { kind: 'ja', target: alias(n.next) });
        changed = true;
        break;
      }
      if (n.t === 'jmp') {
        if (!it.farT && at(n.jt) - i - 1 > MAX_COND_JUMP) {
          it.farT = true;
          items.splice(i + 1, 0, trampoline(alias(n.jt)));
          changed = true;
          break;
        }
        if (!it.farF && at(n.jf) - i - 1 > MAX_COND_JUMP) {
          it.farF = true;
          items.splice(i + 1 + (it.farT ? 1 : 0), 0, trampoline(alias(n.jf)));
          changed = true;
          break;
        }
      }
    }
    if (!changed) return emit(items, at);
  }
}

function emit(items: readonly Item[], at: (n: Node) => number): Insn[] {
  return items.map((it, i) => {
    if (it.kind === 'ret') return insn(OP.RET, it.k);
    if (it.kind === 'ja') return insn(OP.JA, at(it.target) - i - 1);
    const n = it.node;
    switch (n.t) {
      case 'ret': return insn(OP.RET, n.k);
      case 'ld': return insn(OP.LD_ABS, n.off);
      case 'and': return insn(OP.AND, n.k);
      case 'jmp': {
        const jt = it.farT ? 0 : at(n.jt) - i - 1;
        const jf = it.farF ? (it.farT ? 1 : 0) : at(n.jf) - i - 1;
        return insn(JUMP_CODE[n.op], n.k, jt, jf);
      }
    }
  });
}
