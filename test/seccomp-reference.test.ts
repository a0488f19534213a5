/**
 * Differential test, reference: random profiles are resolved and compiled; the emulator running the
 * compiled program must agree with the direct evaluation of the resolved filter on every case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileFromJson } from '../src/seccomp/profile.js';
import { resolveProfile } from '../src/seccomp/resolve.js';
import { compileFilter } from '../src/seccomp/compile.js';
import { checkProgram, emulate, type SeccompData } from '../src/seccomp/emulate.js';
import type { Insn } from '../src/seccomp/bpf.js';
import { evaluate } from '../src/seccomp/reference.js';
import { formatAction } from '../src/seccomp/actions.js';
import { AUDIT_ARCH, type Arch } from '../src/seccomp/arch.js';
import { syscallsOf } from '../src/seccomp/syscalls.js';
import type { JsonValue } from '../src/json-exact.js';
import { StockadeError } from '../src/errors.js';
import { Rng, seedFromEnv } from './support/random.js';

const ACTIONS = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_NOTIFY'];
const OPS = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE', 'SCMP_CMP_MASKED_EQ'];
const ARCH_SETS: Arch[][] = [['x86_64'], ['x86_64', 'x86'], ['x86_64', 'x86', 'x32'], ['x86_64', 'x32'], ['aarch64'], ['x86'], ['x32']];
const BOUNDARY = [0n, 1n, 2n, 0x7fn, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x100000001n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn];

function randomValue(rng: Rng, pool: bigint[]): bigint {
  const r = rng.int(10);
  if (r < 3) return rng.pick(BOUNDARY);
  if (r < 5 && pool.length > 0) {
    const v = rng.pick(pool);
    const d = BigInt(rng.int(3) - 1);
    return (v + d) & 0xffffffffffffffffn;
  }
  if (r < 7) return BigInt(rng.int(64));
  if (r < 8) return BigInt(rng.u32());
  return rng.u64();
}

interface Generated {
  json: JsonValue;
  arches: Arch[];
  values: bigint[];
  names: string[];
}

function randomProfile(rng: Rng): Generated {
  const arches = rng.pick(ARCH_SETS);
  const pool = syscallsOf(arches[0]!).map(([n]) => n);
  // A few profiles are large, so that programs exceed 255 instructions and need long jumps.
  const big = rng.chance(0.04);
  const names = Array.from({ length: big ? 40 + rng.int(60) : 1 + rng.int(12) }, () => rng.pick(pool));
  const values: bigint[] = [];
  const syscalls: JsonValue[] = [];
  const nEntries = big ? 100 + rng.int(100) : 1 + rng.int(14);
  for (let i = 0; i < nEntries; i++) {
    const entryNames = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(names));
    const args: JsonValue[] = [];
    const nArgs = rng.chance(0.35) ? 0 : 1 + rng.int(3);
    for (let j = 0; j < nArgs; j++) {
      const value = randomValue(rng, values);
      const valueTwo = randomValue(rng, values);
      values.push(value, valueTwo);
      args.push({ index: rng.chance(0.6) ? rng.int(2) : rng.int(6), value, valueTwo, op: rng.pick(OPS) });
    }
    const action = rng.chance(0.4) ? 'SCMP_ACT_ALLOW' : rng.pick(ACTIONS);
    const e: { [k: string]: JsonValue } = { names: [...new Set(entryNames)], action, args };
    if ((action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') && rng.chance(0.7)) e.errnoRet = rng.int(4096);
    syscalls.push(e);
  }
  const json: { [k: string]: JsonValue } = { defaultAction: rng.pick(ACTIONS), syscalls };
  if (rng.chance(0.5)) json.defaultErrnoRet = rng.int(200);
  return { json, arches, values, names: [...new Set(names)] };
}

function randomCase(rng: Rng, g: Generated, arches: Arch[]): SeccompData {
  const r = rng.int(20);
  let arch: number;
  let callArch: Arch = rng.pick(arches);
  if (r === 0) arch = rng.pick([0xc00000b7, 0x40000003, 0xc000003e, 0x4000003e, rng.u32()]);
  else arch = AUDIT_ARCH[callArch];
  if (r === 0) callArch = rng.pick(['x86_64', 'x86', 'x32', 'aarch64'] as Arch[]);
  const table = syscallsOf(callArch);
  let nr: number;
  const k = rng.int(10);
  if (k < 6) {
    const name = rng.pick(g.names);
    nr = table.find(([n]) => n === name)?.[1] ?? rng.pick(table)[1];
  } else if (k < 8) nr = rng.pick(table)[1];
  else nr = rng.pick([0, 1000, 0x3fffffff, 0x40000000, 0x40000001, 0x7fffffff, 0xffffffff, rng.u32(), 0x40000000 + rng.int(600)]);
  const args = Array.from({ length: 6 }, () => randomValue(rng, g.values));
  return { nr: nr | 0, arch, args };
}

test('reference differential: emulator(compiled) == evaluate(resolved) on >= 100,000 random cases', () => {
  const seed = seedFromEnv(Date.now() % 1_000_000);
  const rng = new Rng(seed);
  let cases = 0;
  let profiles = 0;
  let longPrograms = 0;
  const started = Date.now();
  while (cases < 100_000 || profiles < 400) {
    const g = randomProfile(rng);
    const profile = profileFromJson(g.json, `random#${profiles}`);
    const filter = resolveProfile(profile, { native: g.arches[0]!, arches: g.arches, caps: [], kernel: [6, 18] });
    let program: Insn[];
    try {
      program = compileFilter(filter).program;
    } catch (e) {
      // A large random profile may exceed the kernel's 4096 instructions: that is the refusal
      // the compiler owes, not a mismatch. Draw another.
      assert.ok(e instanceof StockadeError && e.code === 'limit', `seed ${seed} profile ${profiles}: ${String(e)}`);
      profiles++;
      continue;
    }
    if (program.length > 255) longPrograms++;
    assert.equal(checkProgram(program), undefined, `seed ${seed} profile ${profiles}: kernel would refuse`);
    for (let i = 0; i < 250; i++) {
      const d = randomCase(rng, g, g.arches);
      const got = emulate(program, d).action;
      const want = evaluate(filter, d);
      if (got !== want) {
        assert.fail(`seed ${seed} profile ${profiles} case ${JSON.stringify({ ...d, args: d.args?.map((a) => `0x${a.toString(16)}`) })}: ` +
          `emulator ${formatAction(got)} reference ${formatAction(want)}\nprofile: ${JSON.stringify(g.json, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`);
      }
      cases++;
    }
    profiles++;
  }
  assert.ok(longPrograms > 0, `seed ${seed}: no program needed long jumps`);
  console.log(`# reference differential: ${profiles} profiles (${longPrograms} over 255 instructions), ${cases} cases, 0 mismatches, seed ${seed}, ${Date.now() - started} ms`);
});
