/**
 * The compiler: a resolved filter -> a classic-BPF seccomp program.
 *
 *   ld arch; jeq ARCH_1 ? (ld nr; search tree 1) : jeq ARCH_2 ? ... : ret KILL_PROCESS
 *
 * x86_64 and x32 share AUDIT_ARCH_X86_64: their tree covers the whole 32-bit number space, with
 * numbers from 0x40000000 up dispatched as x32 when x32 is a target and killed otherwise (the x32
 * guard). Each leaf is a RET, or the argument checks of one syscall (conditions.ts).
 */
import { StockadeError } from '../errors.js';
import { RET } from './actions.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT, type Arch } from './arch.js';
import { MAX_INSNS, OP, SECCOMP_DATA, encodeProgram, type Insn } from './bpf.js';
import { compileSyscall } from './conditions.js';
import { buildTree, segmentsOf, type Region } from './dispatch.js';
import { Builder, type Node } from './ir.js';
import { layout } from './layout.js';
import type { Rule, SeccompFilter } from './rules.js';
import { syscallsOf } from './syscalls.js';

export interface CompiledFilter {
  program: Insn[];
  /** The program as struct sock_filter[] in host byte order. */
  bytes: Buffer;
  filter: SeccompFilter;
}

const U32_MAX = 0xffffffff;

const knownCache = new Map<Arch, number[]>();
function knownNumbers(arch: Arch): number[] {
  let k = knownCache.get(arch);
  if (!k) {
    k = syscallsOf(arch).map(([, nr]) => nr); // sorted by number
    knownCache.set(arch, k);
  }
  return k;
}

function regionFor(b: Builder, filter: SeccompFilter, arch: Arch, lo: number, hi: number): Region {
  const rules = filter.rules[arch] ?? [];
  const byNrRules = new Map<number, Rule[]>();
  for (const r of rules) {
    const list = byNrRules.get(r.nr);
    if (list) list.push(r);
    else byNrRules.set(r.nr, [r]);
  }
  const fill = b.ret(filter.defaultAction);
  const byNr = new Map<number, Node>();
  for (const [nr, list] of byNrRules) byNr.set(nr, compileSyscall(b, list, fill));
  return { lo, hi, byNr, fill, known: knownNumbers(arch) };
}

function killRegion(b: Builder, lo: number, hi: number): Region {
  return { lo, hi, byNr: new Map(), fill: b.ret(RET.KILL_PROCESS), known: [] };
}

/** The dispatch for everything that arrives with one AUDIT_ARCH value. */
function archSection(b: Builder, filter: SeccompFilter, auditArch: number): Node {
  const arches = filter.arches.filter((a) => AUDIT_ARCH[a] === auditArch);
  let regions: Region[];
  if (auditArch === AUDIT_ARCH.x86_64) {
    regions = [
      arches.includes('x86_64') ? regionFor(b, filter, 'x86_64', 0, X32_SYSCALL_BIT - 1) : killRegion(b, 0, X32_SYSCALL_BIT - 1),
      arches.includes('x32') ? regionFor(b, filter, 'x32', X32_SYSCALL_BIT, U32_MAX) : killRegion(b, X32_SYSCALL_BIT, U32_MAX),
    ];
  } else {
    regions = [regionFor(b, filter, arches[0]!, 0, U32_MAX)];
  }
  return b.ld(SECCOMP_DATA.nr, buildTree(b, segmentsOf(regions)));
}

/** Compiles a resolved filter. Throws a `limit` error past the kernel's 4096 instructions. */
export function compileFilter(filter: SeccompFilter, where = 'profile'): CompiledFilter {
  const b = new Builder();
  const audits = [...new Set(filter.arches.map((a) => AUDIT_ARCH[a]))];
  let chain: Node = b.ret(RET.KILL_PROCESS); // any arch the filter does not serve
  for (let i = audits.length - 1; i >= 0; i--) {
    chain = b.jmp('jeq', audits[i]!, archSection(b, filter, audits[i]!), chain);
  }
  const root = b.ld(SECCOMP_DATA.arch, chain);
  const program = layout(root);
  if (program.length > MAX_INSNS) {
    throw new StockadeError('limit', `the compiled filter has ${program.length} instructions; the kernel accepts at most ${MAX_INSNS}: drop argument conditions or split the profile`, where);
  }
  return { program, bytes: encodeProgram(program), filter };
}

/** Program statistics the benchmark and `seccomp explain` report. */
export function isCacheFriendly(ins: Insn): boolean {
  return ins.code === OP.LD_ABS ? ins.k === SECCOMP_DATA.nr || ins.k === SECCOMP_DATA.arch
    : [OP.JEQ, OP.JGT, OP.JGE, OP.JSET, OP.JA, OP.AND, OP.RET].includes(ins.code as never);
}
