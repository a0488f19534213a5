// Smoke test of native/build/seccomp-probe on the real kernel. The BPF programs are written by
// hand here (no project compiler involved), so a failure points at the probe or the kernel.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const probe = join(root, 'native', 'build', 'seccomp-probe');

/** One classic-BPF instruction: [code, jt, jf, k]. */
type Insn = readonly [number, number, number, number];

const LD_W_ABS = 0x20; // ld [k]
const JEQ_K = 0x15; // jeq #k, jt, jf
const JGE_K = 0x35; // jge #k, jt, jf
const RET_K = 0x06; // ret #k
const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const TRAP = 0x00030000;
const ERRNO = 0x00050000;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const ENOSYS = 38;

const allowAll: Insn[] = [[RET_K, 0, 0, ALLOW]];
/** ld [off]; jeq value -> ret action; ret ALLOW */
const onEq = (off: number, value: number, action: number): Insn[] => [
  [LD_W_ABS, 0, 0, off],
  [JEQ_K, 0, 1, value],
  [RET_K, 0, 0, action],
  [RET_K, 0, 0, ALLOW],
];

type Outcome =
  | { case: number; outcome: 'return'; ret: number; errno: number }
  | { case: number; outcome: 'trap'; nr: number; arch: number; errno_data: number }
  | { case: number; outcome: 'killed'; signal: number }
  | { case: number; outcome: 'return-unreported'; status: number }
  | { case: number; outcome: 'error'; errno: number; detail: string };

let dir: string | undefined;
let fileCount = 0;
after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Packs the program little-endian (the probe's host order; it is x86_64-only) into a temp file. */
function writeProgram(insns: readonly Insn[]): string {
  dir ??= mkdtempSync(join(tmpdir(), 'stockade-probe-'));
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  const file = join(dir, `prog-${fileCount++}.bpf`);
  writeFileSync(file, buf);
  return file;
}

function runRaw(file: string, cases: readonly string[]) {
  return spawnSync(probe, [file, ...cases], { encoding: 'utf8', timeout: 60_000 });
}

/** Runs the probe, checks it exited 0 with one line per case, and returns the parsed lines. */
function run(insns: readonly Insn[], cases: readonly string[]): { pid: number; out: Outcome[] } {
  const r = runRaw(writeProgram(insns), cases);
  assert.equal(r.status, 0, `probe exited ${r.status} (signal ${r.signal}): ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, cases.length, r.stdout);
  const out = lines.map((l) => JSON.parse(l) as Outcome);
  out.forEach((o, i) => assert.equal(o.case, i));
  return { pid: r.pid, out };
}

function at(out: Outcome[], i: number): Outcome {
  const o = out[i];
  assert.ok(o, `no outcome for case ${i}`);
  return o;
}

function returned(o: Outcome): { ret: number; errno: number } {
  assert.equal(o.outcome, 'return', JSON.stringify(o));
  if (o.outcome !== 'return') throw new Error('unreachable');
  return o;
}

/** Why the suite cannot run here, or undefined. Computed once. */
let skipWhy: string | undefined | null = null;
function skipReason(): string | undefined {
  if (skipWhy !== null) return skipWhy;
  skipWhy = undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') skipWhy = 'seccomp-probe supports linux x86_64 only';
  else if (!existsSync(probe)) skipWhy = `probe binary missing: ${probe} (run node scripts/build-native.mjs)`;
  else {
    const r = runRaw(writeProgram(allowAll), ['x86_64:39']);
    const line = r.status === 0 ? (JSON.parse(r.stdout) as Outcome) : undefined;
    const isRoot = process.getuid?.() === 0;
    if (line?.outcome === 'error' && line.detail.startsWith('prctl(PR_SET_NO_NEW_PRIVS)') && !isRoot)
      skipWhy = `not root and PR_SET_NO_NEW_PRIVS is unavailable: ${line.detail}`;
  }
  return skipWhy;
}

test('ALLOW for everything: x86_64 getppid returns the probe pid', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const { pid, out } = run(allowAll, ['x86_64:110']);
  const o = returned(at(out, 0));
  assert.ok(o.ret > 0, JSON.stringify(o));
  assert.equal(o.errno, 0);
  assert.equal(o.ret, pid, "the probe child's parent is the probe itself");
});

test('ERRNO(13) on getppid only', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const { out } = run(onEq(0, 110, ERRNO | 13), ['x86_64:110', 'x86_64:39']);
  assert.deepEqual(at(out, 0), { case: 0, outcome: 'return', ret: -13, errno: 13 });
  const getpid = returned(at(out, 1));
  assert.ok(getpid.ret > 0 && getpid.errno === 0, JSON.stringify(getpid));
});

test('KILL_PROCESS on getppid kills the child with SIGSYS', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const { out } = run(onEq(0, 110, KILL_PROCESS), ['x86_64:110', 'x86_64:39']);
  assert.deepEqual(at(out, 0), { case: 0, outcome: 'killed', signal: 31 });
  assert.ok(returned(at(out, 1)).ret > 0, 'a later case still runs in a fresh child');
});

test('TRAP with data 7 on getpid reaches the SIGSYS handler', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const { out } = run(onEq(0, 39, TRAP | 7), ['x86_64:39']);
  assert.deepEqual(at(out, 0), { case: 0, outcome: 'trap', nr: 39, arch: AUDIT_ARCH_X86_64, errno_data: 7 });
});

test('i386 via int $0x80', async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  // IA32 emulation check: without it getpid is -ENOSYS, or int $0x80 faults (SIGSEGV).
  const probeIa32 = at(run(allowAll, ['i386:20']).out, 0);
  const noIa32 =
    (probeIa32.outcome === 'return' && probeIa32.ret === -ENOSYS) ||
    (probeIa32.outcome === 'killed' && probeIa32.signal === 11);

  await t.test('ALLOW for everything: i386 getpid returns a pid', (st) => {
    if (noIa32) return st.skip('kernel has no IA32 emulation');
    const o = returned(probeIa32);
    assert.ok(o.ret > 0 && o.errno === 0, JSON.stringify(o));
  });

  await t.test('ERRNO(1) for arch i386 only', (st) => {
    if (noIa32) return st.skip('kernel has no IA32 emulation');
    const { pid, out } = run(onEq(4, AUDIT_ARCH_I386, ERRNO | 1), ['i386:64', 'x86_64:110']);
    assert.deepEqual(at(out, 0), { case: 0, outcome: 'return', ret: -1, errno: 1 });
    assert.equal(returned(at(out, 1)).ret, pid);
  });
});

test('x32 syscall numbers carry the 0x40000000 bit', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const prog: Insn[] = [
    [LD_W_ABS, 0, 0, 0],
    [JGE_K, 0, 1, 0x40000000],
    [RET_K, 0, 0, ERRNO | 22],
    [RET_K, 0, 0, ALLOW],
  ];
  const { out } = run(prog, ['x32:0x40000027', 'x86_64:39']);
  assert.deepEqual(at(out, 0), { case: 0, outcome: 'return', ret: -22, errno: 22 });
  assert.ok(returned(at(out, 1)).ret > 0);
});

test('program length limit: 4096 instructions load, 4097 do not', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const max: Insn[] = Array.from({ length: 4096 }, () => [RET_K, 0, 0, ALLOW] as const);
  assert.ok(returned(at(run(max, ['x86_64:39']).out, 0)).ret > 0);
  const o = at(run([...max, [RET_K, 0, 0, ALLOW]], ['x86_64:39']).out, 0);
  assert.equal(o.outcome, 'error', JSON.stringify(o));
  if (o.outcome === 'error') assert.ok(o.errno === 22 || o.errno === 7, JSON.stringify(o));
});

test('usage errors exit 2 with one line naming the bad argument', (t) => {
  if (!existsSync(probe)) return t.skip(`probe binary missing: ${probe}`);
  const missing = join(tmpdir(), `stockade-no-such-file-${process.pid}.bpf`);
  const r = runRaw(missing, ['x86_64:39']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^[^\n]+\n$/);
  assert.ok(r.stderr.includes(missing), r.stderr);

  const bad = runRaw(writeProgram(allowAll), ['x86_64:39', 'mips:1']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '', 'no case runs when any CASE is malformed');
  assert.match(bad.stderr, /^[^\n]*mips:1[^\n]*\n$/);
});
