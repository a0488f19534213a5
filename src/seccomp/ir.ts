/**
 * The compiler's intermediate form: a DAG of BPF operations with symbolic successors. Nodes are
 * hash-consed, so equal code is shared (every identical RET exists once) and jumps whose two
 * successors are equal, or whose outcome is fixed by the constant, disappear as they are built.
 */
export type JumpOp = 'jeq' | 'jgt' | 'jge' | 'jset';

export type Node =
  | { readonly t: 'ret'; readonly id: number; readonly k: number }
  | { readonly t: 'ld'; readonly id: number; readonly off: number; readonly next: Node }
  | { readonly t: 'and'; readonly id: number; readonly k: number; readonly next: Node }
  | { readonly t: 'jmp'; readonly id: number; readonly op: JumpOp; readonly k: number; readonly jt: Node; readonly jf: Node };

export class Builder {
  private readonly nodes = new Map<string, Node>();
  private nextId = 0;

  private intern<T extends Node>(key: string, make: (id: number) => T): T {
    const found = this.nodes.get(key);
    if (found) return found as T;
    const n = make(this.nextId++);
    this.nodes.set(key, n);
    return n;
  }

  ret(k: number): Node {
    const kk = k >>> 0;
    return this.intern(`r${kk}`, (id) => ({ t: 'ret', id, k: kk }));
  }

  ld(off: number, next: Node): Node {
    // A load whose value nobody reads (the next node returns a constant) is dead.
    if (next.t === 'ret') return next;
    return this.intern(`l${off},${next.id}`, (id) => ({ t: 'ld', id, off, next }));
  }

  and(k: number, next: Node): Node {
    const kk = k >>> 0;
    if (next.t === 'ret') return next;
    return this.intern(`a${kk},${next.id}`, (id) => ({ t: 'and', id, k: kk, next }));
  }

  jmp(op: JumpOp, k: number, jt: Node, jf: Node): Node {
    const kk = k >>> 0;
    if (jt === jf) return jt;
    if (op === 'jge' && kk === 0) return jt; // A >= 0 always
    if (op === 'jgt' && kk === 0xffffffff) return jf; // A > 0xffffffff never
    if (op === 'jset' && kk === 0) return jf; // A & 0 never set
    return this.intern(`j${op}${kk},${jt.id},${jf.id}`, (id) => ({ t: 'jmp', id, op, k: kk, jt, jf }));
  }
}

/** Every node reachable from `root`, parents before children (reverse post-order, fall-through first). */
export function topoOrder(root: Node): Node[] {
  const seen = new Set<number>();
  const post: Node[] = [];
  // Iterative DFS: children pushed so that jf (the fall-through) is laid out right after its parent.
  const stack: Array<{ n: Node; expanded: boolean }> = [{ n: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      post.push(top.n);
      continue;
    }
    if (seen.has(top.n.id)) continue;
    seen.add(top.n.id);
    stack.push({ n: top.n, expanded: true });
    const kids = successors(top.n);
    // Visited last = finished first = placed last; visit jt before jf so jf ends up right after.
    for (const c of kids) if (!seen.has(c.id)) stack.push({ n: c, expanded: false });
  }
  return post.reverse();
}

export function successors(n: Node): Node[] {
  switch (n.t) {
    case 'ret': return [];
    case 'ld':
    case 'and': return [n.next];
    case 'jmp': return [n.jf, n.jt];
  }
}
