// `npm run bench:seccomp`: stockade's seccomp compiler against libseccomp 2.5.4 on Docker's default
// profile (moby-default.json) for x86_64. Prints a report; asserts nothing.
//
//   1. Program shape: length, instructions executed per x86_64 syscall (stockade's emulator, args 0),
//      and how many plainly allowed syscalls the kernel's action cache can serve (5.11+: the path
//      for that syscall uses only loads of nr/arch, JEQ/JGE/JGT/JSET/AND with constants, JA and RET).
//      libseccomp gets the same resolved rules through test/oracle/libseccomp_export.py (run with
//      /usr/bin/python3, where Debian's python3-seccomp lives), linear (optimize 1) and as a binary
//      tree (optimize 2), for x86_64 alone and for x86_64 + x86 + x32.
//   2. ns per syscall with each filter loaded, measured by native/build/filter-bench
//      (native/bench/filter_bench.c), rounds interleaved, medians compared within this one run.
//
// Environment: STOCKADE_SHARED (the shared directory; default ../shared next to the repository),
// STOCKADE_FILTER_BENCH (the filter-bench binary), STOCKADE_BENCH_ROUNDS, STOCKADE_BENCH_ITERATIONS.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseProfile } from '../src/seccomp/profile.js';
import { DOCKER_DEFAULT_CAPS, resolveProfile } from '../src/seccomp/resolve.js';
import { compileFilter, isCacheFriendly } from '../src/seccomp/compile.js';
import { checkProgram, emulate } from '../src/seccomp/emulate.js';
import { decodeProgram, type Insn } from '../src/seccomp/bpf.js';
import { formatAction, RET } from '../src/seccomp/actions.js';
import { syscallNumber, syscallsOf } from '../src/seccomp/syscalls.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT, type Arch } from '../src/seccomp/arch.js';
import type { SeccompFilter } from '../src/seccomp/rules.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.STOCKADE_SHARED ?? join(root, '..', 'shared');
const profilePath = join(shared, 'data', 'seccomp', 'moby-default.json');
const PYTHON = '/usr/bin/python3';
const ORACLE = join(root, 'test', 'oracle', 'libseccomp_export.py');
const FILTER_BENCH = process.env.STOCKADE_FILTER_BENCH ?? join(root, 'native', 'build', 'filter-bench');
const ROUNDS = Number(process.env.STOCKADE_BENCH_ROUNDS ?? 21);
const ITERATIONS = Number(process.env.STOCKADE_BENCH_ITERATIONS ?? 200_000);
const ALL3: Arch[] = ['x86_64', 'x86', 'x32'];

// ---------------------------------------------------------------------------------------------
// Programs

interface Program {
  label: string;
  program: Insn[];
  bytes: Buffer;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/**
 * The resolved rules as a libseccomp request. Rules are added by name, as runc does with a profile:
 * libseccomp resolves each name on each arch of its filter (and, like runc, rewrites i386 socket calls
 * to socketcall). Left out, as runc leaves them out: rules whose action is the default one (libseccomp
 * refuses them; they change nothing) and names libseccomp 2.5.4 does not know on any of the arches.
 */
function oracleRequest(filter: SeccompFilter, optimize: 1 | 2, known: (name: string) => boolean): unknown {
  const seen = new Set<string>();
  const rules: unknown[] = [];
  for (const arch of filter.arches) {
    for (const r of filter.rules[arch] ?? []) {
      if (r.action === filter.defaultAction || !known(r.name)) continue;
      const rule = {
        action: formatAction(r.action),
        syscall: r.name,
        args: r.conds.map((c) => (c.op === 'MASKED_EQ'
          ? { arg: c.index, op: c.op, value: hex(c.value), mask: hex(c.mask) }
          : { arg: c.index, op: c.op, value: hex(c.value) })),
      };
      const key = JSON.stringify(rule);
      if (seen.has(key)) continue;
      seen.add(key);
      rules.push(rule);
    }
  }
  return { default: formatAction(filter.defaultAction), arches: filter.arches, optimize, rules };
}

interface OracleReply {
  programs: Array<string | { error: string }>;
  numbers?: Record<string, Record<string, number | null>>;
}

function callOracle(request: unknown): OracleReply | string {
  const r = spawnSync(PYTHON, [ORACLE], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? r.stderr.trim();
    return `libseccomp unavailable (${why || `status ${r.status}`}); apt-get install python3-seccomp`;
  }
  return JSON.parse(r.stdout) as OracleReply;
}

function libseccomp(requests: unknown[]): Array<Buffer | string> {
  const out = callOracle({ profiles: requests, timeout: 30 });
  if (typeof out === 'string') return requests.map(() => out);
  return out.programs.map((p) => (typeof p === 'string' ? Buffer.from(p, 'hex') : `libseccomp: ${p.error}`));
}

/** The rule names libseccomp knows on at least one of `arches` (all of them when it cannot be asked). */
function libseccompNames(filters: readonly SeccompFilter[], arches: readonly Arch[]): { known: (name: string) => boolean; unknown: string[] } {
  const names = [...new Set(filters.flatMap((f) => f.arches.flatMap((a) => (f.rules[a] ?? []).map((r) => r.name))))].sort();
  const out = callOracle({ profiles: [], resolve: { arches, names } });
  if (typeof out === 'string' || !out.numbers) return { known: () => true, unknown: [] };
  const numbers = out.numbers;
  const unknown = names.filter((n) => arches.every((a) => numbers[a]?.[n] == null));
  const set = new Set(unknown);
  return { known: (n) => !set.has(n), unknown };
}

// ---------------------------------------------------------------------------------------------
// Shape

interface Shape {
  length: number;
  mean: number;
  worst: number;
  allowed: number;
  cached: number;
  /** Plain allows (per the resolved filter) this program does not allow at all. */
  denied: number;
  /** Mean / worst over the i386 table (3-arch programs only). */
  mean32?: number;
  worst32?: number;
}

/**
 * The syscalls of `arch` the resolved filter allows whatever their arguments: every rule for the
 * number allows and one of them has no conditions (or the default allows and no rule names it).
 * Conditional allows (socket, personality, clone in Docker's profile) cannot be cached by the kernel.
 */
function plainAllows(filter: SeccompFilter, arch: Arch): Set<number> {
  const out = new Set<number>();
  const rules = filter.rules[arch] ?? [];
  for (const [, nr] of syscallsOf(arch)) {
    const mine = rules.filter((r) => r.nr === nr);
    if (mine.length === 0 ? filter.defaultAction === RET.ALLOW
      : mine.every((r) => r.action === RET.ALLOW) && mine.some((r) => r.conds.length === 0)) out.add(nr);
  }
  return out;
}

function walk(prog: readonly Insn[], arch: number, nrs: readonly number[], plain: ReadonlySet<number>) {
  let total = 0;
  let worst = 0;
  let cached = 0;
  let denied = 0;
  for (const nr of nrs) {
    const r = emulate(prog, { nr, arch, args: [] });
    if (plain.has(nr) && r.action !== RET.ALLOW) denied++;
    total += r.path.length;
    worst = Math.max(worst, r.path.length);
    // What the kernel's seccomp_cache_prepare does: run the program with only nr and arch known.
    if (plain.has(nr) && r.action === RET.ALLOW && r.path.every((pc) => isCacheFriendly(prog[pc]!))) cached++;
  }
  return { mean: total / nrs.length, worst, allowed: plain.size, cached, denied };
}

function shape(prog: readonly Insn[], filter: SeccompFilter): Shape {
  const x64 = walk(prog, AUDIT_ARCH.x86_64, syscallsOf('x86_64').map(([, nr]) => nr), plainAllows(filter, 'x86_64'));
  const s: Shape = { length: prog.length, mean: x64.mean, worst: x64.worst, allowed: x64.allowed, cached: x64.cached, denied: x64.denied };
  if (filter.arches.includes('x86')) {
    const i386 = walk(prog, AUDIT_ARCH.x86, syscallsOf('x86').map(([, nr]) => nr), plainAllows(filter, 'x86'));
    s.mean32 = i386.mean;
    s.worst32 = i386.worst;
  }
  return s;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printShapes(title: string, rows: Array<[string, Shape | string]>, anchors: string[], threeArch: boolean): void {
  console.log(`\n${title}`);
  const head = ['', 'insns', 'mean', 'worst', 'plain ALLOW cached', ...(threeArch ? ['i386 mean/worst'] : [])];
  const widths = [25, 6, 6, 6, 19, 16];
  console.log('  ' + head.map((h, i) => pad(h, widths[i]!, i > 0)).join(' '));
  for (const [label, s] of rows) {
    if (typeof s === 'string') {
      console.log(`  ${pad(label, widths[0]!)} ${s}`);
      continue;
    }
    const cells = [label, String(s.length), s.mean.toFixed(1), String(s.worst), `${s.cached}/${s.allowed}`,
      ...(threeArch ? [`${s.mean32!.toFixed(1)}/${s.worst32}`] : [])];
    console.log('  ' + cells.map((c, i) => pad(c, widths[i]!, i > 0)).join(' '));
  }
  const denying = rows.filter((r): r is [string, Shape] => typeof r[1] !== 'string' && r[1].denied > 0);
  if (denying.length > 0) {
    console.log(`  (${denying.map(([l, sh]) => `${l.split(' (')[0]} ${sh.denied}`).join(', ')}: plain allows denied outright, the names libseccomp does not know)`);
  }
  for (const a of anchors) console.log(`  ${a}`);
}

// ---------------------------------------------------------------------------------------------
// Timing

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function timeSyscalls(programs: Program[], stockade: Program): void {
  console.log('\nns per syscall with the filter loaded (filter-bench; x86_64 filters)');
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    console.log('  skipped: needs linux on x86_64');
    return;
  }
  if (!existsSync(FILTER_BENCH)) {
    console.log(`  skipped: ${FILTER_BENCH} is missing (node scripts/build-native.mjs builds it)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'stockade-bench-'));
  try {
    const configs = [{ label: 'no filter', file: 'none' }, ...programs.map((p, i) => {
      const file = join(dir, `filter-${i}.bpf`);
      writeFileSync(file, p.bytes);
      return { label: p.label, file };
    })];
    const calls = [
      { label: 'nr 1000 (none)', nr: 1000 },
      { label: 'io_uring_setup', nr: syscallNumber('x86_64', 'io_uring_setup')! },
      { label: 'getppid', nr: syscallNumber('x86_64', 'getppid')! },
    ];
    const samples = calls.map(() => configs.map(() => [] as number[]));
    const rets = calls.map(() => configs.map(() => ''));
    const stockadeIdx = configs.findIndex((c) => c.label === stockade.label);
    const treeIdx = configs.findIndex((c) => c.label.includes('tree'));
    const ratios = calls.map(() => [] as number[]);
    const failures: string[] = [];
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved: every (call, filter) pair once per round, in reversed order every other round,
      // so drift hits all of them alike; stockade/tree is also taken within each round (the two runs
      // are neighbours in time) and the median of those ratios reported.
      const order = round % 2 === 0 ? configs.map((_, i) => i) : configs.map((_, i) => configs.length - 1 - i);
      calls.forEach((call, ci) => {
        const got: number[] = [];
        for (const fi of order) {
          const cfg = configs[fi]!;
          const r = spawnSync(FILTER_BENCH, [cfg.file, String(call.nr), String(ITERATIONS)], { encoding: 'utf8' });
          const m = /^([\d.]+) (-?\d+) ([\d.]+)/.exec(r.stdout ?? '');
          if (r.status !== 0 || !m) {
            if (failures.length < 3) failures.push(`${cfg.label} ${call.label}: status ${r.status} signal ${r.signal} ${(r.stderr ?? '').trim()}`);
            continue;
          }
          got[fi] = Number(m[3]); // the fastest batch of the run
          samples[ci]![fi]!.push(got[fi]!);
          rets[ci]![fi] = m[2]!;
        }
        if (got[stockadeIdx] !== undefined && got[treeIdx] !== undefined) ratios[ci]!.push(got[stockadeIdx]! / got[treeIdx]!);
      });
    }
    const seconds = (Date.now() - started) / 1000;
    const w = [16, ...configs.map((c) => Math.max(c.label.length + 2, 13)), 15, 14];
    console.log(`  ns per call: median over ${ROUNDS} interleaved rounds of each run's fastest fifth of ${ITERATIONS.toLocaleString('en-US')} calls `
      + `(${seconds.toFixed(1)} s); instructions executed in parentheses`);
    const head = ['', ...configs.map((c) => c.label), 'stockade/tree', 'filter cost'];
    console.log('  ' + head.map((h, i) => pad(h, w[i]!, i > 0)).join(''));
    const verdicts: string[] = [];
    calls.forEach((call, ci) => {
      const med = samples[ci]!.map((xs) => (xs.length ? median(xs) : NaN));
      const cells = configs.map((cfg, fi) => {
        const p = programs.find((x) => x.label === cfg.label);
        const steps = p ? ` (${emulate(p.program, { nr: call.nr, arch: AUDIT_ARCH.x86_64, args: [0n, 0n] }).path.length})` : '';
        return `${med[fi]!.toFixed(1)}${steps}`;
      });
      const ratio = ratios[ci]!.length > 0 ? median(ratios[ci]!).toFixed(3) : 'n/a';
      // What each filter adds to the unfiltered call; meaningless when the filter spares the kernel
      // work (a denied io_uring_setup is cheaper than running it).
      const addS = med[stockadeIdx]! - med[0]!;
      const addT = med[treeIdx]! - med[0]!;
      const cost = treeIdx >= 0 && addS > 0 && addT > 0 ? `${addS.toFixed(0)}/${addT.toFixed(0)} ns` : '-';
      console.log('  ' + [call.label, ...cells, ratio, cost].map((c, i) => pad(c, w[i]!, i > 0)).join(''));
      const runs = programs.map((p) => ({ p, r: emulate(p.program, { nr: call.nr, arch: AUDIT_ARCH.x86_64, args: [0n, 0n] }) }));
      const kinds = [...new Set(runs.map(({ r }) => formatAction(r.action)))];
      const held = runs.filter(({ p, r }) => r.action === RET.ALLOW && r.path.every((pc) => isCacheFriendly(p.program[pc]!))).map(({ p }) => p.label);
      verdicts.push(`${call.label.startsWith('nr ') ? `nr ${call.nr}` : `${call.label} (${call.nr})`}: `
        + `${kinds.length === 1 ? `${kinds[0]} under every filter` : runs.map(({ p, r }) => `${p.label} ${formatAction(r.action)}`).join(', ')}`
        + `, returns ${rets[ci]![stockadeIdx]}, unfiltered ${rets[ci]![0]}`
        + (held.length > 0 ? `; the kernel's action cache holds it (no filter runs) under ${held.length === programs.length ? 'all of them' : held.join(', ')}` : ''));
    });
    console.log('  stockade/tree: median over the rounds of (time under stockade\'s filter / under libseccomp\'s tree); target <= 1.0.');
    console.log('  filter cost: ns each adds to the unfiltered call, stockade/tree.');
    for (const v of verdicts) console.log(`  ${v}`);
    console.log('  anchors (other run): getppid none 169, cache-held verdict ~209, tree 227, linear 242;');
    console.log('  nr 1000 none 111, tree 159, linear 198; ~0.12 ns per executed instruction, ~41 ns fixed per filter.');
    for (const f of failures) console.log(`  failed: ${f}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function main(): void {
  const started = Date.now();
  console.log(`stockade seccomp benchmark: ${profilePath}`);
  const profile = parseProfile(readFileSync(profilePath, 'utf8'), profilePath);
  const target = { native: 'x86_64' as const, caps: DOCKER_DEFAULT_CAPS, kernel: [6, 18] as const };
  const single = resolveProfile(profile, { ...target, arches: ['x86_64'] });
  const triple = resolveProfile(profile, { ...target, arches: ALL3 });
  const ours1 = compileFilter(single);
  const ours3 = compileFilter(triple);
  for (const c of [ours1, ours3]) {
    const bad = checkProgram(c.program);
    if (bad) console.log(`  warning: stockade's program fails the kernel's checks: ${bad}`);
  }
  const denied = syscallsOf('x86_64').filter(([, nr]) => emulate(ours1.program, { nr, arch: AUDIT_ARCH.x86_64, args: [] }).action !== RET.ALLOW).length;
  console.log(`resolved for x86_64, Docker's default capabilities, kernel 6.18: ${single.rules.x86_64!.length} rules; `
    + `${denied} of ${syscallsOf('x86_64').length} x86_64 syscalls not allowed (args 0)`);

  const names = libseccompNames([single, triple], ALL3);
  if (names.unknown.length > 0) console.log(`libseccomp 2.5.4 does not know ${names.unknown.join(', ')}: left out of its filters, as runc does`);
  const [lin1, tree1, lin3, tree3] = libseccomp([
    oracleRequest(single, 1, names.known), oracleRequest(single, 2, names.known),
    oracleRequest(triple, 1, names.known), oracleRequest(triple, 2, names.known),
  ]);
  const asProgram = (label: string, out: Buffer | string | undefined): Program | string => {
    if (out === undefined || typeof out === 'string') return out ?? 'no output';
    return { label, program: decodeProgram(out, label), bytes: out };
  };
  const row = (p: Program | string, filter: SeccompFilter): Shape | string => (typeof p === 'string' ? p : shape(p.program, filter));

  const s1: Program = { label: 'stockade', program: ours1.program, bytes: ours1.bytes };
  const l1 = asProgram('libseccomp linear', lin1);
  const t1 = asProgram('libseccomp tree', tree1);
  printShapes('x86_64 only: program length; instructions executed per x86_64 syscall (args 0); plain ALLOWs the action cache holds', [
    ['stockade', shape(s1.program, single)],
    ['libseccomp linear (-O1)', row(l1, single)],
    ['libseccomp tree (-O2)', row(t1, single)],
  ], [
    'anchors: libseccomp 337 linear / 415 tree; mean/worst linear 189/315, tree 15.7/22',
    'targets: stockade <= 150 insns, mean <= 12, worst <= 13, every plain ALLOW cached',
  ], false);

  const l3 = asProgram('libseccomp linear', lin3);
  const t3 = asProgram('libseccomp tree', tree3);
  printShapes('x86_64 + x86 + x32 (columns as above, over the x86_64 table; then the i386 table)', [
    ['stockade', shape(ours3.program, triple)],
    ['libseccomp linear (-O1)', row(l3, triple)],
    ['libseccomp tree (-O2)', row(t3, triple)],
  ], ['anchors: libseccomp 1001 linear / 1246 tree; runc 1.1.5 emits 1015'], true);

  // Sanity: the programs agree on every x86_64 syscall libseccomp knows (args 0), and on x32 numbers.
  const disagree: string[] = [];
  for (const p of [l1, t1]) {
    if (typeof p === 'string') continue;
    for (const [name, nr] of syscallsOf('x86_64')) {
      if (!names.known(name)) continue;
      for (const n of [nr, nr | X32_SYSCALL_BIT]) {
        const a = emulate(s1.program, { nr: n, arch: AUDIT_ARCH.x86_64, args: [] }).action;
        const b = emulate(p.program, { nr: n, arch: AUDIT_ARCH.x86_64, args: [] }).action;
        if (a !== b && disagree.length < 5) disagree.push(`${p.label} ${name}${n !== nr ? ' (x32 nr)' : ''}: stockade ${formatAction(a)}, libseccomp ${formatAction(b)}`);
      }
    }
  }
  console.log(disagree.length === 0 ? '  (stockade and libseccomp agree on every x86_64 syscall libseccomp knows, args 0, and on x32 numbers)' : `  verdicts differ: ${disagree.join('; ')}`);

  const timed = [s1, ...[t1, l1].filter((p): p is Program => typeof p !== 'string')];
  timeSyscalls(timed, s1);
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
