// Differential test of the seccomp compiler against libseccomp 2.5.4 (Debian's python3-seccomp, run
// through test/oracle/libseccomp_export.py). Random profiles are compiled by both; both programs run in
// stockade's BPF emulator on the same seccomp_data inputs and must return the same 32-bit verdict.
//
// Only profiles on which the two tools agree are generated. Where they legitimately differ, or where
// libseccomp 2.5.4 is wrong, generation avoids the case (each one is marked "EXCLUDED" below):
//   - one action per syscall: with several actions on one syscall libseccomp resolves the conflict its
//     own way, stockade by specificity (rules.ts);
//   - a rule whose action is the default action: libseccomp refuses it (EACCES). It is a no-op for
//     stockade (every rule of that syscall returns the default), so stockade's profile keeps it and the
//     oracle's request leaves it out;
//   - two conditions on one argument in one rule: libseccomp refuses them (EINVAL);
//   - ERRNO data of 4095 and more: libseccomp refuses it (MAX_ERRNO), stockade passes the 16-bit datum
//     and the kernel clamps it; generated errnos stay below 4095;
//   - 32-bit arches: on x86 and x32 libseccomp compares only the low 32 bits of an argument (and of the
//     datum), stockade the full 64-bit seccomp_data value. The kernel zero-extends i386 arguments, so
//     both are right on real i386 calls (on x32 stockade is the stricter one); profiles with x86/x32
//     use values whose high word is 0 and the x86/x32 inputs have argument high words of 0;
//   - syscall names: libseccomp 2.5.4's tables lag the kernel (it does not know mseal, ...) and it
//     rewrites i386 socket(2) & co. to the socketcall/ipc multiplexers; only names whose number is the
//     same in both tables on every arch of the profile are used;
//   - foreign arches: libseccomp kills them with KILL (thread) by default, stockade with KILL_PROCESS;
//     the oracle sets ACT_BADARCH to KILL_PROCESS;
//   - syscall nr -1 (0xffffffff) under AUDIT_ARCH_X86_64: libseccomp lets it through to the default
//     action (tracers use it to skip a call), stockade kills it as an x32 number when x32 is not a
//     target; no input uses it;
//   - libseccomp 2.5.4 bugs with several rules of one syscall on one argument: when one rule compares
//     an argument with LT/LE/GT/GE/NE and another rule compares the same argument, libseccomp merges
//     one rule's sub-tree into the other's range (wrong verdicts, see genProfile) or loops forever;
//     such arguments are compared with EQ / MASKED_EQ only. Its BPF generator can also compare a stale
//     accumulator (see staleCompares): differences on such paths are counted, not failed.
//
// STOCKADE_DIFF_SEED=<n> replays a run; every failure message prints the seed. STOCKADE_DIFF_DUMP=FILE
// writes the last request sent to the oracle, for replaying it by hand.
import { Rng } from './support/random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '../src/json-exact.js';
import { profileFromJson, type CmpOp } from '../src/seccomp/profile.js';
import { resolveProfile } from '../src/seccomp/resolve.js';
import { compileFilter } from '../src/seccomp/compile.js';
import { checkProgram, emulate, type SeccompData } from '../src/seccomp/emulate.js';
import { BPF, decodeProgram, type Insn } from '../src/seccomp/bpf.js';
import { evaluate } from '../src/seccomp/reference.js';
import { actionValue, formatAction, type ActionKind } from '../src/seccomp/actions.js';
import { syscallNumber, syscallsOf } from '../src/seccomp/syscalls.js';
import type { Arch } from '../src/seccomp/arch.js';
import type { SeccompFilter } from '../src/seccomp/rules.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = '/usr/bin/python3';
const ORACLE = join(root, 'test', 'oracle', 'libseccomp_export.py');

const PROFILES = 480;
const MIN_COMPARISONS = 100_000;
const U64 = (1n << 64n) - 1n;
const LO = 0xffffffffn;
const AUDIT_X86_64 = 0xc000003e;
const AUDIT_I386 = 0x40000003;
const AUDIT_AARCH64 = 0xc00000b7;
const X32_BIT = 0x40000000;
const ALL3: Arch[] = ['x86_64', 'x86', 'x32'];

// ---------------------------------------------------------------------------------------------
// Generated profiles

interface Act {
  kind: ActionKind;
  data: number;
}
interface GCond {
  index: number;
  op: CmpOp;
  /** The datum (for MASKED_EQ possibly with bits outside the mask: both tools mask it). */
  value: bigint;
  /** MASKED_EQ only. */
  mask: bigint;
}
interface GSyscall {
  name: string;
  action: Act;
  rules: GCond[][];
}
interface GProfile {
  dflt: Act;
  arches: Arch[];
  /** How stockade gets the arches: the profile's `architectures`, or the target's `arches`. */
  archesVia: 'profile' | 'target';
  syscalls: GSyscall[];
  /** Compile with libseccomp's binary tree as well as its linear list. */
  tree: boolean;
}

const BOUNDARY: readonly bigint[] = [
  0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n,
  0x7fffffffffffffffn, 1n << 63n, (1n << 63n) + 1n, U64 - 1n, U64,
];
const MASKS: readonly bigint[] = [
  0xffffffffn, 0xffffffff00000000n, U64, 0xffn, 0xff00n, 0x80000000n, 1n << 63n, 0x8000000080000000n,
  0xf0f0f0f0f0f0f0f0n, 0x00000000fffff000n, 0x0000ffffffff0000n, 1n, 0n,
];
const OPS: readonly CmpOp[] = ['EQ', 'NE', 'LT', 'LE', 'GT', 'GE', 'MASKED_EQ'];

const ACT_KINDS: readonly ActionKind[] = ['ALLOW', 'ERRNO', 'KILL_PROCESS', 'KILL_THREAD', 'TRAP', 'LOG', 'TRACE'];

function randomAct(rng: Rng): Act {
  const kind = rng.pick(ACT_KINDS);
  // EXCLUDED: ERRNO data from 4095 up (libseccomp refuses it as above MAX_ERRNO; stockade passes any
  // 16-bit datum and the kernel clamps it). TRACE data may use all 16 bits in both.
  const data = kind === 'ERRNO' ? rng.pick([0, 1, 1, 13, 38, rng.int(4095), 4094])
    : kind === 'TRACE' ? rng.pick([0, 1, 13, rng.int(4096), rng.int(65536), 65535])
    : 0;
  return { kind, data };
}

const actU32 = (a: Act): number => actionValue(a.kind, a.data);

class ValueGen {
  private seen: bigint[] = [];
  constructor(private rng: Rng, private hiZero: boolean) {}
  private keep(v: bigint): bigint {
    v &= this.hiZero ? LO : U64;
    this.seen.push(v);
    return v;
  }
  value(): bigint {
    const r = this.rng;
    const x = r.int(100);
    if (x < 35) return this.keep(r.pick(BOUNDARY));
    if (x < 50) return this.keep(BigInt(r.int(17)));
    if (x < 65) return this.keep(r.u64());
    if (x < 75) return this.keep((BigInt(r.pick([0, 1, 0xffffffff, 0x80000000])) << 32n) | BigInt(r.u32()));
    if (this.seen.length > 0) {
      // Share the high or the low word with a value already in this profile.
      const old = r.pick(this.seen);
      return this.keep(r.chance(0.5) ? (old & ~LO) | BigInt(r.u32()) : (r.u64() & ~LO) | (old & LO));
    }
    return this.keep(r.u64());
  }
  mask(): bigint {
    const r = this.rng;
    const x = r.int(100);
    if (x < 50) return r.pick(MASKS);
    if (x < 70) return 1n << BigInt(r.int(64));
    if (x < 85) return r.u64();
    return BigInt(r.u32()); // masks stay 64-bit even on 32-bit arches: the argument's high word is 0
  }
}

function genProfile(rng: Rng, index: number, pool64: readonly string[], pool3: readonly string[]): GProfile {
  const multi = index % 4 === 3;
  const arches: Arch[] = multi ? ALL3 : ['x86_64'];
  const vals = new ValueGen(rng, multi); // EXCLUDED: high words on 32-bit arches (see the top)
  const dflt = randomAct(rng);
  const names = rng.shuffle([...(multi ? pool3 : pool64)]).slice(0, 1 + rng.int(rng.chance(0.3) ? 24 : 8));
  const syscalls: GSyscall[] = names.map((name) => {
    // EXCLUDED: conflicting actions on one syscall. A rule with the default action is kept (see the top).
    let action = randomAct(rng);
    if (actU32(action) === actU32(dflt) && !rng.chance(0.1)) action = randomAct(rng);
    const nRules = rng.pick([1, 1, 2, 2, 3, 4, 6]);
    const rules: GCond[][] = [];
    // EXCLUDED: an argument that one rule compares with LT/LE/GT/GE/NE and another rule of the same
    // syscall compares at all. libseccomp 2.5.4 gets such rule sets wrong (it merges one rule's
    // sub-tree into the other's range, e.g. wait4 "a0 >= 13 && a5 == X" or "a0 > 0xffffffff && a1 < 3":
    // a0 = 0xffffffff, a1 = 1 matches under libseccomp), or loops forever (the same LT/LE/GT/GE/NE
    // comparison in two rules, each with more comparisons). Arguments compared by several rules are
    // compared with EQ or MASKED_EQ in all of them.
    const cond = (index: number, op: CmpOp): GCond => {
      if (op !== 'MASKED_EQ') return { index, op, value: vals.value(), mask: U64 };
      const mask = vals.mask();
      let datum = vals.value() & mask;
      if (rng.chance(0.15)) datum |= rng.u64() & ~mask & (multi ? LO : U64); // bits outside the mask
      return { index, op, value: datum, mask };
    };
    const rangeOwner = new Set<number>();
    const compared = new Set<number>();
    // A family of one-condition rules on one argument, with any operators (value lists, ranges that
    // overlap or nest): libseccomp's tree is right for these as long as no other rule compares that
    // argument (its BPF may still compare a stale accumulator: see staleCompares).
    if (rng.chance(0.3)) {
      const index = rng.int(6);
      for (let k = 1 + rng.int(4); k > 0; k--) rules.push([cond(index, rng.pick(OPS))]);
      rangeOwner.add(index);
    }
    for (let i = rules.length; i < nRules; i++) {
      const nConds = rng.pick([0, 1, 1, 1, 2, 2, 3, 4]);
      // EXCLUDED: two conditions on one argument in one rule (libseccomp refuses them).
      const idx = rng.shuffle([0, 1, 2, 3, 4, 5].filter((a) => !rangeOwner.has(a))).slice(0, nConds).sort((a, b) => a - b);
      const conds = idx.map((index): GCond => {
        let op = rng.pick(OPS);
        if (op !== 'EQ' && op !== 'MASKED_EQ') {
          if (compared.has(index)) op = rng.pick(['EQ', 'MASKED_EQ'] as const);
          else rangeOwner.add(index);
        }
        return cond(index, op);
      });
      for (const c of conds) compared.add(c.index);
      rules.push(conds);
    }
    // Rules without conditions are rare in real profiles next to ones with conditions; keep a few.
    if (rules.length > 1 && rules.some((c) => c.length === 0) && rng.chance(0.6)) {
      return { name, action, rules: rules.filter((c) => c.length > 0) };
    }
    return { name, action, rules };
  });
  return { dflt, arches, archesVia: rng.chance(0.5) ? 'profile' : 'target', syscalls, tree: index % 3 === 1 };
}

const OCI_ACTION: Record<ActionKind, string> = {
  ALLOW: 'SCMP_ACT_ALLOW', ERRNO: 'SCMP_ACT_ERRNO', KILL_PROCESS: 'SCMP_ACT_KILL_PROCESS', KILL_THREAD: 'SCMP_ACT_KILL',
  TRAP: 'SCMP_ACT_TRAP', LOG: 'SCMP_ACT_LOG', TRACE: 'SCMP_ACT_TRACE', USER_NOTIF: 'SCMP_ACT_NOTIFY',
};

function ociAction(a: Act, errnoKey: string): Record<string, JsonValue> {
  const o: Record<string, JsonValue> = { [errnoKey === 'errnoRet' ? 'action' : 'defaultAction']: OCI_ACTION[a.kind] };
  if (a.kind === 'ERRNO' || a.kind === 'TRACE') o[errnoKey] = a.data;
  return o;
}

/** The profile as OCI JSON for stockade (MASKED_EQ: value = mask, valueTwo = datum). */
function toOci(p: GProfile, rng: Rng): JsonValue {
  const entries: JsonValue[] = [];
  for (const s of p.syscalls) {
    for (const conds of s.rules) {
      entries.push({
        names: [s.name],
        ...ociAction(s.action, 'errnoRet'),
        args: conds.map((c): JsonValue => c.op === 'MASKED_EQ'
          ? { index: c.index, value: c.mask, valueTwo: c.value, op: 'SCMP_CMP_MASKED_EQ' }
          : { index: c.index, value: c.value, op: `SCMP_CMP_${c.op}` }),
      });
    }
  }
  const out: Record<string, JsonValue> = { ...ociAction(p.dflt, 'defaultErrnoRet'), syscalls: rng.shuffle(entries) };
  if (p.archesVia === 'profile' && p.arches.length > 1) {
    out.architectures = p.arches.map((a) => ({ x86_64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32', aarch64: 'SCMP_ARCH_AARCH64' })[a]);
  }
  return out;
}

function oracleAction(a: Act): string {
  if (a.kind === 'ERRNO' || a.kind === 'TRACE') return `${a.kind}(${a.data})`;
  return a.kind === 'KILL_THREAD' ? 'KILL' : a.kind;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

function toOracle(p: GProfile, optimize: 1 | 2): unknown {
  const rules: unknown[] = [];
  for (const s of p.syscalls) {
    // EXCLUDED: libseccomp refuses rules whose action is the default one; for stockade they are no-ops.
    if (actU32(s.action) === actU32(p.dflt)) continue;
    for (const conds of s.rules) {
      rules.push({
        action: oracleAction(s.action),
        syscall: s.name,
        args: conds.map((c) => c.op === 'MASKED_EQ'
          ? { arg: c.index, op: c.op, value: hex(c.value), mask: hex(c.mask) }
          : { arg: c.index, op: c.op, value: hex(c.value) }),
      });
    }
  }
  return { default: oracleAction(p.dflt), arches: p.arches, optimize, rules };
}

// ---------------------------------------------------------------------------------------------
// Inputs

function holds(c: GCond, arg: bigint): boolean {
  switch (c.op) {
    case 'EQ': return arg === c.value;
    case 'NE': return arg !== c.value;
    case 'LT': return arg < c.value;
    case 'LE': return arg <= c.value;
    case 'GT': return arg > c.value;
    case 'GE': return arg >= c.value;
    case 'MASKED_EQ': return (arg & c.mask) === (c.value & c.mask);
  }
}

/** What the generated profile means for one call, computed from the generated rules alone. */
function meaning(p: GProfile, d: SeccompData): number {
  const nr = d.nr >>> 0;
  let arch: Arch | undefined;
  if (d.arch >>> 0 === AUDIT_I386) arch = p.arches.includes('x86') ? 'x86' : undefined;
  else if (d.arch >>> 0 === AUDIT_X86_64) arch = nr >= X32_BIT ? (p.arches.includes('x32') ? 'x32' : undefined) : 'x86_64';
  if (arch === undefined) return actionValue('KILL_PROCESS');
  for (const s of p.syscalls) {
    if (syscallNumber(arch, s.name) !== nr) continue;
    if (s.rules.some((conds) => conds.every((c) => holds(c, d.args?.[c.index] ?? 0n)))) return actU32(s.action);
  }
  return actU32(p.dflt);
}

/** A value satisfying `c` (when one exists), preferring the edges. */
function satisfying(rng: Rng, c: GCond, width: bigint): bigint | undefined {
  const v = c.value;
  let x: bigint | undefined;
  switch (c.op) {
    case 'EQ': x = v; break;
    case 'NE': x = rng.chance(0.5) ? v ^ 1n : rng.u64(); break;
    case 'LT': x = v === 0n ? undefined : rng.pick([v - 1n, 0n, rng.u64() % v]); break;
    case 'LE': x = rng.pick([v, 0n, rng.u64() % (v + 1n)]); break;
    case 'GT': x = v >= width ? undefined : rng.pick([v + 1n, width, v + 1n + (rng.u64() % (width - v))]); break;
    case 'GE': x = rng.pick([v, width, v + (rng.u64() % (width - v + 1n))]); break;
    case 'MASKED_EQ': x = (c.value & c.mask) | (rng.u64() & ~c.mask); break;
  }
  return x === undefined ? undefined : x & width;
}

/** Interesting values for argument `i` of a syscall: each condition's value, value±1, its mask... */
function argCandidates(rules: readonly GCond[][], i: number): bigint[] {
  const out = new Set<bigint>([0n, U64, 1n, LO]);
  for (const conds of rules) {
    for (const c of conds) {
      if (c.index !== i) continue;
      for (const v of [c.value, c.value + 1n, c.value - 1n, c.value ^ (1n << 32n), c.value & LO, c.value >> 32n]) out.add(v & U64);
      if (c.op === 'MASKED_EQ') {
        for (const v of [c.mask, ~c.mask & U64, (c.value & c.mask) | (~c.mask & U64), c.value & c.mask]) out.add(v);
      }
    }
  }
  return [...out];
}

interface Input {
  data: SeccompData;
  what: string;
}

function inputsForSyscall(rng: Rng, rules: readonly GCond[][], nr: number, arch: number, hiZero: boolean, count: number, what: string): Input[] {
  const width = hiZero ? LO : U64;
  const cands = [0, 1, 2, 3, 4, 5].map((i) => argCandidates(rules, i));
  const out: Input[] = [];
  const push = (args: bigint[], kind: string) => out.push({ data: { nr, arch, args: args.map((a) => a & width) }, what: `${what} ${kind}` });
  push([0n, 0n, 0n, 0n, 0n, 0n], 'zero');
  push([U64, U64, U64, U64, U64, U64], 'ones');
  for (let k = 0; out.length < count; k++) {
    const args = cands.map((c) => (rng.chance(0.8) ? rng.pick(c) : rng.u64()));
    if (rules.length > 0 && k % 2 === 0) {
      // Aim at one rule: satisfy all its conditions, or all but one.
      const conds = rng.pick(rules);
      const spoil = conds.length > 0 && rng.chance(0.3) ? rng.int(conds.length) : -1;
      for (const [j, c] of conds.entries()) {
        if (j === spoil) continue;
        const x = satisfying(rng, c, width);
        if (x !== undefined) args[c.index] = x;
      }
      push(args, 'aimed');
    } else push(args, 'random');
  }
  return out;
}

interface Section {
  arch: Arch;
  audit: number;
  hiZero: boolean;
}

function sectionsOf(p: GProfile): Section[] {
  return p.arches.map((arch) => ({
    arch,
    audit: arch === 'x86' ? AUDIT_I386 : AUDIT_X86_64,
    // EXCLUDED: argument high words on 32-bit arches (see the top).
    hiZero: arch !== 'x86_64',
  }));
}

function genInputs(rng: Rng, p: GProfile): Input[] {
  const out: Input[] = [];
  for (const s of sectionsOf(p)) {
    const table = syscallsOf(s.arch);
    const ruled = new Set<number>();
    for (const sc of p.syscalls) {
      const nr = syscallNumber(s.arch, sc.name);
      if (nr === undefined) continue;
      ruled.add(nr);
      const n = 20 + 14 * sc.rules.reduce((m, c) => m + c.length, 0);
      out.push(...inputsForSyscall(rng, sc.rules, nr, s.audit, s.hiZero, Math.min(n, 90), `${s.arch} ${sc.name}(${nr})`));
    }
    // Syscalls without rules, and numbers no syscall has.
    for (let i = 0; i < 4; i++) {
      const [name, nr] = rng.pick(table);
      if (!ruled.has(nr)) out.push(...inputsForSyscall(rng, [], nr, s.audit, s.hiZero, 3, `${s.arch} ${name}(${nr}) without rules`));
    }
    const base = s.arch === 'x32' ? X32_BIT : 0;
    for (const nr of [base + 1000, base + 999 + rng.int(3000), base + 0x3fffffff - rng.int(4)]) {
      out.push(...inputsForSyscall(rng, [], nr, s.audit, s.hiZero, 2, `${s.arch} nr ${nr} (no syscall)`));
    }
    if (s.arch === 'x86_64' && !p.arches.includes('x32')) {
      // x32 numbers when x32 is not a target: killed as a foreign arch by both.
      for (const n of [0, 1, rng.int(600), 0x3ffffffe]) out.push(...inputsForSyscall(rng, [], X32_BIT + n, s.audit, false, 2, `x32 nr ${X32_BIT + n} (x32 not a target)`));
    }
  }
  // Foreign arches.
  const foreign = [AUDIT_AARCH64, 0, 0xffffffff];
  if (!p.arches.includes('x86')) foreign.push(AUDIT_I386);
  for (const arch of foreign) out.push(...inputsForSyscall(rng, [], rng.pick([0, 1, 59, 1000]), arch, false, 2, `foreign arch 0x${arch.toString(16)}`));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Oracle

function callOracle(request: unknown): { programs: Array<string | { error: string }>; numbers?: Record<string, Record<string, number | null>> } {
  const text = JSON.stringify(request);
  if (process.env.STOCKADE_DIFF_DUMP) writeFileSync(process.env.STOCKADE_DIFF_DUMP, text); // for replaying by hand
  const r = spawnSync(PYTHON, [ORACLE], { input: text, maxBuffer: 1 << 28, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`oracle failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`oracle failed (status ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function oracleAvailable(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import seccomp'], { encoding: 'utf8' });
  return r.status === 0;
}

/**
 * The comparisons of a program that can run while the accumulator holds different seccomp_data words
 * depending on the path taken to them.
 *
 * libseccomp 2.5.4's BPF generator tracks which word the accumulator holds while it lays out one
 * syscall's argument tree, but not across the jump from a failed sub-tree to the next sibling node:
 * when two rules of a syscall compare the same argument differently and the first one loads other
 * words after it, the sibling's comparison runs on whatever the sub-tree loaded last. Its PFC output
 * (seccomp_export_pfc) is right; the BPF is not. Minimal case (x86_64, default KILL_PROCESS):
 *   mknod TRACE if a0 < 0xea08bcf2746f24f0;  mknod TRACE if a0 < 3
 *   a0 = 0xea08bcf2 -> libseccomp KILL_PROCESS (its `jgt 0xea08bcf2` on a0's high word runs on the low
 *   word, loaded for `a0 < 3`), stockade and the reference evaluator TRACE.
 * A correct program never compares a word it cannot name: a difference on a path through such a
 * comparison is put down to libseccomp. (The generator's restrictions make these rare; they remain a
 * guard, not a licence: every other difference fails the test.)
 */
function staleCompares(prog: readonly Insn[]): Set<number> {
  const holds: Array<Set<string> | undefined> = new Array(prog.length);
  holds[0] = new Set(['nothing']);
  const stale = new Set<number>();
  const flow = (to: number, s: Set<string>) => {
    const cur = holds[to];
    if (cur === undefined) holds[to] = new Set(s);
    else for (const x of s) cur.add(x);
  };
  for (let pc = 0; pc < prog.length; pc++) {
    const s = holds[pc];
    if (s === undefined) continue; // unreachable
    const ins = prog[pc]!;
    const cls = ins.code & 0x07;
    const k = ins.k >>> 0;
    if (cls === BPF.RET) continue;
    if (cls === BPF.JMP) {
      const op = ins.code & 0xf0;
      if (op === BPF.JA) {
        flow(pc + 1 + k, s);
        continue;
      }
      if (s.size > 1) stale.add(pc);
      flow(pc + 1 + ins.jt, s);
      flow(pc + 1 + ins.jf, s);
      continue;
    }
    let next = s;
    if (cls === BPF.LD) next = new Set([`ld ${ins.code} ${k}`]);
    else if (cls === BPF.ALU) next = new Set([...s].map((x) => `(${x}) alu ${ins.code} ${k}`));
    else if (cls === BPF.MISC && (ins.code & 0xf8) === BPF.TXA) next = new Set(['X']);
    flow(pc + 1, next);
  }
  return stale;
}

/** JSON with bigints printed as plain numbers, for reproducers. */
function showJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `@@${x}@@` : x)).replace(/"@@(\d+)@@"/g, '$1');
}

function showData(d: SeccompData): string {
  return `{nr: ${d.nr}, arch: 0x${(d.arch >>> 0).toString(16)}, args: [${(d.args ?? []).map(hex).join(', ')}]}`;
}

// ---------------------------------------------------------------------------------------------

test('stockade agrees with libseccomp 2.5.4 on random profiles', (t) => {
  if (!oracleAvailable()) {
    t.skip('python3-seccomp not installed: apt-get install python3-seccomp');
    return;
  }
  const started = Date.now();
  const seed = process.env.STOCKADE_DIFF_SEED !== undefined ? Number(process.env.STOCKADE_DIFF_SEED) >>> 0 : (Math.random() * 0x100000000) >>> 0;
  t.diagnostic(`seed ${seed} (replay with STOCKADE_DIFF_SEED=${seed})`);
  const rng = new Rng(seed);

  // EXCLUDED: names whose number differs between the two tools' tables on some arch.
  const names = syscallsOf('x86_64').map(([n]) => n);
  const libNumbers = callOracle({ profiles: [], resolve: { arches: ALL3, names } }).numbers!;
  const agrees = (arch: Arch, name: string) => (libNumbers[arch]?.[name] ?? undefined) === syscallNumber(arch, name);
  const pool64 = names.filter((n) => agrees('x86_64', n));
  const pool3 = pool64.filter((n) => ALL3.every((a) => agrees(a, n) && syscallNumber(a, n) !== undefined));
  assert.ok(pool64.length > 300, `only ${pool64.length} x86_64 syscall names agree with libseccomp`);
  assert.ok(pool3.length > 200, `only ${pool3.length} syscall names agree with libseccomp on x86_64, x86 and x32`);

  const profiles = Array.from({ length: PROFILES }, (_, i) => genProfile(rng, i, pool64, pool3));
  const requests: unknown[] = [];
  const slots: Array<{ profile: number; optimize: 1 | 2 }> = [];
  profiles.forEach((p, i) => {
    for (const optimize of p.tree ? [1, 2] as const : [1] as const) {
      requests.push(toOracle(p, optimize));
      slots.push({ profile: i, optimize });
    }
  });
  const oracle = callOracle({ profiles: requests, timeout: 5 });
  assert.equal(oracle.programs.length, requests.length);
  const libPrograms: Array<Array<{ optimize: 1 | 2; program: Insn[]; stale: Set<number> }>> = profiles.map(() => []);
  const hung: string[] = [];
  oracle.programs.forEach((out, k) => {
    const { profile, optimize } = slots[k]!;
    if (typeof out !== 'string' && out.error.startsWith('timeout')) {
      // A libseccomp hang the generator does not avoid yet: report it, compare the other profiles.
      hung.push(`profile ${profile} (optimize ${optimize}): ${JSON.stringify(requests[k])}`);
      return;
    }
    if (typeof out !== 'string') {
      assert.fail(`seed ${seed}: libseccomp refused profile ${profile} (optimize ${optimize}): ${out.error}\n${showJson(requests[k])}`);
    }
    const program = decodeProgram(Buffer.from(out, 'hex'), `libseccomp profile ${profile}`);
    assert.equal(checkProgram(program), undefined, `seed ${seed}: libseccomp's program for profile ${profile} fails the kernel's checks`);
    libPrograms[profile]!.push({ optimize, program, stale: staleCompares(program) });
  });

  let comparisons = 0;
  let staleDiffs = 0;
  let compared = 0;
  let multiProfiles = 0;
  const mismatches: string[] = [];
  let mismatchCount = 0;
  let badProfiles = 0;
  for (const [i, p] of profiles.entries()) {
    const oci = toOci(p, rng);
    const target = { native: 'x86_64' as const, caps: [], kernel: [6, 18] as const, ...(p.archesVia === 'target' && p.arches.length > 1 ? { arches: p.arches } : {}) };
    let filter: SeccompFilter;
    let program: Insn[];
    try {
      filter = resolveProfile(profileFromJson(oci, `differential profile ${i}`), target);
      program = compileFilter(filter).program;
    } catch (e) {
      assert.fail(`seed ${seed}: stockade refused profile ${i}: ${(e as Error).message}\n${showJson(oci)}`);
    }
    assert.deepEqual(filter.arches, p.arches, `seed ${seed}: profile ${i} resolved to the wrong arches`);
    assert.equal(checkProgram(program), undefined, `seed ${seed}: stockade's program for profile ${i} fails the kernel's checks`);
    const libs = libPrograms[i]!;
    if (libs.length === 0) continue; // libseccomp produced no program for this profile (counted below)
    compared++;
    if (p.arches.length > 1) multiProfiles++;
    let reported = false;
    for (const input of genInputs(rng, p)) {
      const ours = emulate(program, input.data).action;
      for (const lib of libs) {
        const run = emulate(lib.program, input.data);
        const theirs = run.action;
        comparisons++;
        if (ours === theirs) continue;
        // EXCLUDED: a difference on a path through one of libseccomp's stale-accumulator comparisons
        // is libseccomp's bug (see staleCompares) when stockade returns what the profile means (the
        // test's own evaluation of the generated rules, independent of stockade's code): counted, not
        // failed.
        if (lib.stale.size > 0 && run.path.some((pc) => lib.stale.has(pc)) && ours === meaning(p, input.data)) {
          staleDiffs++;
          continue;
        }
        mismatchCount++;
        if (reported) continue;
        reported = true;
        badProfiles++;
        // One reproducer per profile, for the first few profiles.
        if (mismatches.length < 3) {
          mismatches.push([
            `profile ${i} (arches ${p.arches.join(',')}; libseccomp optimize ${lib.optimize}), input ${input.what}:`,
            `  seccomp_data ${showData(input.data)}`,
            `  stockade ${formatAction(ours)}, libseccomp ${formatAction(theirs)}, stockade's reference evaluator ${formatAction(evaluate(filter, input.data))}, `
              + `the generated rules ${formatAction(meaning(p, input.data))}`,
            `  profile ${showJson(oci)}`,
            `  target ${showJson(target)}`,
            `  oracle request ${JSON.stringify(toOracle(p, lib.optimize))}`,
          ].join('\n'));
        }
      }
    }
  }
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`${compared} profiles compared (${multiProfiles} with x86_64+x86+x32), ${comparisons} verdict comparisons, ${seconds.toFixed(1)} s`);
  if (staleDiffs > 0) t.diagnostic(`${staleDiffs} differences on libseccomp's stale-accumulator paths (libseccomp's bug, not failed)`);
  if (hung.length > 0) t.diagnostic(`libseccomp hung on ${hung.length} profile(s), not compared; first: ${hung[0]}`);
  assert.deepEqual(mismatches, [], `seed ${seed}: stockade and libseccomp disagree on ${mismatchCount} of ${comparisons} inputs, in ${badProfiles} profiles (first ${mismatches.length} shown):\n${mismatches.join('\n')}`);
  assert.ok(compared >= 300, `seed ${seed}: only ${compared} profiles compared (libseccomp hung on ${hung.length})`);
  assert.ok(comparisons >= MIN_COMPARISONS, `seed ${seed}: only ${comparisons} comparisons`);
});
