// The C helper against the real kernel. Each test runs a real plan and asserts what the kernel
// enforces (an errno, a /proc field, a process that is gone), not what the helper says it did.
// Every behaviour runs twice where it can: as root without a user namespace ("root"), and as uid
// 65534 with a user namespace ("rootless"). Anything the host cannot do is skipped with the reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnHelper, type HelperRun } from '../src/helper/client.js';
import { CAPABILITIES, type HelperStatus, type LandlockRuleset, type Plan, type PlanOp } from '../src/helper/plan.js';
import { encodePlan } from '../src/helper/protocol.js';
import { OP, encodeProgram, insn } from '../src/seccomp/bpf.js';
import { RET } from '../src/seccomp/actions.js';
import { builtinProfile } from '../src/seccomp/builtin.js';
import { compileFilter } from '../src/seccomp/compile.js';
import { parseProfile } from '../src/seccomp/profile.js';
import { parseKernelVersion, resolveProfile } from '../src/seccomp/resolve.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helper = join(root, 'native', 'build', 'stockade-helper');
const PY = '/usr/bin/python3';
const NOBODY = 65534;
const IS_ROOT = process.getuid?.() === 0;
const CAP_NET_BIND_SERVICE = CAPABILITIES.CAP_NET_BIND_SERVICE!;

type Mode = 'root' | 'rootless';
const MODES: Mode[] = ['root', 'rootless'];

// ---------------------------------------------------------------------------------------------
// Scratch space the sandboxed uid can read (the workload runs as 65534 in both modes)

const scratch = mkdtempSync(join(tmpdir(), 'stockade-helper-'));
chmodSync(scratch, 0o755);
const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // best effort
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

function scratchDir(name: string, mode = 0o755): string {
  const d = join(scratch, name);
  mkdirSync(d, { recursive: true });
  chmodSync(d, mode);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Plans

interface SandboxOpts {
  argv: string[];
  env?: string[];
  cwd?: string;
  path?: string;
  mounts?: PlanOp[]; // after the standard ones, before pivotRoot
  hostname?: string;
  rlimits?: PlanOp[];
  cgroup?: string[];
  user?: { uid: number; gid: number; groups: number[] } | null;
  caps?: number[] | null;
  setsid?: boolean | 'terminal';
  nnp?: boolean;
  landlock?: LandlockRuleset;
  seccomp?: Buffer;
  wallTimeoutMs?: number;
  verbose?: boolean;
  net?: boolean;
}

const bind = (source: string, target: string, readOnly: boolean, extra: Partial<Extract<PlanOp, { op: 'bind' }>> = {}): PlanOp =>
  ({ op: 'bind', source, target, readOnly, optional: false, idmapRoot: false, ...extra });

/** A typical sandbox: fresh root with /usr and /etc read-only, proc, dev, a tmpfs /tmp. */
function sandbox(mode: Mode, o: SandboxOpts): Plan {
  const rootless = mode === 'rootless';
  const ops: PlanOp[] = [
    { op: 'namespaces', ns: { user: rootless, pid: true, mount: true, net: o.net ?? true, uts: true, ipc: true, cgroup: true } },
  ];
  if (rootless) ops.push({ op: 'idmap', uidInside: NOBODY, uidOutside: NOBODY, uidCount: 1, gidInside: NOBODY, gidOutside: NOBODY, gidCount: 1 });
  ops.push(
    { op: 'rootTmpfs' },
    bind('/usr', '/usr', true),
    { op: 'symlink', target: 'usr/bin', linkPath: '/bin' },
    { op: 'symlink', target: 'usr/sbin', linkPath: '/sbin' },
    { op: 'symlink', target: 'usr/lib', linkPath: '/lib' },
    { op: 'symlink', target: 'usr/lib64', linkPath: '/lib64' },
    bind('/etc', '/etc', true),
    { op: 'proc', target: '/proc' },
    { op: 'dev', target: '/dev' },
    { op: 'tmpfs', target: '/tmp', sizeBytes: 16 << 20, mode: 0o1777 },
    ...(o.mounts ?? []),
    { op: 'pivotRoot' },
  );
  if (o.hostname) ops.push({ op: 'hostname', name: o.hostname });
  ops.push(...(o.rlimits ?? []));
  if (o.cgroup) ops.push({ op: 'cgroup', procsFiles: o.cgroup });
  const user = o.user === undefined ? { uid: NOBODY, gid: NOBODY, groups: [] } : o.user;
  if (user) ops.push({ op: 'user', ...user });
  const caps = o.caps === undefined ? [] : o.caps;
  if (caps) ops.push({ op: 'capabilities', keep: caps });
  if (o.setsid !== false) ops.push({ op: 'setsid', terminal: o.setsid === 'terminal' });
  if (o.nnp !== false) ops.push({ op: 'noNewPrivs' });
  if (o.landlock) ops.push({ op: 'landlock', ruleset: o.landlock });
  if (o.seccomp) ops.push({ op: 'seccomp', program: o.seccomp, flags: 0, log: false });
  ops.push({ op: 'exec', path: o.path ?? o.argv[0]!, argv: o.argv, env: o.env ?? ['PATH=/usr/bin:/bin', 'HOME=/tmp'], cwd: o.cwd ?? '/' });
  return { version: 1, ops, wallTimeoutMs: o.wallTimeoutMs ?? 20_000, verbose: o.verbose ?? false };
}

const sh = (mode: Mode, script: string, o: Partial<SandboxOpts> = {}) => sandbox(mode, { argv: ['/bin/sh', '-c', script], ...o });
const py = (mode: Mode, code: string, o: Partial<SandboxOpts> = {}) => sandbox(mode, { argv: [PY, '-c', code], ...o });

interface Ran extends HelperRun {
  stdout: string;
  stderr: string;
}

function identity(mode: Mode): { uid?: number; gid?: number } {
  return mode === 'rootless' && IS_ROOT ? { uid: NOBODY, gid: NOBODY } : {};
}

function runPlan(mode: Mode, plan: Plan, input = '', onStatus?: (s: HelperStatus, kill: (sig: NodeJS.Signals) => void) => void): Promise<Ran> {
  const { child, done } = spawnHelper(plan, {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...identity(mode),
    onStatus: (s) => onStatus?.(s, (sig) => child.kill(sig)),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(input);
  return done.then((r) => ({ ...r, stdout, stderr }));
}

function errors(r: HelperRun): Array<Extract<HelperStatus, { kind: 'error' }>> {
  return r.statuses.filter((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error');
}

/** The workload ran and exited 0; on failure, say everything we know. */
function assertRan(r: Ran, code = 0): void {
  assert.deepEqual(errors(r), [], `stderr: ${r.stderr}`);
  assert.equal(r.exitCode, code, `statuses ${JSON.stringify(r.statuses)} stdout ${r.stdout} stderr ${r.stderr}`);
  assert.equal(r.code, code);
}

function procField(status: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status);
  assert.ok(m, `no ${name} in ${status}`);
  return m[1]!.trim();
}

// ---------------------------------------------------------------------------------------------
// What the host can do

const NO_HELPER = existsSync(helper) ? false : `${helper} is not built (node scripts/build-native.mjs needs gcc)`;
const NO_PYTHON = existsSync(PY) ? false : `${PY} is missing (apt-get install python3)`;

/** uid 65534 must be able to reach and run the helper: every directory above it searchable by others. */
function unreachableBy65534(path: string): string | false {
  if (!IS_ROOT) return false;
  for (let d = path; d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return `uid 65534 cannot reach ${path}: ${d} is not searchable by others (chmod o+x it)`;
  }
  return false;
}

async function probeRootless(): Promise<string | false> {
  if (NO_HELPER) return NO_HELPER;
  const unreachable = unreachableBy65534(helper);
  if (unreachable) return unreachable;
  const r = await runPlan('rootless', sh('rootless', 'true')).catch((e: Error) => e);
  if (r instanceof Error) return `the helper cannot run as uid 65534: ${r.message}`;
  if (r.exitCode === 0) return false;
  const e = errors(r)[0];
  return `unprivileged user namespaces do not work here (${e ? `${e.step}: ${e.detail}` : `helper exit ${r.code}`})`;
}
const ROOTLESS_SKIP = await probeRootless();

function skipFor(mode: Mode, ...more: Array<string | false>): string | false {
  if (NO_HELPER) return NO_HELPER;
  if (mode === 'root' && !IS_ROOT) return 'needs root';
  if (mode === 'rootless' && ROOTLESS_SKIP) return ROOTLESS_SKIP;
  return more.find((m) => m) ?? false;
}

const T = { timeout: 30_000 };

// ---------------------------------------------------------------------------------------------
// Processes, stdio, environment

for (const mode of MODES) {
  test(`${mode}: exit codes and signals come back as the workload's`, { ...T, skip: skipFor(mode) }, async () => {
    const three = await runPlan(mode, sh(mode, 'exit 3'));
    assertRan(three, 3);
    assert.deepEqual(three.statuses.map((s) => s.kind), ['started', 'exited']);
    const killed = await runPlan(mode, sh(mode, 'kill -9 $$'));
    assert.deepEqual(errors(killed), []);
    assert.equal(killed.exitSignal, 9);
    assert.equal(killed.exitCode, null);
    assert.equal(killed.code, 128 + 9);
  });

  test(`${mode}: stdin, stdout and stderr go through; argv, env and cwd arrive as given`, { ...T, skip: skipFor(mode) }, async () => {
    const cat = await runPlan(mode, sh(mode, 'cat; echo to-stderr >&2'), 'hello\nworld\n');
    assertRan(cat);
    assert.equal(cat.stdout, 'hello\nworld\n');
    assert.equal(cat.stderr, 'to-stderr\n');
    const args = await runPlan(mode, sandbox(mode, {
      path: 'sh', // no slash: looked up in the plan's PATH
      argv: ['sh', '-c', 'printf "%s|" "$@" "$FOO" "$(pwd)"', 'zero', 'a b', '"q"', '', 'é✓'],
      env: ['PATH=/nonexistent:/usr/bin', 'FOO=bar baz'],
      cwd: '/tmp',
    }));
    assertRan(args);
    assert.equal(args.stdout, 'a b|"q"||é✓|bar baz|/tmp|');
  });
}

// The signal test needs the stdout stream while it runs, so it drives spawnHelper itself.
for (const mode of MODES) {
  test(`${mode}: SIGTERM to the helper is forwarded through the init to the workload`, { ...T, skip: skipFor(mode) }, async () => {
    const { child, done } = spawnHelper(sh(mode, 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'), {
      stdio: ['ignore', 'pipe', 'pipe'], ...identity(mode),
    });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out === 'ready\n') child.kill('SIGTERM');
    });
    const r = await done;
    assert.equal(out, 'ready\ngot-term\n');
    assert.equal(r.exitCode, 7);
  });
}

// ---------------------------------------------------------------------------------------------
// Namespaces

for (const mode of MODES) {
  test(`${mode}: pid namespace: the workload is pid 2 under init 1, sees no other process; "started" has its host pid`, { ...T, skip: skipFor(mode) }, async () => {
    let nspid = '';
    // (the sleep keeps the workload alive while its NSpid is read on the host; it has been reaped by the glob)
    const r = await runPlan(mode, sh(mode, 'sleep 0.5; echo $$; echo /proc/[0-9]*'), '', (s) => {
      if (s.kind === 'started') nspid = procField(readFileSync(`/proc/${s.pid}/status`, 'utf8'), 'NSpid');
    });
    assertRan(r);
    assert.equal(r.stdout, '2\n/proc/1 /proc/2\n');
    const started = r.statuses.find((s) => s.kind === 'started');
    assert.ok(started && started.kind === 'started');
    assert.deepEqual(nspid.split(/\s+/), [String(started.pid), '2']);
  });

  test(`${mode}: a read-only bind refuses writes (EROFS), in a submount too; a read-write bind takes them`, { ...T, skip: skipFor(mode, NO_PYTHON, IS_ROOT ? false : 'mounting the submount needs root') }, async () => {
    const ro = scratchDir(`ro-${mode}`);
    writeFileSync(join(ro, 'file'), 'x');
    chmodSync(join(ro, 'file'), 0o666);
    const sub = join(ro, 'sub');
    mkdirSync(sub);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0777', 'stockade-test', sub], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    cleanups.push(() => spawnSync('umount', [sub]));
    const rw = scratchDir(`rw-${mode}`, 0o777);
    const code = [
      'import errno',
      "for p in ['/ro/new', '/ro/sub/new', '/ro/file', '/rw/new']:",
      '    try:',
      "        open(p, 'w').close(); print(p, 'ok')",
      '    except OSError as e:',
      '        print(p, errno.errorcode[e.errno])',
    ].join('\n');
    const r = await runPlan(mode, py(mode, code, { mounts: [bind(ro, '/ro', true), bind(rw, '/rw', false)] }));
    assertRan(r);
    assert.equal(r.stdout, '/ro/new EROFS\n/ro/sub/new EROFS\n/ro/file EROFS\n/rw/new ok\n');
    assert.ok(existsSync(join(rw, 'new')));
  });

  test(`${mode}: hide empties a file and a directory, read-only; an absent target is skipped`, { ...T, skip: skipFor(mode) }, async () => {
    const d = scratchDir(`hide-${mode}`, 0o777);
    writeFileSync(join(d, 'secret.txt'), 'top secret');
    chmodSync(join(d, 'secret.txt'), 0o666);
    mkdirSync(join(d, 'private'), { mode: 0o777 });
    writeFileSync(join(d, 'private', 'key'), 'k');
    const hide = (target: string): PlanOp => ({ op: 'hide', target });
    const r = await runPlan(mode, sh(mode, 'wc -c < /data/secret.txt; ls -A /data/private | wc -l; (echo x > /data/secret.txt) 2>/dev/null && echo writable || echo read-only; test -e /data/absent || echo absent', {
      mounts: [bind(d, '/data', false), hide('/data/secret.txt'), hide('/data/private'), hide('/data/absent')],
    }));
    assertRan(r);
    assert.equal(r.stdout, '0\n0\nread-only\nabsent\n');
    assert.equal(readFileSync(join(d, 'secret.txt'), 'utf8'), 'top secret');
  });

  test(`${mode}: the tmpfs is writable; the host's /tmp and unbound paths are not there`, { ...T, skip: skipFor(mode) }, async () => {
    const marker = join(tmpdir(), `stockade-marker-${process.pid}`);
    writeFileSync(marker, 'm');
    cleanups.push(() => rmSync(marker, { force: true }));
    const r = await runPlan(mode, sh(mode, 'echo data > /tmp/f && cat /tmp/f; ls -A /tmp; test -e /work || test -e /root || test -e /home || echo no-host-dirs'));
    assertRan(r);
    assert.equal(r.stdout, 'data\nf\nno-host-dirs\n');
  });

  test(`${mode}: bind sources: an optional missing one is skipped, a required missing one is an error naming it`, { ...T, skip: skipFor(mode) }, async () => {
    const ok = await runPlan(mode, sh(mode, 'test -e /opt/x || echo skipped', { mounts: [bind('/nonexistent/src', '/opt/x', true, { optional: true })] }));
    assertRan(ok);
    assert.equal(ok.stdout, 'skipped\n');
    const bad = await runPlan(mode, sh(mode, 'true', { mounts: [bind('/nonexistent/src', '/opt/x', true)] }));
    assert.deepEqual(errors(bad), [{ kind: 'error', step: 'mount', errno: 2, detail: 'bind /nonexistent/src -> /opt/x: opening the source: No such file or directory' }]);
    assert.equal(bad.code, 125);
    assert.ok(!bad.statuses.some((s) => s.kind === 'started'));
  });

  test(`${mode}: net namespace: only lo (up), no route to a port on the host's 127.0.0.1`, { ...T, skip: skipFor(mode, NO_PYTHON) }, async () => {
    const server = createServer((sock) => sock.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const code = [
        'import socket, errno',
        'print(sorted(n for _, n in socket.if_nameindex()))',
        's = socket.socket()',
        'try:',
        `    s.connect(('127.0.0.1', ${port})); print('connected')`,
        'except OSError as e:',
        '    print(errno.errorcode[e.errno])',
        "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()",
        "c = socket.create_connection(l.getsockname()); print('loopback works')",
      ].join('\n');
      const r = await runPlan(mode, py(mode, code));
      assertRan(r);
      assert.equal(r.stdout, "['lo']\nECONNREFUSED\nloopback works\n");
    } finally {
      server.close();
    }
  });

  test(`${mode}: uts namespace: the hostname is the plan's`, { ...T, skip: skipFor(mode) }, async () => {
    const r = await runPlan(mode, sh(mode, 'uname -n', { hostname: 'sandy-box' }));
    assertRan(r);
    assert.equal(r.stdout, 'sandy-box\n');
  });
}

// ---------------------------------------------------------------------------------------------
// Privileges

const capLines = 'grep -E "^(Cap(Prm|Eff|Bnd|Amb)|NoNewPrivs)" /proc/self/status';

for (const mode of MODES) {
  test(`${mode}: keep [] leaves no capability at all (as uid 65534 and as the sandbox's uid 0)`, { ...T, skip: skipFor(mode) }, async () => {
    for (const user of [undefined, null]) {
      const r = await runPlan(mode, sh(mode, capLines, { user }));
      assertRan(r);
      for (const f of ['CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(procField(r.stdout, f), '0000000000000000', `${f} with user ${String(user)}`);
      assert.equal(procField(r.stdout, 'NoNewPrivs'), '1');
    }
  });

  test(`${mode}: keep [CAP_NET_BIND_SERVICE] as uid 65534: port 80 binds, the capability is ambient; without it, EACCES`, { ...T, skip: skipFor(mode, NO_PYTHON) }, async () => {
    const code = [
      'import socket, errno',
      's = socket.socket()',
      'try:',
      "    s.bind(('127.0.0.1', 80)); print('bound')",
      'except OSError as e:',
      '    print(errno.errorcode[e.errno])',
      "print(open('/proc/self/status').read())",
    ].join('\n');
    const kept = await runPlan(mode, py(mode, code, { caps: [CAP_NET_BIND_SERVICE] }));
    assertRan(kept);
    assert.match(kept.stdout, /^bound\n/);
    assert.equal(procField(kept.stdout, 'Uid').split(/\s+/)[0], '65534');
    for (const f of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) assert.equal(procField(kept.stdout, f), '0000000000000400', f);
    const none = await runPlan(mode, py(mode, code, { caps: [] }));
    assertRan(none);
    assert.match(none.stdout, /^EACCES\n/);
  });

  test(`${mode}: no_new_privs is set only when asked`, { ...T, skip: skipFor(mode) }, async () => {
    const on = await runPlan(mode, sh(mode, capLines));
    assertRan(on);
    assert.equal(procField(on.stdout, 'NoNewPrivs'), '1');
    const off = await runPlan(mode, sh(mode, capLines, { nnp: false }));
    assertRan(off);
    assert.equal(procField(off.stdout, 'NoNewPrivs'), '0');
  });
}

// ---------------------------------------------------------------------------------------------
// seccomp and Landlock

const KERNEL = ((): [number, number] => {
  try {
    return parseKernelVersion(release(), 'os.release()');
  } catch {
    return [6, 1];
  }
})();

const mkdirErrno = [
  'import os, errno',
  'try:',
  "    os.mkdir('/tmp/d'); print('made')",
  'except OSError as e:',
  '    print(errno.errorcode[e.errno])',
].join('\n');

for (const mode of MODES) {
  test(`${mode}: seccomp: a hand-made program makes mkdir fail with its errno`, { ...T, skip: skipFor(mode, NO_PYTHON) }, async () => {
    const program = encodeProgram([
      insn(OP.LD_ABS, 4), // seccomp_data.arch
      insn(OP.JEQ, 0xc000003e, 1, 0), // AUDIT_ARCH_X86_64
      insn(OP.RET, RET.KILL_PROCESS),
      insn(OP.LD_ABS, 0), // seccomp_data.nr
      insn(OP.JEQ, 83, 2, 0), // mkdir
      insn(OP.JEQ, 258, 1, 0), // mkdirat
      insn(OP.RET, RET.ALLOW),
      insn(OP.RET, RET.ERRNO | 42),
    ]);
    const r = await runPlan(mode, py(mode, mkdirErrno, { seccomp: program }));
    assertRan(r);
    assert.equal(r.stdout, 'ENOMSG\n');
    const without = await runPlan(mode, py(mode, mkdirErrno));
    assertRan(without);
    assert.equal(without.stdout, 'made\n');
  });

  test(`${mode}: seccomp: compiled profiles: a custom errno, and stockade:default refusing unshare`, { ...T, skip: skipFor(mode, NO_PYTHON, existsSync('/usr/bin/unshare') ? false : '/usr/bin/unshare is missing') }, async () => {
    const custom = compileFilter(resolveProfile(parseProfile(JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 39 }],
    }), 'test profile'), { native: 'x86_64', caps: [], kernel: KERNEL }));
    const r = await runPlan(mode, py(mode, mkdirErrno, { seccomp: custom.bytes }));
    assertRan(r);
    assert.equal(r.stdout, 'ENOTEMPTY\n');
    const dflt = compileFilter(resolveProfile(builtinProfile('stockade:default'), { native: 'x86_64', caps: [], kernel: KERNEL }));
    const script = 'echo ok; unshare -U true 2>/dev/null; echo $?';
    const confined = await runPlan(mode, sh(mode, script, { seccomp: dflt.bytes }));
    assertRan(confined);
    assert.equal(confined.stdout, 'ok\n1\n');
    const free = await runPlan(mode, sh(mode, script));
    assertRan(free);
    assert.equal(free.stdout, 'ok\n0\n');
  });
}

const LL_READ = 0x1n | 0x4n | 0x8n; // EXECUTE | READ_FILE | READ_DIR
const LL_ABI1_ALL = (1n << 13n) - 1n;
const llRuleset = (over: Partial<LandlockRuleset> = {}): LandlockRuleset => ({
  abi: 1, handledFs: LL_ABI1_ALL, handledNet: 0n, scoped: 0n, required: true, ports: [],
  paths: [
    { path: '/usr', access: LL_READ, optional: false },
    { path: '/etc', access: LL_READ, optional: false },
    { path: '/proc', access: LL_READ, optional: false },
    { path: '/dev/null', access: LL_ABI1_ALL, optional: false }, // a file: the helper keeps only file rights
    { path: '/tmp', access: LL_ABI1_ALL, optional: false },
    { path: '/not/there', access: LL_READ, optional: true },
  ],
  ...over,
});

async function landlockSkip(): Promise<string | false> {
  if (NO_HELPER) return NO_HELPER;
  const mode: Mode = IS_ROOT ? 'root' : 'rootless';
  if (mode === 'rootless' && ROOTLESS_SKIP) return false; // every Landlock test skips anyway
  const r = await runPlan(mode, sh(mode, 'true', { landlock: llRuleset() }));
  const e = errors(r)[0];
  return e && /Landlock ABI is 0/.test(e.detail) ? 'Landlock is not enabled in this kernel' : false;
}
const NO_LANDLOCK = await landlockSkip();

for (const mode of MODES) {
  test(`${mode}: Landlock: outside the rules reads fail with EACCES; inside them reads and writes work`, { ...T, skip: skipFor(mode, NO_PYTHON, NO_LANDLOCK) }, async () => {
    const d = scratchDir(`landlock-${mode}`);
    writeFileSync(join(d, 'secret'), 's');
    chmodSync(join(d, 'secret'), 0o644);
    const code = [
      'import errno',
      'def t(f):',
      '    try:',
      "        f(); return 'ok'",
      '    except OSError as e:',
      '        return errno.errorcode[e.errno]',
      "print(t(lambda: open('/outside/secret').read()))",
      "print(t(lambda: open('/etc/passwd').read()))",
      "print(t(lambda: open('/tmp/w', 'w').write('x')))",
      "print(t(lambda: open('/dev/null', 'w').write('x')))",
    ].join('\n');
    const r = await runPlan(mode, py(mode, code, { mounts: [bind(d, '/outside', true)], landlock: llRuleset() }));
    assertRan(r);
    assert.equal(r.stdout, 'EACCES\nok\nok\nok\n');
  });

  test(`${mode}: Landlock: TCP port rules: bind is allowed on the listed port only`, { ...T, skip: skipFor(mode, NO_PYTHON, NO_LANDLOCK) }, async (t) => {
    const code = [
      'import socket, errno',
      'for port in (8080, 8081):',
      '    s = socket.socket()',
      '    try:',
      "        s.bind(('127.0.0.1', port)); print(port, 'ok')",
      '    except OSError as e:',
      '        print(port, errno.errorcode[e.errno])',
    ].join('\n');
    const ruleset = llRuleset({ abi: 4, handledFs: 0n, handledNet: 1n /* BIND_TCP */, paths: [], ports: [{ port: 8080, access: 1n }] });
    const r = await runPlan(mode, py(mode, code, { landlock: ruleset }));
    const e = errors(r)[0];
    if (e && /Landlock ABI is [0-3];/.test(e.detail)) {
      t.skip(`network rules need Landlock ABI 4: ${e.detail}`);
      return;
    }
    assertRan(r);
    assert.equal(r.stdout, '8080 ok\n8081 EACCES\n');
  });

  test(`${mode}: Landlock: a required ABI above the kernel's is an error; an optional one warns what it dropped`, { ...T, skip: skipFor(mode, NO_LANDLOCK) }, async () => {
    const refused = await runPlan(mode, sh(mode, 'true', { landlock: llRuleset({ abi: 99 }) }));
    const e = errors(refused);
    assert.equal(e.length, 1);
    assert.equal(e[0]!.step, 'landlock');
    assert.match(e[0]!.detail, /^the kernel's Landlock ABI is \d+; the ruleset needs ABI 99$/);
    assert.equal(refused.code, 125);
    assert.ok(!refused.statuses.some((s) => s.kind === 'started'));
    const warned = await runPlan(mode, sh(mode, 'echo ran', { landlock: llRuleset({ abi: 99, required: false, handledFs: LL_ABI1_ALL | (1n << 40n) }) }));
    assertRan(warned);
    assert.equal(warned.stdout, 'ran\n');
    const w = warned.statuses.find((s) => s.kind === 'warning');
    assert.ok(w && w.kind === 'warning' && w.step === 'landlock', JSON.stringify(warned.statuses));
    assert.match(w.detail, /^dropped handledFs 0x10000000000, handledNet 0x0, scoped 0x0/);
  });
}

// ---------------------------------------------------------------------------------------------
// Limits

function hostNofileHard(): bigint {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const hard = line.split(/\s{2,}/)[2]!;
  return hard === 'unlimited' ? (1n << 64n) - 1n : BigInt(hard);
}

const hasCapSysResource = (): boolean => (BigInt(`0x${procField(readFileSync('/proc/self/status', 'utf8'), 'CapEff')}`) >> 24n & 1n) === 1n;

for (const mode of MODES) {
  test(`${mode}: rlimits: a lowered soft limit shows in /proc/self/limits; raising the hard one is an error naming it`, { ...T, skip: skipFor(mode) }, async (t) => {
    const hard = hostNofileHard();
    const r = await runPlan(mode, sh(mode, 'grep "Max open files" /proc/self/limits', { rlimits: [{ op: 'rlimit', resource: 'nofile', soft: 64n, hard }] }));
    assertRan(r);
    assert.match(r.stdout, new RegExp(`^Max open files\\s+64\\s+${hard === (1n << 64n) - 1n ? 'unlimited' : hard}\\s+files\\s*$`));
    if (mode === 'root' && hasCapSysResource()) {
      t.diagnostic('root holds CAP_SYS_RESOURCE here: raising a hard limit is allowed, the refusal is not tested as root');
      return;
    }
    const raised = await runPlan(mode, sh(mode, 'true', { rlimits: [{ op: 'rlimit', resource: 'nofile', soft: 64n, hard: hard + 1n }] }));
    assert.deepEqual(errors(raised).map((e) => [e.step, e.errno]), [['rlimit', 1]]);
    assert.match(errors(raised)[0]!.detail, new RegExp(`^rlimit nofile: raising the hard limit from ${hard} to ${hard + 1n} needs CAP_SYS_RESOURCE`));
    assert.equal(raised.code, 125);
  });

  test(`${mode}: cgroup join (v1 pids): a fork loop hits EAGAIN at pids.max`, { ...T, skip: skipFor(mode, NO_PYTHON, !IS_ROOT ? 'creating a cgroup needs root' : existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? false : 'no cgroup v1 pids controller at /sys/fs/cgroup/pids') }, async () => {
    const cg = `/sys/fs/cgroup/pids/stockade-test-${process.pid}-${mode}`;
    mkdirSync(cg);
    const cleanup = () => {
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(cg);
          return;
        } catch {
          spawnSync('sleep', ['0.02']);
        }
      }
    };
    cleanups.push(cleanup);
    writeFileSync(join(cg, 'pids.max'), '20');
    if (mode === 'rootless') chownSync(join(cg, 'cgroup.procs'), NOBODY, NOBODY);
    const code = [
      'import os, time, errno',
      'n = 0',
      'try:',
      '    for i in range(100):',
      '        if os.fork() == 0:',
      '            time.sleep(30); os._exit(0)',
      '        n += 1',
      'except OSError as e:',
      '    print(n, errno.errorcode[e.errno])',
      "print([l for l in open('/proc/self/cgroup').read().split() if ':pids:' in l][0])",
    ].join('\n');
    const r = await runPlan(mode, py(mode, code, { cgroup: [join(cg, 'cgroup.procs')] }));
    assertRan(r);
    const m = /^(\d+) EAGAIN\n\d+:pids:\/\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) <= 18, r.stdout); // init and the workload count too
    cleanup();
    assert.ok(!existsSync(cg), 'the cgroup is empty once the sandbox is gone');
  });

  test(`${mode}: the wall-clock timeout kills the sandbox and says so`, { ...T, skip: skipFor(mode) }, async () => {
    const began = Date.now();
    const r = await runPlan(mode, sh(mode, 'sleep 10', { wallTimeoutMs: 300 }));
    assert.ok(Date.now() - began < 5000);
    assert.ok(r.timedOut);
    assert.deepEqual(r.statuses.filter((s) => s.kind === 'timeout'), [{ kind: 'timeout', afterMs: 300 }]);
    assert.equal(r.code, 128 + 9);
    assert.equal(r.exitCode, null);
  });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and failures

function pidNsMembers(nsLink: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readlinkSync(`/proc/${p}/ns/pid`) === nsLink) out.push(Number(p));
    } catch {
      // gone, or not ours to look at
    }
  }
  return out;
}

for (const mode of MODES) {
  test(`${mode}: SIGKILL to the helper takes the whole sandbox with it`, { ...T, skip: skipFor(mode, IS_ROOT ? false : 'reading other processes\' namespaces needs root') }, async () => {
    let workload = 0;
    let nsLink = '';
    const { child, done } = spawnHelper(sh(mode, 'sleep 100 & sleep 100'), {
      stdio: ['ignore', 'ignore', 'ignore'],
      ...identity(mode),
      onStatus: (s) => {
        if (s.kind === 'started') {
          workload = s.pid;
          nsLink = readlinkSync(`/proc/${s.pid}/ns/pid`);
          setTimeout(() => child.kill('SIGKILL'), 300);
        }
      },
    });
    const r = await done;
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(workload > 0 && nsLink !== '');
    let left: number[] = [];
    for (let i = 0; i < 100; i++) {
      left = pidNsMembers(nsLink);
      if (left.length === 0 && !existsSync(`/proc/${workload}`)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.deepEqual(left, [], 'processes of the sandbox survived the helper');
    assert.ok(!existsSync(`/proc/${workload}`));
  });

  test(`${mode}: execve failures: a missing program (127, ENOENT), a non-executable file (126, EACCES)`, { ...T, skip: skipFor(mode) }, async () => {
    for (const [path, errno, code, detail] of [
      ['/nonexistent/prog', 2, 127, '/nonexistent/prog: No such file or directory'],
      ['no-such-command', 2, 127, 'no-such-command: No such file or directory'],
      ['/etc/passwd', 13, 126, '/etc/passwd: Permission denied'],
    ] as const) {
      const r = await runPlan(mode, sandbox(mode, { argv: [path] }));
      assert.deepEqual(r.statuses, [{ kind: 'started', pid: (r.statuses[0] as { pid: number }).pid }, { kind: 'error', step: 'exec', errno, detail }]);
      assert.equal(r.code, code);
      assert.equal(r.exitCode, null);
    }
  });

  test(`${mode}: a malformed plan: exit 125, one plan error, nothing started`, { ...T, skip: skipFor(mode) }, async () => {
    const misordered = await runPlan(mode, { version: 1, wallTimeoutMs: 0, ops: [{ op: 'exec', path: '/bin/true', argv: ['true'], env: [], cwd: '/' }, { op: 'noNewPrivs' }] });
    assert.equal(misordered.code, 125);
    assert.equal(misordered.statuses.length, 1);
    assert.deepEqual({ ...misordered.statuses[0], detail: '' }, { kind: 'error', step: 'plan', errno: 22, detail: '' });
    // Raw bytes on descriptor 3: a plan cut short.
    const bytes = encodePlan(sh(mode, 'true'));
    const child = spawn(helper, [], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], ...identity(mode) });
    let status = '';
    (child.stdio[4] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => (status += d));
    (child.stdio[3] as NodeJS.WritableStream).end(bytes.subarray(0, bytes.length - 5));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 125);
    const lines = status.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.step, 'plan');
    assert.match(String(lines[0]!.detail), /truncated/);
  });

  test(`${mode}: no helper descriptor reaches the workload`, { ...T, skip: skipFor(mode, NO_PYTHON) }, async () => {
    const code = [
      'import os, errno',
      "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))",
      'for fd in (3, 4, 5):',
      '    try:',
      "        os.write(fd, b'x'); print(fd, 'open')",
      '    except OSError as e:',
      '        print(fd, errno.errorcode[e.errno])',
    ].join('\n');
    const r = await runPlan(mode, py(mode, code));
    assertRan(r);
    assert.equal(r.stdout, '[0, 1, 2, 3]\n3 EBADF\n4 EBADF\n5 EBADF\n'); // 3 was listdir's own
  });

  test(`${mode}: verbose plans report each phase, in order`, { ...T, skip: skipFor(mode) }, async () => {
    const r = await runPlan(mode, sh(mode, 'true', { verbose: true, hostname: 'v', rlimits: [{ op: 'rlimit', resource: 'core', soft: 0n, hard: 0n }] }));
    assertRan(r);
    const steps = r.statuses.filter((s) => s.kind === 'step').map((s) => (s as { step: string }).step);
    assert.deepEqual(steps, ['namespaces', ...(mode === 'rootless' ? ['idmap'] : []), 'mount', 'hostname', 'rlimit', 'user', 'capabilities', 'setsid', 'noNewPrivs']);
    assert.deepEqual(r.statuses.slice(-2).map((s) => s.kind), ['started', 'exited']);
  });

  test(`${mode}: terminal mode: the workload gets a pty of its own as controlling terminal and stdio`, { ...T, skip: skipFor(mode, NO_PYTHON) }, async () => {
    const d = scratchDir(`tty-${mode}`, 0o777);
    const planPath = join(d, 'plan');
    const statusPath = join(d, 'status');
    const inner = 'import os; print(os.isatty(0), os.isatty(1), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(), os.ttyname(0), os.ttyname(1))';
    writeFileSync(planPath, encodePlan(py(mode, inner, { setsid: 'terminal' })));
    chmodSync(planPath, 0o644);
    // python's pty.spawn gives the helper a real terminal as stdin/stdout (the test itself has none).
    const runner = [
      'import os, pty, sys',
      'os.dup2(os.open(sys.argv[1], os.O_RDONLY), 3)',
      'os.dup2(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 4)',
      'os.set_inheritable(3, True); os.set_inheritable(4, True)',
      'sys.exit(os.waitstatus_to_exitcode(pty.spawn([sys.argv[3]])))',
    ].join('\n');
    const r = spawnSync(PY, ['-c', runner, planPath, statusPath, helper], { ...identity(mode), input: '', encoding: 'utf8', timeout: 20_000 });
    const status = readFileSync(statusPath, 'utf8');
    assert.equal(r.status, 0, `${r.stdout} ${r.stderr} ${status}`);
    // The terminal is the sandbox's own /dev/pts/0 (its devpts), so ttyname() resolves inside.
    assert.match(r.stdout, /True True True True \/dev\/pts\/0 \/dev\/pts\/0\r?\n/);
    assert.match(status, /"kind":"exited","code":0/);
  });
}

test('root: idmapRoot: a root-owned directory appears owned by the sandbox user, and what it creates is root\'s on the host', { ...T, skip: skipFor('root') }, async () => {
  const d = scratchDir('idmap-root', 0o755);
  writeFileSync(join(d, 'existing'), 'e');
  const r = await runPlan('root', sh('root', 'stat -c %u:%g /data /data/existing; touch /data/created && stat -c %u:%g /data/created; id -u', {
    mounts: [bind(d, '/data', false, { idmapRoot: true })],
  }));
  assertRan(r);
  assert.equal(r.stdout, '65534:65534\n65534:65534\n65534:65534\n65534\n');
  const st = statSync(join(d, 'created'));
  assert.deepEqual([st.uid, st.gid], [0, 0]);
  // Without the idmap the same user cannot write there.
  const plain = await runPlan('root', sh('root', 'touch /data/other 2>/dev/null || echo refused', { mounts: [bind(d, '/data', false)] }));
  assertRan(plain);
  assert.equal(plain.stdout, 'refused\n');
});

test('rootless: idmapRoot is refused with an error naming the bind, not silently dropped', { ...T, skip: skipFor('rootless') }, async () => {
  const d = scratchDir('idmap-rootless', 0o755);
  const r = await runPlan('rootless', sh('rootless', 'true', { mounts: [bind(d, '/data', false, { idmapRoot: true })] }));
  const e = errors(r);
  assert.equal(e.length, 1, JSON.stringify(r.statuses));
  assert.equal(e[0]!.step, 'mount');
  assert.ok(e[0]!.detail.startsWith(`bind ${d} -> /data: `), e[0]!.detail);
  assert.equal(r.code, 125);
  assert.ok(!r.statuses.some((s) => s.kind === 'started'));
});
