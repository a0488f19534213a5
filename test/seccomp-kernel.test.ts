// Kernel truth for the seccomp compiler: programs compiled by stockade are loaded by the real kernel
// (native/build/seccomp-probe forks one child per case, installs the filter, makes one raw syscall)
// and the kernel's verdict must be the one stockade's emulator computes for the same seccomp_data.
//
// Only harmless syscalls ever run for real: identity queries, calls on a descriptor that is not open
// (low 32 bits >= 1000, so EBADF), getpgid/getsid lookups, personality(0xffffffff) (a query), umask and
// socket (both affect only the throwaway child). Cases marked `dangerous` (mount, reboot, clone with
// namespace flags, ...) run only when the emulator says the filter denies them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '../src/json-exact.js';
import { StockadeError } from '../src/errors.js';
import { actionKind, formatAction, RET } from '../src/seccomp/actions.js';
import { AUDIT_ARCH, type Arch } from '../src/seccomp/arch.js';
import { encodeProgram, type Insn } from '../src/seccomp/bpf.js';
import { compileFilter, type CompiledFilter } from '../src/seccomp/compile.js';
import { checkProgram, emulate } from '../src/seccomp/emulate.js';
import { parseProfile, profileFromJson } from '../src/seccomp/profile.js';
import { DOCKER_DEFAULT_CAPS, parseKernelVersion, resolveProfile } from '../src/seccomp/resolve.js';
import { syscallName, syscallNumber } from '../src/seccomp/syscalls.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const probe = join(root, 'native', 'build', 'seccomp-probe');
const mobyPath = join(root, '..', 'shared', 'data', 'seccomp', 'moby-default.json');

const U32 = 0xffffffffn;
const U64 = (1n << 64n) - 1n;
const ENOSYS = 38;
const SIGSYS = 31;
const KERNEL = ((): [number, number] => {
  try {
    return parseKernelVersion(release(), 'os.release()');
  } catch {
    return [6, 18];
  }
})();

// ---------------------------------------------------------------------------------------------
// Probe plumbing

type Abi = 'x86_64' | 'x32' | 'i386';

interface Case {
  abi: Abi;
  /** The number as the probe passes it (x32 numbers carry 0x40000000). */
  nr: number;
  args: bigint[]; // 6 values
  label: string;
  /** Must never run for real: only probed when the emulator says the filter denies it. */
  dangerous?: boolean;
}

type Outcome =
  | { case: number; outcome: 'return'; ret: number; errno: number }
  | { case: number; outcome: 'trap'; nr: number; arch: number; errno_data: number }
  | { case: number; outcome: 'killed'; signal: number }
  | { case: number; outcome: 'return-unreported'; status: number }
  | { case: number; outcome: 'error'; errno: number; detail: string };

type Want =
  | { outcome: 'return'; ret: number; errno: number }
  | { outcome: 'trap'; nr: number; arch: number; errno_data: number }
  | { outcome: 'killed'; signal: number };

const archOfAbi: Record<Abi, Arch> = { x86_64: 'x86_64', x32: 'x32', i386: 'x86' };
const auditOfAbi = (abi: Abi): number => (abi === 'i386' ? AUDIT_ARCH.x86 : AUDIT_ARCH.x86_64);

/** A case for syscall `name` on `abi`; missing args are 0. */
function sc(abi: Abi, name: string, args: readonly bigint[] = [], dangerous = false): Case {
  const nr = syscallNumber(archOfAbi[abi], name);
  assert.ok(nr !== undefined, `${abi} has no syscall ${name}`);
  return raw(abi, nr, args, `${abi} ${name}(${args.map(hex).join(', ')})`, dangerous);
}

function raw(abi: Abi, nr: number, args: readonly bigint[], label?: string, dangerous = false): Case {
  const full = [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6).map((a) => a & U64);
  const c: Case = { abi, nr, args: full, label: label ?? `${abi}:${hex(BigInt(nr))}(${args.map(hex).join(', ')})` };
  if (dangerous) c.dangerous = true;
  return c;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function caseArg(c: Case): string {
  return `${c.abi}:${hex(BigInt(c.nr))}:${c.args.map(hex).join(',')}`;
}

/** The seccomp_data the kernel builds for a case: int $0x80 passes 32-bit registers. */
function dataOf(c: Case) {
  return {
    nr: c.nr,
    arch: auditOfAbi(c.abi),
    args: c.abi === 'i386' ? c.args.map((a) => a & U32) : c.args,
  };
}

let dir: string | undefined;
let fileCount = 0;
after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function writeBytes(bytes: Buffer): string {
  dir ??= mkdtempSync(join(tmpdir(), 'stockade-seccomp-kernel-'));
  const file = join(dir, `prog-${fileCount++}.bpf`);
  writeFileSync(file, bytes);
  return file;
}

/** Runs every case under `bytes` in one probe invocation (one fork per case inside the probe). */
function probeRun(bytes: Buffer, cases: readonly Case[]): Outcome[] {
  if (cases.length === 0) return [];
  const r = spawnSync(probe, [writeBytes(bytes), ...cases.map(caseArg)], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `probe exited ${r.status} (signal ${r.signal}): ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, cases.length, r.stdout);
  const out = lines.map((l) => JSON.parse(l) as Outcome);
  out.forEach((o, i) => assert.equal(o.case, i, r.stdout));
  return out;
}

const allowAllBytes = encodeProgram([{ code: 0x06, jt: 0, jf: 0, k: RET.ALLOW }]);

/** Why the suite cannot run here, or undefined. Computed once. */
let skipWhy: string | undefined | null = null;
function skipReason(): string | undefined {
  if (skipWhy !== null) return skipWhy;
  skipWhy = undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') skipWhy = 'the kernel probe supports x86_64 Linux only';
  else if (!existsSync(probe)) skipWhy = `probe binary missing: ${probe} (run node scripts/build-native.mjs)`;
  else {
    const o = probeRun(allowAllBytes, [sc('x86_64', 'getpid')])[0]!;
    if (o.outcome === 'error') skipWhy = `the kernel refuses seccomp filters here: ${o.detail}`;
  }
  return skipWhy;
}

/** IA32 emulation: without it, i386 getpid is -ENOSYS or int $0x80 faults. Computed once. */
let ia32: boolean | null = null;
function hasIa32(): boolean {
  if (ia32 !== null) return ia32;
  const o = probeRun(allowAllBytes, [sc('i386', 'getpid')])[0]!;
  ia32 = o.outcome === 'return' && o.ret > 0;
  return ia32;
}

// ---------------------------------------------------------------------------------------------
// Expectations

/** Syscalls whose successful result differs between two runs (so ALLOW compares only "ret > 0"). */
const VOLATILE = new Set(['getpid', 'getppid', 'gettid']);

function isVolatile(c: Case): boolean {
  const name = syscallName(archOfAbi[c.abi], c.nr);
  return name !== undefined && VOLATILE.has(name);
}

/** True when the action lets the syscall really run. */
function runsForReal(action: number): boolean {
  const k = actionKind(action);
  return k === 'ALLOW' || k === 'LOG';
}

/** What the probe must report for a case given the emulator's action (and, for ALLOW/LOG, the unfiltered run). */
function expected(action: number, c: Case, baseline: Outcome | undefined): Want {
  const data = action & 0xffff;
  switch (actionKind(action)) {
    case 'ALLOW':
    case 'LOG': {
      assert.ok(baseline, `no unfiltered run for ${c.label}`);
      assert.equal(baseline.outcome, 'return', `unfiltered run of ${c.label}: ${JSON.stringify(baseline)}`);
      if (baseline.outcome !== 'return') throw new Error('unreachable');
      return { outcome: 'return', ret: baseline.ret, errno: baseline.errno };
    }
    case 'ERRNO':
      return { outcome: 'return', ret: -data, errno: data };
    case 'TRACE':
    case 'USER_NOTIF': // no tracer / no listener: the kernel fails the call with ENOSYS
      return { outcome: 'return', ret: -ENOSYS, errno: ENOSYS };
    case 'TRAP':
      return { outcome: 'trap', nr: c.nr | 0, arch: auditOfAbi(c.abi), errno_data: data };
    case 'KILL_PROCESS':
    case 'KILL_THREAD':
      return { outcome: 'killed', signal: SIGSYS };
    default:
      throw new Error(`emulator returned an unknown action ${formatAction(action)} for ${c.label}`);
  }
}

function normalized(o: Outcome | Want, volatile: boolean): string {
  const copy: Record<string, unknown> = { ...o };
  delete copy.case;
  if (volatile && copy.outcome === 'return' && typeof copy.ret === 'number' && copy.ret > 0) copy.ret = 'positive';
  return JSON.stringify(copy);
}

interface Verdicts {
  /** One line per disagreement between the kernel and the emulator. */
  mismatches: string[];
  /** Cases compared with the kernel. */
  checked: number;
  /** Dangerous cases the emulator allows: not run. */
  notRun: string[];
  actions: number[];
}

/**
 * Emulates every case on the compiled program, runs the runnable ones on the kernel (plus, for the
 * ALLOW/LOG ones, an unfiltered run), and compares.
 */
function kernelVsEmulator(compiled: CompiledFilter, cases: readonly Case[]): Verdicts {
  assert.equal(checkProgram(compiled.program), undefined, 'the emulator accepts the compiled program');
  const actions = cases.map((c) => emulate(compiled.program, dataOf(c)).action);
  const notRun: string[] = [];
  const run: number[] = [];
  cases.forEach((c, i) => {
    if (c.dangerous && runsForReal(actions[i]!)) notRun.push(`${c.label}: emulator says ${formatAction(actions[i]!)}`);
    else run.push(i);
  });
  const got = probeRun(compiled.bytes, run.map((i) => cases[i]!));
  const needBase = run.filter((i) => runsForReal(actions[i]!));
  const baseOut = probeRun(allowAllBytes, needBase.map((i) => cases[i]!));
  const base = new Map(needBase.map((i, j) => [i, baseOut[j]!]));
  const mismatches: string[] = [];
  run.forEach((i, j) => {
    const c = cases[i]!;
    const action = actions[i]!;
    const want = expected(action, c, base.get(i));
    const k = got[j]!;
    const vol = isVolatile(c);
    if (normalized(k, vol) !== normalized(want, vol)) {
      mismatches.push(`${c.label} [${caseArg(c)}]: emulator ${formatAction(action)} => want ${normalized(want, vol)}, kernel ${normalized(k, vol)}`);
    }
  });
  return { mismatches, checked: run.length, notRun, actions };
}

/** JSON text with bigints written as plain integers (for reproducers). */
function jsonText(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `@@${x.toString()}@@` : x)).replace(/"@@(\d+)@@"/g, '$1');
}

function compileJson(obj: JsonValue, arches: Arch[], caps: readonly string[] = [], source = 'test-profile'): CompiledFilter {
  const profile = profileFromJson(obj, source);
  return compileFilter(resolveProfile(profile, { native: 'x86_64', arches, caps, kernel: KERNEL }));
}

/** Kernel verdicts compared, over the whole file (reported by the last test). */
let totalChecked = 0;

// ---------------------------------------------------------------------------------------------
// 1. Every action and every comparison operator, 64-bit values

type Rule = { names: string[]; action: string; errnoRet?: number; args?: JsonValue[] };
const arg = (index: number, op: string, value: bigint, valueTwo?: bigint): JsonValue => {
  const o: { [k: string]: JsonValue } = { index, op: `SCMP_CMP_${op}`, value };
  if (valueTwo !== undefined) o.valueTwo = valueTwo;
  return o;
};

const handRules: Rule[] = [
  { names: ['write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
  { names: ['getppid', 'getpid'], action: 'SCMP_ACT_ALLOW' },
  { names: ['getuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
  { names: ['getgid'], action: 'SCMP_ACT_TRAP' },
  { names: ['geteuid'], action: 'SCMP_ACT_KILL_PROCESS' },
  { names: ['getegid'], action: 'SCMP_ACT_KILL_THREAD' },
  { names: ['gettid'], action: 'SCMP_ACT_LOG' },
  { names: ['getpgrp'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
  { names: ['getsid'], action: 'SCMP_ACT_NOTIFY' },
  // EQ with a high word: close takes an int, but seccomp sees the whole register.
  { names: ['close'], action: 'SCMP_ACT_ALLOW' },
  { names: ['close'], action: 'SCMP_ACT_ERRNO', errnoRet: 21, args: [arg(0, 'EQ', 0x1000003e8n)] },
  // NE
  { names: ['dup'], action: 'SCMP_ACT_ALLOW' },
  { names: ['dup'], action: 'SCMP_ACT_ERRNO', errnoRet: 23, args: [arg(0, 'NE', 1000n)] },
  // LT and GT across the 2^32 boundary
  { names: ['lseek'], action: 'SCMP_ACT_ALLOW' },
  { names: ['lseek'], action: 'SCMP_ACT_ERRNO', errnoRet: 31, args: [arg(1, 'LT', 0x100000000n)] },
  { names: ['lseek'], action: 'SCMP_ACT_TRAP', args: [arg(2, 'GT', 0x200000000n)] },
  // GE and LE; the gap between them falls to the default action
  { names: ['fcntl'], action: 'SCMP_ACT_ERRNO', errnoRet: 33, args: [arg(1, 'GE', 0x100000001n)] },
  { names: ['fcntl'], action: 'SCMP_ACT_ALLOW', args: [arg(1, 'LE', 0xffffffffn)] },
  // MASKED_EQ on the low word and on the high word; both can match, the narrower wins
  { names: ['ioctl'], action: 'SCMP_ACT_ALLOW' },
  { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [arg(1, 'MASKED_EQ', 0xffffffffn, 0x5412n)] },
  { names: ['ioctl'], action: 'SCMP_ACT_KILL_PROCESS', args: [arg(1, 'MASKED_EQ', 0xff00000000000000n, 0x8000000000000000n)] },
  // a range from two conditions on one argument, an EQ inside it, and GT on the high word
  { names: ['getpgid'], action: 'SCMP_ACT_ERRNO', errnoRet: 35, args: [arg(0, 'GT', 0xffffffffn)] },
  { names: ['getpgid'], action: 'SCMP_ACT_ALLOW', args: [arg(0, 'EQ', 999999n)] },
  { names: ['getpgid'], action: 'SCMP_ACT_TRAP', args: [arg(0, 'GE', 1000000n), arg(0, 'LE', 2000000n)] },
  { names: ['getpgid'], action: 'SCMP_ACT_LOG', args: [arg(0, 'EQ', 1500000n)] },
  { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [arg(0, 'EQ', 0xffffffffn)] },
  { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [arg(0, 'EQ', 1n)] },
  { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [arg(0, 'EQ', 16n)] },
  { names: ['socket'], action: 'SCMP_ACT_KILL_THREAD', args: [arg(0, 'EQ', 40n), arg(1, 'NE', 1n)] },
  { names: ['umask'], action: 'SCMP_ACT_ALLOW', args: [arg(0, 'MASKED_EQ', 0o777n, 0o022n)] },
  { names: ['umask'], action: 'SCMP_ACT_TRAP', args: [arg(0, 'MASKED_EQ', 0o777n, 0o077n)] },
  // dangerous calls, always denied
  { names: ['reboot', 'kexec_load'], action: 'SCMP_ACT_KILL_PROCESS' },
  { names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
  // only on i386: socketcall (102 there; on x86_64 102 is getuid)
  { names: ['socketcall'], action: 'SCMP_ACT_ERRNO', errnoRet: 88 },
];

function handProfile(): JsonValue {
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 77, syscalls: handRules as unknown as JsonValue };
}

const A = (...v: Array<bigint | number>) => v.map((x) => BigInt(x));

function handCases(abi: Abi): Case[] {
  const fd = 1000n;
  const cs: Case[] = [
    sc(abi, 'getppid'),
    sc(abi, 'getpid', A(1, 2, 3, 4, 5, 6)),
    sc(abi, 'getuid'),
    sc(abi, 'getuid', [U64, U64, U64, U64, U64, U64]),
    sc(abi, 'getgid'),
    sc(abi, 'geteuid'),
    sc(abi, 'getegid'),
    sc(abi, 'gettid'),
    sc(abi, 'getpgrp'),
    sc(abi, 'getsid', A(0)),
    sc(abi, 'close', [fd]),
    sc(abi, 'close', [0x1000003e8n]),
    sc(abi, 'close', [0x2000003e8n]),
    sc(abi, 'close', [0xffffffffn]),
    sc(abi, 'close', [U64]),
    sc(abi, 'dup', [fd]),
    sc(abi, 'dup', A(5)),
    sc(abi, 'dup', [0x1000003e8n]),
    sc(abi, 'lseek', A(1000, 0, 0)),
    sc(abi, 'lseek', A(1000, 0xffffffff, 0)),
    sc(abi, 'lseek', [fd, 0x100000000n, 0n]),
    sc(abi, 'lseek', [fd, 0x100000000n, 0x200000000n]),
    sc(abi, 'lseek', [fd, 0x100000000n, 0x200000001n]),
    sc(abi, 'lseek', [fd, 5n, 0x300000000n]),
    sc(abi, 'lseek', [fd, U64, U64]),
    sc(abi, 'fcntl', A(1000, 1)),
    sc(abi, 'fcntl', A(1000, 0xffffffff)),
    sc(abi, 'fcntl', [fd, 0x100000000n]),
    sc(abi, 'fcntl', [fd, 0x100000001n]),
    sc(abi, 'fcntl', [fd, U64]),
    sc(abi, 'ioctl', A(1000, 0x5401)),
    sc(abi, 'ioctl', A(1000, 0x5412)),
    sc(abi, 'ioctl', [fd, 0x100005412n]),
    sc(abi, 'ioctl', [fd, 0x8000000000000000n]),
    sc(abi, 'ioctl', [fd, 0x8000000000005412n]),
    sc(abi, 'ioctl', [fd, 0x80ff000000005413n]),
    sc(abi, 'ioctl', [fd, 0x7f00000000000000n]),
    sc(abi, 'getpgid', A(999999)),
    sc(abi, 'getpgid', [0x1000f423fn]),
    sc(abi, 'getpgid', A(1000000)),
    sc(abi, 'getpgid', A(1500000)),
    sc(abi, 'getpgid', A(2000000)),
    sc(abi, 'getpgid', A(2000001)),
    sc(abi, 'getpgid', A(5)),
    sc(abi, 'personality', [0xffffffffn]),
    sc(abi, 'personality', [0x1ffffffffn]),
    sc(abi, 'personality', A(0)),
    sc(abi, 'umask', [0o022n]),
    sc(abi, 'umask', [0o1022n]),
    sc(abi, 'umask', [0o077n]),
    sc(abi, 'umask', [0x100000012n]),
    sc(abi, 'umask', [0o002n]),
    sc(abi, 'read', A(1000, 0, 0)),
    sc(abi, 'reboot', A(0, 0, 0, 0), true),
    sc(abi, 'mount', A(0, 0, 0, 0, 0), true),
    sc(abi, 'umount2', A(0, 0), true),
    sc(abi, 'kexec_load', A(0, 0, 0, 0), true),
  ];
  if (abi !== 'i386') {
    cs.push(
      sc(abi, 'socket', A(1, 1, 0)),
      sc(abi, 'socket', A(16, 3, 0)),
      sc(abi, 'socket', [0x100000001n, 1n, 0n]),
      sc(abi, 'socket', A(2, 1, 0)),
      sc(abi, 'socket', A(40, 2, 0)),
      sc(abi, 'socket', A(40, 1, 0)),
    );
  }
  return cs;
}

function report(t: { diagnostic(msg: string): void }, v: Verdicts, what: string, profile?: string): void {
  totalChecked += v.checked;
  t.diagnostic(`${what}: ${v.checked} kernel verdicts compared`);
  for (const n of v.notRun) t.diagnostic(`not run (the emulator allows a dangerous call): ${n}`);
  assert.deepEqual(v.mismatches, [], `kernel disagrees with the emulator${profile ? ` for profile ${profile}` : ''}`);
}

test('hand-written profile: every action and operator, x86_64 syscalls', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const compiled = compileJson(handProfile(), ['x86_64', 'x86', 'x32']);
  const cases = [
    ...handCases('x86_64'),
    raw('x86_64', 1000, [], 'x86_64 unassigned nr 1000'),
    raw('x86_64', 0x3fffffff, [], 'x86_64 nr 0x3fffffff'),
  ];
  const v = kernelVsEmulator(compiled, cases);
  // The profile means what it says (guards against a vacuous comparison).
  const kinds = new Set(v.actions.map((a) => actionKind(a)));
  for (const k of ['ALLOW', 'ERRNO', 'TRAP', 'KILL_PROCESS', 'KILL_THREAD', 'LOG', 'TRACE', 'USER_NOTIF'] as const) {
    assert.ok(kinds.has(k), `some case exercises ${k}`);
  }
  assert.equal(v.notRun.length, 0, `dangerous cases the emulator allows: ${v.notRun.join('; ')}`);
  report(t, v, 'x86_64', jsonText(handProfile()));
});

// ---------------------------------------------------------------------------------------------
// 2. i386 via int $0x80, and x32 numbers

test('i386 and x32: per-arch numbers, the arch check and the x32 guard', async (t) => {
  const why = skipReason();
  if (why) return t.skip(why);

  await t.test('i386 via int $0x80 under the profile resolved for x86', (st) => {
    if (!hasIa32()) return st.skip('kernel has no IA32 emulation');
    const compiled = compileJson(handProfile(), ['x86_64', 'x86', 'x32']);
    const cases = [
      ...handCases('i386'),
      // socketcall exists only on i386: denied by its own rule
      sc('i386', 'socketcall', A(1, 0)),
      // 102 is socketcall on i386 but getuid on x86_64
      raw('x86_64', 102, [], 'x86_64 nr 102 (getuid)'),
      raw('i386', 20, [], 'i386 nr 20 (getpid)'),
      raw('i386', 64, [], 'i386 nr 64 (getppid)'),
      raw('i386', 6, [0x3e8n], 'i386 nr 6 (close)'),
      // 32-bit registers: the high word of a rule value can never match
      sc('i386', 'close', [0x1000003e8n]),
      raw('i386', 2000, [], 'i386 unassigned nr 2000'),
    ];
    const v = kernelVsEmulator(compiled, cases);
    const byLabel = new Map(cases.map((c, i) => [c.label, v.actions[i]!]));
    assert.equal(formatAction(byLabel.get('i386 socketcall(0x1, 0x0)')!), 'ERRNO(88)');
    assert.equal(formatAction(byLabel.get('x86_64 nr 102 (getuid)')!), 'ERRNO(13)');
    assert.equal(formatAction(byLabel.get('i386 nr 64 (getppid)')!), 'ALLOW');
    assert.equal(v.notRun.length, 0, v.notRun.join('; '));
    report(st, v, 'i386');
  });

  await t.test('i386 is killed by a profile compiled without x86', (st) => {
    if (!hasIa32()) return st.skip('kernel has no IA32 emulation');
    const compiled = compileJson(handProfile(), ['x86_64', 'x32']);
    const cases = [sc('i386', 'getpid'), sc('i386', 'getppid'), sc('i386', 'getuid'), sc('x86_64', 'getpid')];
    const v = kernelVsEmulator(compiled, cases);
    assert.deepEqual(v.actions.slice(0, 3).map(formatAction), ['KILL_PROCESS', 'KILL_PROCESS', 'KILL_PROCESS']);
    report(st, v, 'i386 without x86');
  });

  await t.test('x32 numbers under a profile compiled with x32', (st) => {
    const compiled = compileJson(handProfile(), ['x86_64', 'x86', 'x32']);
    const cases = [
      raw('x32', 0x40000027, [], 'x32 nr 0x40000027 (getpid)'),
      ...handCases('x32'),
      raw('x32', 0x40000000 + 1000, [], 'x32 unassigned nr 0x400003e8'),
      raw('x32', 0x7fffffff, [], 'x32 nr 0x7fffffff'),
      raw('x32', 0xffffffff, [], 'x32 nr 0xffffffff (-1)'),
    ];
    const v = kernelVsEmulator(compiled, cases);
    assert.equal(formatAction(v.actions[0]!), 'ALLOW', 'x32 getpid is allowed by the rules');
    assert.equal(v.notRun.length, 0, v.notRun.join('; '));
    report(st, v, 'x32');
  });

  await t.test('x32 numbers under a profile compiled without x32 are killed (the x32 guard)', (st) => {
    const compiled = compileJson(handProfile(), ['x86_64', 'x86']);
    const cases = [
      raw('x32', 0x40000027, [], 'x32 nr 0x40000027 (getpid)'),
      sc('x32', 'getppid'),
      sc('x32', 'close', [1000n]),
      sc('x32', 'getuid'),
      raw('x32', 0xffffffff, [], 'x32 nr 0xffffffff (-1)'),
      sc('x86_64', 'getpid'),
      sc('x86_64', 'getuid'),
    ];
    const v = kernelVsEmulator(compiled, cases);
    for (let i = 0; i < 5; i++) assert.equal(formatAction(v.actions[i]!), 'KILL_PROCESS', cases[i]!.label);
    report(st, v, 'x32 guard');
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Random profiles

/** mulberry32: small, seeded, good enough to spread cases. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let z = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
}

/** Syscalls that are harmless to run for real with the argument sanitising below. */
const HARMLESS = ['getppid', 'getpid', 'getuid', 'getgid', 'geteuid', 'getegid', 'gettid', 'getpgrp', 'getsid', 'getpgid',
  'close', 'dup', 'read', 'lseek', 'fcntl', 'ioctl', 'personality', 'umask'] as const;
/** Argument positions that must stay harmless: fd = low 32 bits >= 1000 (not open), persona = 0xffffffff (query). */
const GUARDED: Partial<Record<string, Record<number, 'fd' | 'persona'>>> = {
  close: { 0: 'fd' }, dup: { 0: 'fd' }, read: { 0: 'fd' }, lseek: { 0: 'fd' }, fcntl: { 0: 'fd' }, ioctl: { 0: 'fd' },
  personality: { 0: 'persona' },
};
/** Errnos an allowed harmless call can return by itself: kept out of ERRNO(n) so ALLOW stays distinguishable. */
const NATURAL_ERRNOS = new Set([3, 9, 14, 22, 25, 29, 38]);

function sanitize(name: string, index: number, v: bigint): bigint {
  const g = GUARDED[name]?.[index];
  if (g === 'fd') return (v & U32) < 1000n ? v + 1000n : v;
  if (g === 'persona') return v | U32;
  return v;
}

function randValue(r: Rng): bigint {
  switch (r.int(8)) {
    case 0: return BigInt(r.int(17));
    case 1: return 990n + BigInt(r.int(40));
    case 2: return r.pick([0xffffffffn, 0x100000000n, 0x100000001n, 0x7fffffffn, 0x80000000n, U64, 1n << 63n, (1n << 63n) - 1n]);
    case 3: return (BigInt(r.int(4)) << 32n) | (990n + BigInt(r.int(40)));
    case 4: return r.u64();
    case 5: return BigInt(r.u32());
    case 6: return BigInt(r.u32()) << 32n;
    default: return 999999n + BigInt(r.int(3));
  }
}

function randMask(r: Rng): bigint {
  switch (r.int(4)) {
    case 0: return BigInt(r.u32());
    case 1: return BigInt(r.u32()) << 32n;
    case 2: return (1n << BigInt(r.int(64))) | (1n << BigInt(r.int(64)));
    default: return r.u64();
  }
}

const OPS = ['EQ', 'NE', 'LT', 'LE', 'GT', 'GE', 'MASKED_EQ'] as const;

interface RandCond { index: number; op: (typeof OPS)[number]; value: bigint; valueTwo?: bigint }

function randAction(r: Rng): { action: string; errnoRet?: number } {
  switch (r.int(4)) {
    case 0: {
      let n: number;
      do n = 1 + r.int(200); while (NATURAL_ERRNOS.has(n));
      return { action: 'SCMP_ACT_ERRNO', errnoRet: n };
    }
    case 1: return { action: 'SCMP_ACT_ALLOW' };
    case 2: return { action: 'SCMP_ACT_TRAP' };
    default: return { action: 'SCMP_ACT_KILL_PROCESS' };
  }
}

interface RandProfile {
  json: JsonValue;
  arches: Arch[];
  /** Per syscall name, the conditions its rules use (to aim cases at them). */
  conds: Map<string, RandCond[]>;
}

function randomProfile(r: Rng): RandProfile {
  const names = HARMLESS.filter(() => r.chance(0.35));
  if (names.length === 0) names.push(r.pick(HARMLESS));
  const syscalls: JsonValue[] = [{ names: ['write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }];
  const conds = new Map<string, RandCond[]>();
  for (const name of names) {
    const list: RandCond[] = [];
    const nRules = 1 + r.int(3);
    for (let k = 0; k < nRules; k++) {
      const rule: { [key: string]: JsonValue } = { names: [name], ...randAction(r) };
      const nConds = r.int(4);
      const args: JsonValue[] = [];
      for (let j = 0; j < nConds; j++) {
        const index = r.chance(0.75) ? r.int(3) : r.int(6);
        const op = r.pick(OPS);
        const cond: RandCond = { index, op, value: 0n };
        if (op === 'MASKED_EQ') {
          cond.value = randMask(r);
          // usually a datum inside the mask; sometimes one with bits outside it (never matches)
          cond.valueTwo = r.chance(0.85) ? sanitize(name, index, randValue(r)) & cond.value : randValue(r);
        } else {
          cond.value = sanitize(name, index, randValue(r));
        }
        list.push(cond);
        args.push(arg(index, op, cond.value, cond.valueTwo));
      }
      if (args.length > 0) rule.args = args;
      syscalls.push(rule);
    }
    conds.set(name, list);
  }
  const def = randAction(r);
  const json: { [key: string]: JsonValue } = { defaultAction: def.action, syscalls };
  if (def.errnoRet !== undefined) json.defaultErrnoRet = def.errnoRet;
  const arches: Arch[] = ['x86_64'];
  if (r.chance(0.6)) arches.push('x86');
  if (r.chance(0.6)) arches.push('x32');
  return { json, arches, conds };
}

/** A value that hits, or just misses, condition `c`. */
function aimAt(r: Rng, c: RandCond): bigint {
  if (c.op === 'MASKED_EQ') {
    const hit = ((c.valueTwo ?? 0n) & c.value) | (r.u64() & ~c.value & U64);
    return r.chance(0.8) ? hit : hit ^ (1n << BigInt(r.int(64)));
  }
  switch (r.int(6)) {
    case 0: return (c.value + 1n) & U64;
    case 1: return (c.value - 1n) & U64;
    case 2: return c.value ^ (1n << 32n);
    case 3: return c.value & U32;
    default: return c.value;
  }
}

function randomCases(r: Rng, p: RandProfile, n: number, withI386: boolean): Case[] {
  const out: Case[] = [];
  const ruleNames = [...p.conds.keys()];
  while (out.length < n) {
    const roll = r.int(20);
    const abi: Abi = roll < 13 ? 'x86_64' : roll < 17 ? (withI386 ? 'i386' : 'x86_64') : 'x32';
    const name = r.chance(0.8) ? r.pick(ruleNames) : r.pick(HARMLESS);
    if (syscallNumber(archOfAbi[abi], name) === undefined) continue;
    const conds = p.conds.get(name) ?? [];
    const args: bigint[] = [];
    for (let i = 0; i < 6; i++) {
      const mine = conds.filter((c) => c.index === i);
      const v = mine.length > 0 && r.chance(0.7) ? aimAt(r, r.pick(mine)) : r.chance(0.3) ? 0n : randValue(r);
      args.push(sanitize(name, i, v));
    }
    out.push(sc(abi, name, args));
  }
  return out;
}

test('random profiles: 20 profiles x 30 cases, kernel == emulator', (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  const seed = Number(process.env.STOCKADE_SECCOMP_SEED ?? 0x5eccf00d);
  const r = new Rng(seed);
  const withI386 = hasIa32();
  if (!withI386) t.diagnostic('kernel has no IA32 emulation: random cases use x86_64 and x32 only');
  const failures: string[] = [];
  let checked = 0;
  let notDefault = 0;
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const p = randomProfile(r);
    const compiled = compileJson(p.json, p.arches, [], `random-${i}`);
    const cases = randomCases(r, p, 30, withI386);
    const v = kernelVsEmulator(compiled, cases);
    assert.equal(v.notRun.length, 0);
    checked += v.checked;
    v.actions.forEach((a) => seen.add(actionKind(a) ?? 'unknown'));
    notDefault += v.actions.filter((a) => a !== compiled.filter.defaultAction).length;
    if (v.mismatches.length > 0) {
      failures.push(`profile ${i} (seed ${seed}, arches ${p.arches.join(',')}): ${jsonText(p.json)}\n  ${v.mismatches.join('\n  ')}`);
    }
  }
  totalChecked += checked;
  t.diagnostic(`seed ${seed}: ${checked} kernel verdicts compared, ${notDefault} not the default action; actions seen: ${[...seen].sort().join(', ')}`);
  assert.ok(notDefault >= checked / 4, 'the random cases mostly reach rules, not just the default action');
  for (const k of ['ALLOW', 'ERRNO', 'TRAP', 'KILL_PROCESS']) assert.ok(seen.has(k), `the random cases reach ${k}`);
  assert.deepEqual(failures, [], 'kernel disagrees with the emulator');
});

// ---------------------------------------------------------------------------------------------
// 4. The 4096-instruction limit

/** The high word of argument j of rule i (nonzero: every condition costs two 32-bit comparisons). */
const bigHi = (i: number, j: number) => BigInt(i + 1 + j) << 32n;
/** Low word: argument 0 is the fd, kept >= 1000 so a matching-but-allowed ioctl is EBADF. */
const bigLo = (i: number, j: number) => BigInt(1000 + i + 0x1000 * j);
const bigArgs = (i: number) => [0, 1, 2, 3, 4, 5].map((j) => bigHi(i, j) | bigLo(i, j));
const bigErrno = (i: number) => 40 + (i % 150);

/** ioctl allowed, except n rules of six 64-bit EQ conditions each, one errno per rule. */
function bigProfile(n: number): JsonValue {
  const syscalls: JsonValue[] = [
    { names: ['write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['ioctl'], action: 'SCMP_ACT_ALLOW' },
  ];
  for (let i = 0; i < n; i++) {
    syscalls.push({ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: bigErrno(i), args: bigArgs(i).map((v, j) => arg(j, 'EQ', v)) });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls };
}

/** The compiled profile with n rules, or the StockadeError it throws. */
function tryBig(n: number): CompiledFilter | StockadeError {
  try {
    return compileJson(bigProfile(n), ['x86_64']);
  } catch (e) {
    if (e instanceof StockadeError) return e;
    throw e;
  }
}

const fitsLimit = (x: CompiledFilter | StockadeError): x is CompiledFilter => !(x instanceof StockadeError);

test('the 4096-instruction limit: compileFilter refuses past it, the kernel refuses 4097', (t) => {
  // The compiler side needs no kernel. Instruction count grows linearly with the rule count:
  // estimate the boundary from two small profiles, then walk to it.
  const small = [10, 20].map((n) => {
    const c = tryBig(n);
    assert.ok(fitsLimit(c), `${n} rules fit`);
    return c.program.length;
  });
  const perRule = (small[1]! - small[0]!) / 10;
  assert.ok(perRule > 0);
  let n = Math.max(1, Math.floor((4096 - (small[0]! - 10 * perRule)) / perRule));
  let cur = tryBig(n);
  while (!fitsLimit(cur)) cur = tryBig(--n);
  for (let next = tryBig(n + 1); fitsLimit(next); next = tryBig(n + 1)) {
    n++;
    cur = next;
  }
  const fits = cur;
  const over = tryBig(n + 1);
  assert.ok(over instanceof StockadeError);
  assert.equal(over.code, 'limit', over.message);
  assert.match(over.message, /4096/);
  assert.ok(fits.program.length <= 4096, `${fits.program.length}`);
  t.diagnostic(`${n} six-condition ioctl rules compile to ${fits.program.length} instructions; ${n + 1} exceed the limit`);

  const why = skipReason();
  if (why) return t.skip(why);
  // The largest program that compiles loads, and means what the emulator says.
  const cases = [
    sc('x86_64', 'ioctl', bigArgs(0)),
    sc('x86_64', 'ioctl', bigArgs(n >> 1)),
    sc('x86_64', 'ioctl', bigArgs(n - 1)),
    sc('x86_64', 'ioctl', bigArgs(n)), // no such rule
    sc('x86_64', 'ioctl', bigArgs(n - 1).map((v, j) => (j === 5 ? v ^ (1n << 40n) : v))),
    sc('x86_64', 'ioctl', bigArgs(3).map((v, j) => (j === 2 ? v & U32 : v))),
    sc('x86_64', 'ioctl', A(1000, 0x5401)),
    sc('x86_64', 'getpid'),
    sc('x86_64', 'getuid'),
  ];
  const v = kernelVsEmulator(fits, cases);
  assert.deepEqual(v.actions.slice(0, 4).map(formatAction),
    [`ERRNO(${bigErrno(0)})`, `ERRNO(${bigErrno(n >> 1)})`, `ERRNO(${bigErrno(n - 1)})`, 'ALLOW']);
  report(t, v, `${fits.program.length}-instruction program`);

  // A hand-made 4097-instruction program: the emulator's load check and the kernel both refuse it.
  const ret: Insn = { code: 0x06, jt: 0, jf: 0, k: RET.ALLOW };
  const tooLong: Insn[] = Array.from({ length: 4097 }, () => ret);
  assert.notEqual(checkProgram(tooLong), undefined);
  const o = probeRun(encodeProgram(tooLong), [sc('x86_64', 'getpid')])[0]!;
  assert.equal(o.outcome, 'error', JSON.stringify(o));
  if (o.outcome === 'error') assert.ok(o.errno === 22 || o.errno === 7, JSON.stringify(o));
  const max = probeRun(encodeProgram(tooLong.slice(1)), [sc('x86_64', 'getpid')])[0]!;
  assert.equal(max.outcome, 'return', `4096 instructions load: ${JSON.stringify(max)}`);
  totalChecked += 2;
});

// ---------------------------------------------------------------------------------------------
// 5. Docker's default profile

test("moby's default profile (x86_64+x86+x32, Docker's default caps) loads and matches", (t) => {
  const why = skipReason();
  if (why) return t.skip(why);
  if (!existsSync(mobyPath)) return t.skip(`missing ${mobyPath}`);
  const profile = parseProfile(readFileSync(mobyPath, 'utf8'), mobyPath);
  const compiled = compileFilter(
    resolveProfile(profile, { native: 'x86_64', arches: ['x86_64', 'x86', 'x32'], caps: DOCKER_DEFAULT_CAPS, kernel: KERNEL }),
    mobyPath,
  );
  t.diagnostic(`moby-default compiles to ${compiled.program.length} instructions`);
  const x = 'x86_64';
  const cases: Case[] = [
    sc(x, 'getppid'),
    sc(x, 'getpid'),
    sc(x, 'getuid'),
    sc(x, 'close', A(1000)),
    sc(x, 'dup', A(1000)),
    sc(x, 'read', A(1000, 0, 0)),
    sc(x, 'ioctl', A(1000, 0x5401)),
    sc(x, 'fcntl', A(1000, 1)),
    sc(x, 'getpgid', A(999999)),
    sc(x, 'umask', [0o022n]),
    sc(x, 'personality', [0xffffffffn]),
    sc(x, 'personality', [0x1ffffffffn]),
    sc(x, 'personality', [0x100000000n]),
    sc(x, 'personality', A(1)),
    sc(x, 'socket', A(2, 1, 0)),
    sc(x, 'socket', A(1, 1, 0)),
    sc(x, 'socket', A(38, 1, 0)),
    sc(x, 'socket', A(40, 1, 0)),
    sc(x, 'socket', [0x100000028n, 1n, 0n]),
    sc(x, 'io_uring_setup', A(0, 0)),
    sc(x, 'clone', A(0x10000000), true),
    sc(x, 'clone', A(0x00020000), true),
    sc(x, 'clone3', A(0, 0), true),
    sc(x, 'unshare', A(0x10000000), true),
    sc(x, 'mount', A(0, 0, 0, 0, 0), true),
    sc(x, 'umount2', A(0, 0), true),
    sc(x, 'reboot', A(0, 0, 0, 0), true),
    sc(x, 'kexec_load', A(0, 0, 0, 0), true),
    sc(x, 'init_module', A(0, 0, 0), true),
    sc(x, 'swapon', A(0, 0), true),
    sc(x, 'bpf', A(0, 0, 0), true),
    sc(x, 'pivot_root', A(0, 0), true),
    sc(x, 'setns', A(1000, 0), true),
    raw(x, 1000, [], 'x86_64 unassigned nr 1000'),
    raw('x32', 0x40000027, [], 'x32 nr 0x40000027 (getpid)'),
    sc('x32', 'getuid'),
    sc('x32', 'close', A(1000)),
    sc('x32', 'mount', A(0, 0, 0, 0, 0), true),
    sc('x32', 'reboot', A(0, 0, 0, 0), true),
  ];
  if (hasIa32()) {
    cases.push(
      sc('i386', 'getpid'),
      sc('i386', 'getppid'),
      sc('i386', 'close', A(1000)),
      sc('i386', 'socketcall', A(1, 0)),
      sc('i386', 'personality', [0xffffffffn]),
      sc('i386', 'mount', A(0, 0, 0, 0, 0), true),
      sc('i386', 'reboot', A(0, 0, 0, 0), true),
    );
  } else t.diagnostic('kernel has no IA32 emulation: no i386 cases');
  const v = kernelVsEmulator(compiled, cases);
  assert.equal(formatAction(v.actions[0]!), 'ALLOW', 'moby allows getppid');
  report(t, v, 'moby-default');
  t.diagnostic(`this file so far: ${totalChecked} kernel verdicts compared with the emulator`);
});
