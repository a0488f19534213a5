/** Syscall name <-> number lookups over the generated tables. */
import { SYSCALL_TABLES, OTHER_ARCH_SYSCALL_NAMES } from './tables.gen.js';
import type { Arch } from './arch.js';

const byName: Record<Arch, ReadonlyMap<string, number>> = {
  x86_64: new Map(Object.entries(SYSCALL_TABLES.x86_64)),
  x86: new Map(Object.entries(SYSCALL_TABLES.x86)),
  x32: new Map(Object.entries(SYSCALL_TABLES.x32)),
  aarch64: new Map(Object.entries(SYSCALL_TABLES.aarch64)),
};

const byNumber: Record<Arch, ReadonlyMap<number, string>> = {
  x86_64: invert(byName.x86_64),
  x86: invert(byName.x86),
  x32: invert(byName.x32),
  aarch64: invert(byName.aarch64),
};

function invert(m: ReadonlyMap<string, number>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, nr] of m) if (!out.has(nr)) out.set(nr, name);
  return out;
}

const allNames: ReadonlySet<string> = new Set([
  ...Object.values(byName).flatMap((m) => [...m.keys()]),
  ...OTHER_ARCH_SYSCALL_NAMES,
]);

/** The number of `name` on `arch` (x32 numbers include the x32 bit), or undefined if the arch lacks it. */
export function syscallNumber(arch: Arch, name: string): number | undefined {
  return byName[arch].get(name);
}

export function syscallName(arch: Arch, nr: number): string | undefined {
  return byNumber[arch].get(nr);
}

/** Every syscall of `arch`, sorted by number. */
export function syscallsOf(arch: Arch): Array<[string, number]> {
  return [...byName[arch]].sort((a, b) => a[1] - b[1]);
}

/** True when some Linux architecture has a syscall of this name. */
export function isKnownSyscall(name: string): boolean {
  return allNames.has(name);
}

/** The known syscall name closest to `name`, for "did you mean" hints. */
export function suggestSyscall(name: string): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const cand of allNames) {
    if (Math.abs(cand.length - name.length) >= bestDist) continue;
    const d = editDistance(name, cand);
    if (d < bestDist || (d === bestDist && best !== undefined && cand < best)) {
      best = cand;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}
