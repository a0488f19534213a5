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
  oci: {
    version: 1, wallTimeoutMs: 0, detached: true,
    ops: [
      { op: 'startGate', fifo: '/run/c/exec.fifo' },
      { op: 'consoleSocket', path: '/run/c/console.sock' },
      { op: 'oomScoreAdj', value: -17 },
      { op: 'namespaces', ns: { user: false, pid: true, mount: true, net: true, uts: true, ipc: false, cgroup: false } },
      { op: 'joinNamespace', type: 'ipc', path: '/proc/1/ns/ipc' },
      { op: 'rootfs', source: '/b/rootfs', readOnly: true },
      { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: 0xen, propagation: 0n, data: '', kind: 'dir' },
      { op: 'mount', source: '/etc/hosts', target: '/etc/hosts', fstype: '', flags: 0x5001n, propagation: (1n << 18n) | 0x4000n, data: '', kind: 'file' },
      { op: 'mount', source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: 0x2n, propagation: 0n, data: 'size=65536k,mode=755', kind: 'dir' },
      { op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1' },
      { op: 'pivotRoot' },
      { op: 'rlimit', resource: 'rttime', soft: 1n, hard: 2n },
      { op: 'user', uid: 1, gid: 1, groups: [] },
      { op: 'capabilitySets', bounding: 0x400n, effective: 0x400n, permitted: 0x400n, inheritable: 0x400n, ambient: 0x400n },
      { op: 'setsid', terminal: true },
      exec,
    ],
  },
  ociExec: {
    version: 1, wallTimeoutMs: 0,
    ops: [
      { op: 'joinNamespace', type: 'pid', path: '/proc/7/ns/pid' },
      { op: 'joinNamespace', type: 'mount', path: '/proc/7/ns/mnt' },
      { op: 'joinNamespace', type: 'net', path: '/proc/7/ns/net' },
      { op: 'cgroup', procsFiles: ['/sys/fs/cgroup/pids/c/cgroup.procs'] },
      { op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
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
    join(native, 'fuzz', 'plan_fuzz.c'), join(native, 'helper', 'plan.c'), join(native, 'helper', 'plan_ops.c'), join(native, 'helper', 'plan_check.c'), join(native, 'helper', 'plan_json.c'), join(native, 'helper', 'status.c'),
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
