// The helper's plan decoder under a mutation fuzzer (native/fuzz/plan_fuzz.c), built here with
// AddressSanitizer and UndefinedBehaviorSanitizer so that any out-of-bounds read, overflow, leak or
// undefined behaviour aborts the run. Seeds: plans written by the TypeScript encoder now, plus the
// committed corpus in native/fuzz/corpus/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan, PlanOp } from '../src/helper/plan.js';
import { encodePlan } from '../src/helper/protocol.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = join(root, 'native');
const work = mkdtempSync(join(tmpdir(), 'stockade-fuzz-'));
after(() => rmSync(work, { recursive: true, force: true }));

const exec: PlanOp = { op: 'exec', path: '/bin/sh', argv: ['sh', '-c', 'true'], env: ['PATH=/usr/bin'], cwd: '/' };
const SEEDS: Record<string, Plan> = {
  minimal: { version: 1, wallTimeoutMs: 0, ops: [exec] },
  sandbox: {
    version: 1, wallTimeoutMs: 1000, verbose: true,
    ops: [
      { op: 'namespaces', ns: { user: true, pid: true, mount: true, net: true, uts: true, ipc: true, cgroup: false } },
      { op: 'idmap', uidInside: 0, uidOutside: 1000, uidCount: 1, gidInside: 0, gidOutside: 1000, gidCount: 1 },
      { op: 'rootTmpfs' },
      { op: 'bind', source: '/usr', target: '/usr', readOnly: true, optional: false, idmapRoot: false },
      { op: 'tmpfs', target: '/tmp', sizeBytes: 4096, mode: 0o1777 },
      { op: 'proc', target: '/proc' },
      { op: 'dev', target: '/dev' },
      { op: 'mkdir', target: '/w', mode: 0o755 },
      { op: 'symlink', target: 'usr/bin', linkPath: '/bin' },
      { op: 'hide', target: '/usr/x' },
      { op: 'pivotRoot' },
      { op: 'hostname', name: 'h' },
      { op: 'rlimit', resource: 'as', soft: 1n << 40n, hard: (1n << 64n) - 1n },
      { op: 'cgroup', procsFiles: ['/sys/fs/cgroup/a/cgroup.procs'] },
      { op: 'user', uid: 0, gid: 0, groups: [1, 2] },
      { op: 'capabilities', keep: [0, 10, 21] },
      { op: 'setsid', terminal: false },
      { op: 'noNewPrivs' },
      { op: 'landlock', ruleset: { abi: 4, handledFs: 0x7fffn, handledNet: 3n, scoped: 0n, required: false, paths: [{ path: '/usr', access: 13n, optional: true }], ports: [{ port: 8080, access: 3n }] } },
      { op: 'seccomp', program: Buffer.from('06000000' + '0000ff7f', 'hex'), flags: 0, log: false },
      exec,
    ],
  },
};

function gccSkip(): string | false {
  const v = spawnSync('gcc', ['--version']);
  if (v.error || v.status !== 0) return 'gcc is not installed (apt-get install gcc)';
  return false;
}

test('the plan decoder survives 5 seconds of mutation fuzzing under ASan and UBSan', { skip: gccSkip(), timeout: 60_000 }, (t) => {
  const bin = join(work, 'plan_fuzz');
  const cc = spawnSync('gcc', [
    '-std=gnu11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-g', '-O1',
    '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer',
    '-o', bin,
    join(native, 'fuzz', 'plan_fuzz.c'), join(native, 'helper', 'plan.c'), join(native, 'helper', 'plan_check.c'), join(native, 'helper', 'plan_json.c'), join(native, 'helper', 'status.c'),
  ], { encoding: 'utf8' });
  if (cc.status !== 0 && /asan|ubsan|sanitizer/i.test(cc.stderr)) {
    t.skip(`gcc cannot link the sanitizers (install libasan8 and libubsan1): ${cc.stderr.split('\n')[0]}`);
    return;
  }
  assert.equal(cc.status, 0, cc.stderr);

  const corpus = join(work, 'corpus');
  mkdirSync(corpus);
  for (const [name, plan] of Object.entries(SEEDS)) writeFileSync(join(corpus, `ts-${name}.plan`), encodePlan(plan));
  const committed = join(native, 'fuzz', 'corpus');
  if (existsSync(committed)) for (const f of readdirSync(committed)) copyFileSync(join(committed, f), join(corpus, f));

  const seed = String(Date.now() % 1_000_000_007);
  const r = spawnSync(bin, [corpus, '--seconds', '5', '--seed', seed], {
    encoding: 'utf8',
    timeout: 40_000,
    env: { ...process.env, ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
  });
  assert.equal(r.status, 0, `seed ${seed}: ${r.stderr.slice(0, 4000)}`);
  const stats = JSON.parse(r.stdout) as { inputs: number; decoded: number; seeds: number };
  t.diagnostic(`seed ${seed}: ${stats.inputs} inputs, ${stats.decoded} decoded, ${stats.seeds} seeds`);
  assert.ok(stats.inputs > 10_000, `only ${stats.inputs} inputs`);
  assert.ok(stats.seeds >= Object.keys(SEEDS).length);
  assert.ok(stats.decoded > 0, 'no mutant decoded: the fuzzer never got past the header');
});
