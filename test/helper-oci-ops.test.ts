// The helper's OCI ops (startGate, consoleSocket, oomScoreAdj, joinNamespace, rootfs, mount, sysctl,
// capabilitySets, the detached flag, rlimits 10..15) against the real kernel. Every claim is checked by
// what the kernel does (an errno, a /proc field, a file that is or is not there, a process that lives
// on), not by what the helper reports. These run as root (an OCI runtime's usual case); a host that
// cannot do something skips with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync,
  symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnHelper, type HelperRun } from '../src/helper/client.js';
import { CAPABILITIES, type HelperStatus, type Plan, type PlanOp } from '../src/helper/plan.js';
import { encodePlan } from '../src/helper/protocol.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helper = join(root, 'native', 'build', 'stockade-helper');
const PY = '/usr/bin/python3';
const IS_ROOT = process.getuid?.() === 0;
const NO_HELPER = existsSync(helper) ? false : `${helper} is not built (node scripts/build-native.mjs needs gcc)`;
const NO_PYTHON = existsSync(PY) ? false : `${PY} is missing (apt-get install python3)`;
const NO_ROOT = IS_ROOT ? false : 'needs root (the OCI ops are exercised as an OCI runtime runs: as root)';
const skip = (...more: Array<string | false>): string | false => [NO_HELPER, NO_ROOT, ...more].find((m): m is string => typeof m === 'string') ?? false;
const T = { timeout: 60_000 };

const MS = {
  RDONLY: 0x1n, NOSUID: 0x2n, NODEV: 0x4n, NOEXEC: 0x8n, NOATIME: 0x400n, BIND: 0x1000n, REC: 0x4000n,
  PRIVATE: 1n << 18n, SHARED: 1n << 20n, STRICTATIME: 1n << 24n,
} as const;
const cap = (name: string): number => CAPABILITIES[name]!;
const capMask = (...names: string[]): bigint => names.reduce((m, n) => m | (1n << BigInt(cap(n))), 0n);
const hex16 = (m: bigint): string => m.toString(16).padStart(16, '0');

// ---------------------------------------------------------------------------------------------
// Scratch space: /var/tmp, because /tmp is private inside sandboxes

const scratch = mkdtempSync('/var/tmp/stockade-oci-');
chmodSync(scratch, 0o755);
const cleanups: Array<() => void> = [];
// On exit rather than in after(): the module awaits a probe at top level, and an after() hook can run
// while that is still pending (it did under --test-name-pattern), removing the scratch under it.
process.on('exit', () => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // best effort
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

function dir(name: string, mode = 0o755): string {
  const d = join(scratch, name);
  mkdirSync(d, { recursive: true });
  chmodSync(d, mode);
  return d;
}

/** An OCI bundle's rootfs: empty mount points and the usual merged-/usr links, made as untrusted content would be. */
function makeRootfs(name: string): string {
  const r = join(dir(name), 'rootfs');
  for (const d of ['usr', 'etc', 'proc', 'dev', 'tmp', 'var']) mkdirSync(join(r, d), { recursive: true });
  for (const [link, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']] as const) {
    symlinkSync(target, join(r, link));
  }
  writeFileSync(join(r, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  return r;
}

const mnt = (source: string, target: string, fstype: string, flags: bigint, extra: Partial<Extract<PlanOp, { op: 'mount' }>> = {}): PlanOp =>
  ({ op: 'mount', source, target, fstype, flags, propagation: 0n, data: '', kind: 'dir', ...extra });
const bindMount = (source: string, target: string, flags = 0n, extra: Partial<Extract<PlanOp, { op: 'mount' }>> = {}): PlanOp =>
  mnt(source, target, '', MS.BIND | flags, extra);

interface OciOpts {
  argv: string[];
  directives?: PlanOp[];
  ns?: Partial<Record<'pid' | 'mount' | 'net' | 'uts' | 'ipc', boolean>>;
  joins?: PlanOp[];
  readOnly?: boolean;
  mounts?: PlanOp[]; // after /usr, /proc, /dev and /tmp, before pivotRoot
  hostname?: string;
  rlimits?: PlanOp[];
  user?: { uid: number; gid: number; groups: number[] };
  caps?: PlanOp;
  terminal?: boolean;
  detached?: boolean;
  wallTimeoutMs?: number;
  /** A user namespace mapping 65534 to itself, the workload as 65534 (run the helper as 65534 too). */
  rootless?: boolean;
}

const NOBODY = 65534;

/** A plan as `stockade-runtime create` would make it from an OCI config: rootfs, general mounts, sets of capabilities. */
function ociPlan(rootfs: string, o: OciOpts): Plan {
  const ops: PlanOp[] = [
    ...(o.directives ?? []),
    { op: 'namespaces', ns: { user: o.rootless ?? false, pid: true, mount: true, net: true, uts: true, ipc: true, cgroup: false, ...o.ns } },
    ...(o.joins ?? []),
    ...(o.rootless ? [{ op: 'idmap', uidInside: NOBODY, uidOutside: NOBODY, uidCount: 1, gidInside: NOBODY, gidOutside: NOBODY, gidCount: 1 } as PlanOp] : []),
    { op: 'rootfs', source: rootfs, readOnly: o.readOnly ?? false },
    bindMount('/usr', '/usr', MS.REC | MS.RDONLY | MS.NOSUID | MS.NODEV),
    mnt('proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC),
    { op: 'dev', target: '/dev' },
    mnt('tmpfs', '/tmp', 'tmpfs', MS.NOSUID | MS.NODEV, { data: 'mode=1777,size=16m' }),
    ...(o.mounts ?? []),
    { op: 'pivotRoot' },
    ...(o.hostname ? [{ op: 'hostname', name: o.hostname } as PlanOp] : []),
    ...(o.rlimits ?? []),
    { op: 'user', ...(o.user ?? (o.rootless ? { uid: NOBODY, gid: NOBODY, groups: [] } : { uid: 0, gid: 0, groups: [] })) },
    o.caps ?? { op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
    { op: 'setsid', terminal: o.terminal ?? false },
    { op: 'noNewPrivs' },
    { op: 'exec', path: o.argv[0]!, argv: o.argv, env: ['PATH=/usr/bin:/bin', 'HOME=/tmp'], cwd: '/' },
  ];
  return { version: 1, ops, wallTimeoutMs: o.wallTimeoutMs ?? 30_000, ...(o.detached ? { detached: true } : {}) };
}

interface Ran extends HelperRun {
  stdout: string;
  stderr: string;
}

function run(plan: Plan, input = '', onStatus?: (s: HelperStatus) => void, onStdout?: (all: string) => void): Promise<Ran> {
  const as = plan.ops.some((o) => o.op === 'idmap') ? { uid: NOBODY, gid: NOBODY } : {};
  const { child, done } = spawnHelper(plan, { stdio: ['pipe', 'pipe', 'pipe'], ...as, ...(onStatus ? { onStatus } : {}) });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    onStdout?.(stdout);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {});
  child.stdin!.end(input);
  return done.then((r) => ({ ...r, stdout, stderr }));
}

function errors(r: HelperRun): Array<Extract<HelperStatus, { kind: 'error' }>> {
  return r.statuses.filter((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error');
}

function assertRan(r: Ran, code = 0): void {
  assert.deepEqual(errors(r), [], `stderr: ${r.stderr}`);
  assert.equal(r.exitCode, code, `statuses ${JSON.stringify(r.statuses)} stdout ${r.stdout} stderr ${r.stderr}`);
}

function procField(status: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status);
  assert.ok(m, `no ${name} in ${status}`);
  return m[1]!.trim();
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Waits (polling) until `cond` holds; false if it never did within `tries` polls. */
async function eventually(cond: () => boolean, tries = 200, everyMs = 50): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await sleep(everyMs);
  }
  return cond();
}

/** A process that exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', ['-m', '0600', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** `stockade-runtime start`'s side: one byte into the FIFO; ENXIO when nobody has it open for reading. */
function writeGate(fifo: string): void {
  const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, 'x');
  } finally {
    closeSync(fd);
  }
}

function gateErrno(fifo: string): string {
  try {
    writeGate(fifo);
    return 'written';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

const pyErrno = (lines: string[]): string[] => [
  'import errno, os',
  'def t(f):',
  '    try:',
  "        f(); return 'ok'",
  '    except OSError as e:',
  '        return errno.errorcode[e.errno]',
  ...lines,
];

// ---------------------------------------------------------------------------------------------
// rootfs: untrusted content, targets resolved inside it

test('rootfs: symlinks in the rootfs to host paths (absolute and ../) cannot make a mkdir, mount, bind or symlink land on the host', { ...T, skip: skip() }, async () => {
  const rootfs = makeRootfs('escape');
  symlinkSync('/etc', join(rootfs, 'evil'));
  symlinkSync('../../../../../../../../var', join(rootfs, 'evil2'));
  // While the helper builds the root, the host's tree is at /oldroot of its staging root: a link there
  // is what a resolver that followed links outside the rootfs would take to the host.
  symlinkSync('/oldroot/etc', join(rootfs, 'evil3'));
  mkdirSync(join(rootfs, 'oldroot', 'etc'), { recursive: true });
  const name = `stockade-escape-${process.pid}`;
  const src = dir('escape-src');
  writeFileSync(join(src, 'f'), 'from-the-host-dir');
  const srcFile = join(src, 'f');
  const hostPaths = [`/etc/${name}-mkdir`, `/etc/${name}-tmpfs`, `/var/${name}-bind`, `/var/${name}-file`, `/etc/${name}-link`, `/etc/${name}-deep`, `/etc/${name}-old`];
  for (const p of hostPaths) assert.ok(!existsSync(p), `${p} exists before the test`);
  cleanups.push(() => hostPaths.forEach((p) => rmSync(p, { recursive: true, force: true })));
  const r = await run(ociPlan(rootfs, {
    argv: ['/bin/sh', '-c', `ls -d /etc/${name}-* /var/${name}-* /oldroot/etc/${name}-* | sort; cat /var/${name}-bind/f; echo; cat /var/${name}-file`],
    mounts: [
      { op: 'mkdir', target: `/evil/${name}-mkdir`, mode: 0o755 },
      { op: 'mkdir', target: `/evil/../evil/${name}-deep/a/b`, mode: 0o755 },
      mnt('tmpfs', `/evil/${name}-tmpfs`, 'tmpfs', MS.NOSUID),
      bindMount(src, `/evil2/${name}-bind`),
      bindMount(srcFile, `/evil2/${name}-file`, 0n, { kind: 'file' }),
      { op: 'symlink', target: '/nowhere', linkPath: `/evil/${name}-link` },
      mnt('tmpfs', `/evil3/${name}-old`, 'tmpfs', 0n),
    ],
  }));
  assertRan(r);
  // Inside, everything is where the rootfs's links say, resolved in the rootfs ...
  assert.equal(r.stdout, [
    `/etc/${name}-deep`, `/etc/${name}-link`, `/etc/${name}-mkdir`, `/etc/${name}-tmpfs`, `/oldroot/etc/${name}-old`, `/var/${name}-bind`, `/var/${name}-file`,
    'from-the-host-dir', 'from-the-host-dir',
  ].join('\n'));
  // ... which is the rootfs's own /etc and /var on the host ...
  for (const p of [`etc/${name}-mkdir`, `etc/${name}-deep/a/b`, `etc/${name}-tmpfs`, `var/${name}-bind`, `var/${name}-file`, `oldroot/etc/${name}-old`]) {
    assert.ok(existsSync(join(rootfs, p)), `${p} was not made inside the rootfs`);
  }
  assert.equal(readlinkSync(join(rootfs, 'etc', `${name}-link`)), '/nowhere');
  // ... and nothing at all on the host's /etc and /var, and no mount of the host's.
  for (const p of hostPaths) assert.ok(!existsSync(p), `${p} was made on the host`);
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(name));
});

test('rootfs: a dangling symlink in the rootfs is not followed to make its target: the mount is refused', { ...T, skip: skip() }, async () => {
  const rootfs = makeRootfs('dangling');
  const name = `stockade-dangling-${process.pid}`;
  symlinkSync(`/etc/${name}`, join(rootfs, 'dangling'));
  cleanups.push(() => rmSync(`/etc/${name}`, { recursive: true, force: true }));
  const r = await run(ociPlan(rootfs, { argv: ['/bin/true'], mounts: [mnt('tmpfs', '/dangling/x', 'tmpfs', 0n)] }));
  assert.equal(r.code, 125);
  assert.deepEqual(errors(r).map((e) => [e.step, e.errno]), [['mount', 2]]);
  assert.match(errors(r)[0]!.detail, /^mount tmpfs -> \/dangling\/x: making the mount point: No such file or directory$/);
  assert.ok(!existsSync(`/etc/${name}`));
  assert.ok(!existsSync(join(rootfs, 'etc', name)));
});

test('rootfs: readOnly makes the root mount read-only (EROFS), the mounts on it stay writable; without it the rootfs takes writes', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const code = pyErrno(["print(t(lambda: open('/newfile', 'w').close()), t(lambda: open('/tmp/newfile', 'w').close()))"]).join('\n');
  const ro = makeRootfs('ro-root');
  const r1 = await run(ociPlan(ro, { argv: [PY, '-c', code], readOnly: true }));
  assertRan(r1);
  assert.equal(r1.stdout, 'EROFS ok\n');
  assert.ok(!existsSync(join(ro, 'newfile')));
  const rw = makeRootfs('rw-root');
  const r2 = await run(ociPlan(rw, { argv: [PY, '-c', code] }));
  assertRan(r2);
  assert.equal(r2.stdout, 'ok ok\n');
  assert.ok(existsSync(join(rw, 'newfile')));
});

// ---------------------------------------------------------------------------------------------
// mount

test('mount: a bind with MS_NOEXEC refuses execve (EACCES), one with MS_RDONLY refuses writes (EROFS); a plain bind allows both', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const d = dir('bind-flags', 0o777);
  writeFileSync(join(d, 'prog'), '#!/bin/sh\necho ran\n');
  chmodSync(join(d, 'prog'), 0o755);
  const code = pyErrno([
    'import subprocess',
    "print(t(lambda: subprocess.run(['/noexec/prog'], check=True, stdout=subprocess.DEVNULL)))",
    "print(t(lambda: subprocess.run(['/rw/prog'], check=True, stdout=subprocess.DEVNULL)))",
    "print(t(lambda: subprocess.run(['/ro/prog'], check=True, stdout=subprocess.DEVNULL)))",
    "print(t(lambda: open('/ro/new', 'w').close()))",
    "print(t(lambda: open('/noexec/new', 'w').close()))",
    "print(t(lambda: open('/rw/new2', 'w').close()))",
  ]).join('\n');
  const r = await run(ociPlan(makeRootfs('bind-flags'), {
    argv: [PY, '-c', code],
    mounts: [bindMount(d, '/noexec', MS.NOEXEC), bindMount(d, '/ro', MS.RDONLY), bindMount(d, '/rw')],
  }));
  assertRan(r);
  assert.equal(r.stdout, 'EACCES\nok\nok\nEROFS\nok\nok\n');
  assert.ok(existsSync(join(d, 'new')) && existsSync(join(d, 'new2')));
});

test('mount: MS_REC|MS_RDONLY is read-only in a submount too; without MS_REC the submount is not there', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const d = dir('rec-ro', 0o777);
  const sub = join(d, 'sub');
  mkdirSync(sub);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0777', 'stockade-test', sub], { encoding: 'utf8' });
  assert.equal(m.status, 0, m.stderr);
  cleanups.push(() => spawnSync('umount', ['-l', sub]));
  writeFileSync(join(sub, 'marker'), 'm');
  const code = pyErrno([
    "print(t(lambda: open('/rec/sub/new', 'w').close()), os.path.exists('/rec/sub/marker'))",
    "print(t(lambda: open('/flat/new', 'w').close()), os.path.exists('/flat/sub/marker'))",
  ]).join('\n');
  const r = await run(ociPlan(makeRootfs('rec-ro'), {
    argv: [PY, '-c', code],
    mounts: [bindMount(d, '/rec', MS.REC | MS.RDONLY), bindMount(d, '/flat', MS.RDONLY)],
  }));
  assertRan(r);
  assert.equal(r.stdout, 'EROFS True\nEROFS False\n');
});

test('mount: file systems with data and flags (tmpfs size/mode, mqueue, sysfs, devpts, cgroup2), and propagation shared vs private in mountinfo', { ...T, skip: skip() }, async () => {
  const r = await run(ociPlan(makeRootfs('fs-mounts'), {
    argv: ['/bin/sh', '-c', 'stat -c %a /data; grep -E " /(data|dev/mqueue|sys|dev/pts2|sys/fs/cgroup|shared|private) " /proc/self/mountinfo'],
    mounts: [
      mnt('tmpfs', '/data', 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, { data: 'size=65536k,mode=710' }),
      mnt('mqueue', '/dev/mqueue', 'mqueue', MS.NOSUID | MS.NODEV | MS.NOEXEC),
      mnt('sysfs', '/sys', 'sysfs', MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY),
      mnt('cgroup', '/sys/fs/cgroup', 'cgroup2', MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY),
      mnt('devpts', '/dev/pts2', 'devpts', MS.NOSUID | MS.NOEXEC, { data: 'newinstance,ptmxmode=0666,mode=620' }),
      mnt('tmpfs', '/shared', 'tmpfs', 0n, { propagation: MS.SHARED }),
      mnt('tmpfs', '/private', 'tmpfs', 0n, { propagation: MS.PRIVATE | MS.REC }),
    ],
  }));
  assertRan(r);
  const [mode, ...lines] = r.stdout.trim().split('\n');
  assert.equal(mode, '710');
  const line = (target: string): string => {
    const l = lines.find((x) => x.split(' ')[4] === target);
    assert.ok(l, `no mount on ${target} in ${r.stdout}`);
    return l;
  };
  // mountinfo: id parent major:minor root target options optional-fields... - fstype source super-options
  const options = line('/data').split(' ')[5]!.split(',');
  for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) assert.ok(options.includes(o), `${o} not in ${options.join(',')}`);
  assert.match(line('/data'), / - tmpfs tmpfs rw,.*size=65536k.*mode=710/);
  assert.match(line('/dev/mqueue'), / - mqueue mqueue /);
  assert.match(line('/sys'), /^\S+ \S+ \S+ \S+ \/sys ro,.* - sysfs sysfs /);
  assert.match(line('/sys/fs/cgroup'), /^\S+ \S+ \S+ \S+ \/sys\/fs\/cgroup ro,.* - cgroup2 cgroup /);
  assert.match(line('/dev/pts2'), / - devpts devpts rw,.*mode=620,ptmxmode=666/);
  assert.match(line('/shared'), / shared:\d+ /);
  assert.doesNotMatch(line('/private'), / (shared|master):\d+ /);
});

async function probeRootless(): Promise<string | false> {
  if (NO_HELPER || NO_ROOT) return NO_HELPER || NO_ROOT;
  const r = await run(ociPlan(makeRootfs('rootless-probe'), { argv: ['/bin/true'], rootless: true })).catch((e: Error) => e);
  if (r instanceof Error) return `the helper cannot run as uid 65534: ${r.message}`;
  if (r.exitCode === 0) return false;
  const e = errors(r)[0];
  return `a rootless sandbox does not work here (${e ? `${e.step}: ${e.detail}` : `helper exit ${r.code}`})`;
}
const NO_ROOTLESS = await probeRootless();

test('mount, rootless: binding a mount whose flags the user namespace locks (nosuid, nodev, noexec, atime) adds MS_RDONLY and keeps them instead of failing', { ...T, skip: skip(NO_ROOTLESS) }, async () => {
  const locked = dir('locked');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,relatime,mode=0755', 'stockade-locked', locked], { encoding: 'utf8' });
  assert.equal(m.status, 0, m.stderr);
  cleanups.push(() => spawnSync('umount', ['-l', locked]));
  writeFileSync(join(locked, 'f'), 'locked-content');
  const rootfs = makeRootfs('locked');
  for (const d of ['ro', 'atime']) mkdirSync(join(rootfs, d)); // the mapped user cannot write host root's rootfs
  const r = await run(ociPlan(rootfs, {
    rootless: true,
    argv: ['/bin/sh', '-c', 'cat /ro/f; echo; (echo x > /ro/f) 2>/dev/null || echo refused; grep -E " /(ro|atime) " /proc/self/mountinfo'],
    // The locked flags are not repeated here: a plain MS_REMOUNT would fail with EPERM.
    mounts: [bindMount(locked, '/ro', MS.RDONLY), bindMount(locked, '/atime', MS.NOATIME | MS.NOSUID)],
  }));
  assertRan(r);
  const [content, refused, ...lines] = r.stdout.trim().split('\n');
  assert.equal(content, 'locked-content');
  assert.equal(refused, 'refused');
  const opts = (target: string): string[] => {
    const l = lines.find((x) => x.split(' ')[4] === target);
    assert.ok(l, `no ${target} in ${r.stdout}`);
    return l.split(' ')[5]!.split(',');
  };
  for (const o of ['ro', 'nosuid', 'nodev', 'noexec']) assert.ok(opts('/ro').includes(o), `/ro: ${o} not in ${opts('/ro').join(',')}`);
  // The atime mode is locked too: the source's relatime stays, the rest applies.
  assert.ok(opts('/atime').includes('relatime') && !opts('/atime').includes('noatime'), opts('/atime').join(','));
  for (const o of ['rw', 'nosuid', 'nodev', 'noexec']) assert.ok(opts('/atime').includes(o), `/atime: ${o} not in ${opts('/atime').join(',')}`);
});

test('rootless: the rootfs symlink escape is contained in a user namespace too', { ...T, skip: skip(NO_ROOTLESS) }, async () => {
  const rootfs = makeRootfs('escape-rootless');
  symlinkSync('/etc', join(rootfs, 'evil'));
  chmodSync(join(rootfs, 'etc'), 0o777);
  const name = `stockade-escape-rootless-${process.pid}`;
  cleanups.push(() => rmSync(`/etc/${name}`, { recursive: true, force: true }));
  const r = await run(ociPlan(rootfs, {
    rootless: true,
    argv: ['/bin/sh', '-c', `ls -d /etc/${name}`],
    mounts: [{ op: 'mkdir', target: `/evil/${name}`, mode: 0o755 }, mnt('tmpfs', `/evil/${name}/t`, 'tmpfs', 0n)],
  }));
  assertRan(r);
  assert.equal(r.stdout, `/etc/${name}\n`);
  assert.ok(existsSync(join(rootfs, 'etc', name)));
  assert.ok(!existsSync(`/etc/${name}`));
});

// ---------------------------------------------------------------------------------------------
// capabilitySets

test('capabilitySets as uid 0: the bounding and effective sets are the plan\'s; chown fails with EPERM without CAP_CHOWN, works with it', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const code = pyErrno([
    "open('/tmp/f', 'w').close()",
    "print(t(lambda: os.chown('/tmp/f', 1234, 1234)))",
    "print(open('/proc/self/status').read())",
  ]).join('\n');
  const rootfs = makeRootfs('capsets-root');
  const without = capMask('CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETPCAP');
  const r = await run(ociPlan(rootfs, {
    argv: [PY, '-c', code],
    caps: { op: 'capabilitySets', bounding: without, effective: without, permitted: without, inheritable: 0n, ambient: 0n },
  }));
  assertRan(r);
  assert.match(r.stdout, /^EPERM\n/);
  assert.equal(procField(r.stdout, 'CapBnd'), hex16(without));
  assert.equal(procField(r.stdout, 'CapEff'), hex16(without));
  assert.equal(procField(r.stdout, 'CapPrm'), hex16(without));
  assert.equal(procField(r.stdout, 'CapInh'), hex16(0n));
  assert.equal(procField(r.stdout, 'CapAmb'), hex16(0n));
  const withChown = without | capMask('CAP_CHOWN');
  const r2 = await run(ociPlan(rootfs, {
    argv: [PY, '-c', code],
    caps: { op: 'capabilitySets', bounding: withChown, effective: withChown, permitted: withChown, inheritable: 0n, ambient: 0n },
  }));
  assertRan(r2);
  assert.match(r2.stdout, /^ok\n/);
  assert.equal(procField(r2.stdout, 'CapEff'), hex16(withChown));
});

test('capabilitySets as uid 65534: an ambient capability survives execve (port 80 binds); the others are as given', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const code = pyErrno([
    'import socket',
    "print(t(lambda: socket.socket().bind(('127.0.0.1', 80))))",
    "print(open('/proc/self/status').read())",
  ]).join('\n');
  const nbs = capMask('CAP_NET_BIND_SERVICE');
  const bounding = nbs | capMask('CAP_KILL');
  const r = await run(ociPlan(makeRootfs('capsets-user'), {
    argv: [PY, '-c', code],
    user: { uid: 65534, gid: 65534, groups: [] },
    caps: { op: 'capabilitySets', bounding, effective: nbs, permitted: nbs, inheritable: nbs, ambient: nbs },
  }));
  assertRan(r);
  assert.match(r.stdout, /^ok\n/);
  assert.equal(procField(r.stdout, 'Uid').split(/\s+/)[0], '65534');
  assert.equal(procField(r.stdout, 'CapBnd'), hex16(bounding));
  for (const f of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.equal(procField(r.stdout, f), hex16(nbs), f);
  const none = await run(ociPlan(makeRootfs('capsets-none'), {
    argv: [PY, '-c', code],
    user: { uid: 65534, gid: 65534, groups: [] },
    caps: { op: 'capabilitySets', bounding, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
  }));
  assertRan(none);
  assert.match(none.stdout, /^EACCES\n/);
  assert.equal(procField(none.stdout, 'CapAmb'), hex16(0n));
});

// ---------------------------------------------------------------------------------------------
// sysctl, oomScoreAdj, rlimits

test('sysctl: net sysctls are written in the sandbox\'s network namespace; the host\'s stay as they were', { ...T, skip: skip() }, async () => {
  const hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const hostTtl = readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'utf8');
  const rootfs = makeRootfs('sysctl');
  const show = ['/bin/sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_default_ttl'];
  const dflt = await run(ociPlan(rootfs, { argv: show }));
  assertRan(dflt);
  const [fwdDefault] = dflt.stdout.split('\n');
  const want = fwdDefault === '1' ? '0' : '1'; // the opposite of a new namespace's default
  const r = await run(ociPlan(rootfs, {
    argv: show,
    mounts: [{ op: 'sysctl', key: 'net.ipv4.ip_forward', value: want }, { op: 'sysctl', key: 'net.ipv4.ip_default_ttl', value: '77' }],
  }));
  assertRan(r);
  assert.equal(r.stdout, `${want}\n77\n`);
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostForward);
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_default_ttl', 'utf8'), hostTtl);
  assert.notEqual(hostTtl.trim(), '77');
});

test('sysctl: a rootfs whose /proc is a symlink into itself gets no write: the target must be on a procfs', { ...T, skip: skip() }, async () => {
  const rootfs = makeRootfs('sysctl-fake-proc');
  rmSync(join(rootfs, 'proc'), { recursive: true });
  mkdirSync(join(rootfs, 'fakeproc', 'sys', 'net', 'ipv4'), { recursive: true });
  writeFileSync(join(rootfs, 'fakeproc', 'sys', 'net', 'ipv4', 'ip_forward'), 'untouched');
  symlinkSync('/fakeproc', join(rootfs, 'proc'));
  const plan = ociPlan(rootfs, { argv: ['/bin/true'], mounts: [{ op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1' }] });
  plan.ops = plan.ops.filter((o) => !(o.op === 'mount' && o.fstype === 'proc')); // no procfs mounted
  const r = await run(plan);
  assert.equal(r.code, 125);
  assert.deepEqual(errors(r).map((e) => [e.step, e.errno]), [['mount', 18]]);
  assert.match(errors(r)[0]!.detail, /^sysctl net\.ipv4\.ip_forward: not on a procfs/);
  assert.equal(readFileSync(join(rootfs, 'fakeproc', 'sys', 'net', 'ipv4', 'ip_forward'), 'utf8'), 'untouched');
});

const hasCap = (n: number): boolean => (BigInt(`0x${procField(readFileSync('/proc/self/status', 'utf8'), 'CapEff')}`) >> BigInt(n) & 1n) === 1n;
const CAP_SYS_RESOURCE = 24;

test('oomScoreAdj: the workload reads back the value the monitor wrote for the init; lowering it needs CAP_SYS_RESOURCE', { ...T, skip: skip() }, async (t) => {
  const rootfs = makeRootfs('oom');
  const own = Number(readFileSync('/proc/self/oom_score_adj', 'utf8'));
  const raised = Math.min(1000, own + 523);
  const r = await run(ociPlan(rootfs, { argv: ['/bin/cat', '/proc/self/oom_score_adj'], directives: [{ op: 'oomScoreAdj', value: raised }] }));
  assertRan(r);
  assert.equal(r.stdout, `${raised}\n`);
  const lowered = Math.max(-1000, own - 321);
  const low = await run(ociPlan(rootfs, { argv: ['/bin/cat', '/proc/self/oom_score_adj'], directives: [{ op: 'oomScoreAdj', value: lowered }] }));
  if (hasCap(CAP_SYS_RESOURCE)) {
    assertRan(low);
    assert.equal(low.stdout, `${lowered}\n`);
    return;
  }
  t.diagnostic('no CAP_SYS_RESOURCE here: lowering is refused by the kernel, and the refusal must be reported');
  assert.equal(low.code, 125);
  assert.deepEqual(errors(low).map((e) => [e.step, e.errno]), [['monitor', 13]]);
  assert.match(errors(low)[0]!.detail, new RegExp(`^oomScoreAdj ${lowered}: writing /proc/\\d+/oom_score_adj: Permission denied$`));
  assert.ok(!low.statuses.some((s) => s.kind === 'started'));
});

test('rlimits 10..15 (locks, sigpending, msgqueue, nice, rtprio, rttime) show in /proc/self/limits', { ...T, skip: skip() }, async () => {
  const limit = (text: string, name: string): string[] => {
    const l = text.split('\n').find((x) => x.startsWith(name));
    assert.ok(l, `no ${name} in ${text}`);
    return l.slice(name.length).trim().split(/\s+/).slice(0, 2);
  };
  // Lowered below the host's own hard limits (raising one needs CAP_SYS_RESOURCE, which root may lack).
  const host = readFileSync('/proc/self/limits', 'utf8');
  const below = (name: string, want: bigint): bigint => {
    const hard = limit(host, name)[1]!;
    return hard === 'unlimited' || BigInt(hard) >= want ? want : BigInt(hard);
  };
  const names = { locks: 'Max file locks', sigpending: 'Max pending signals', msgqueue: 'Max msgqueue size', nice: 'Max nice priority', rtprio: 'Max realtime priority', rttime: 'Max realtime timeout' } as const;
  const want = { locks: [100n, 200n], sigpending: [50n, 60n], msgqueue: [1000n, 2000n], nice: [0n, 1n], rtprio: [0n, 2n], rttime: [1000000n, 2000000n] } as const;
  const ops: PlanOp[] = [];
  const expected: Record<string, string[]> = {};
  for (const [res, [soft, hard]] of Object.entries(want) as Array<[keyof typeof names, readonly [bigint, bigint]]>) {
    const h = below(names[res], hard);
    const s = soft < h ? soft : h;
    ops.push({ op: 'rlimit', resource: res, soft: s, hard: h });
    expected[res] = [String(s), String(h)];
  }
  const r = await run(ociPlan(makeRootfs('rlimits'), { argv: ['/bin/cat', '/proc/self/limits'], rlimits: ops }));
  assertRan(r);
  for (const res of Object.keys(names) as Array<keyof typeof names>) assert.deepEqual(limit(r.stdout, names[res]), expected[res], res);
});

// ---------------------------------------------------------------------------------------------
// joinNamespace

test('joinNamespace: a second plan joins a running sandbox\'s namespaces (uts, net; then pid, mount, ipc too) and sees its hostname, inodes and files', { ...T, skip: skip() }, async () => {
  const rootfs = makeRootfs('join-target');
  let workload = 0;
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((res) => (readyResolve = res));
  const { child, done } = spawnHelper(ociPlan(rootfs, {
    argv: ['/bin/sh', '-c', 'echo from-a > /tmp/marker; echo ready; read x; echo bye'],
    hostname: 'joined-host',
  }), {
    stdio: ['pipe', 'pipe', 'pipe'],
    onStatus: (s) => {
      if (s.kind === 'started') workload = s.pid;
    },
  });
  let aOut = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    aOut += d;
    if (aOut.includes('ready\n')) readyResolve();
  });
  try {
    await ready;
    assert.ok(workload > 0);
    const ns = (t: string) => readlinkSync(`/proc/${workload}/ns/${t}`);
    const join = (type: 'net' | 'uts' | 'pid' | 'mount' | 'ipc'): PlanOp =>
      ({ op: 'joinNamespace', type, path: `/proc/${workload}/ns/${type === 'mount' ? 'mnt' : type}` });
    const exec = (script: string): PlanOp => ({ op: 'exec', path: '/bin/sh', argv: ['sh', '-c', script], env: ['PATH=/usr/bin:/bin'], cwd: '/' });
    // uts and net only: the host's file system, the sandbox's hostname and network
    const b = await run({
      version: 1, wallTimeoutMs: 20_000,
      ops: [join('uts'), join('net'), { op: 'noNewPrivs' }, exec('uname -n; readlink /proc/self/ns/net /proc/self/ns/uts')],
    });
    assertRan(b);
    assert.equal(b.stdout, `joined-host\n${ns('net')}\n${ns('uts')}\n`);
    assert.notEqual(ns('net'), readlinkSync('/proc/self/ns/net'));
    // all of them, as `stockade-runtime exec` does: its files, its pid namespace (not as pid 1), cwd inside
    const c = await run({
      version: 1, wallTimeoutMs: 20_000,
      ops: [join('pid'), join('mount'), join('net'), join('ipc'), join('uts'),
        { op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
        { op: 'noNewPrivs' },
        { ...exec('cat marker; uname -n; readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/ipc; echo $$; pwd; ls /proc | grep -c "^[0-9]"'), cwd: '/tmp' } as PlanOp],
    });
    assertRan(c);
    const lines = c.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 5), ['from-a', 'joined-host', ns('pid'), ns('mnt'), ns('ipc')]);
    assert.ok(Number(lines[5]) > 2, `the joined workload is pid ${lines[5]} in the sandbox's pid namespace`);
    assert.equal(lines[6], '/tmp');
    assert.ok(Number(lines[7]) >= 4 && Number(lines[7]) < 12, `processes seen: ${lines[7]}`); // a's init and sh, c's init, sh, ls, grep
  } finally {
    child.stdin!.end('go\n');
  }
  const a = await done;
  assert.equal(a.exitCode, 0, JSON.stringify(a.statuses));
  assert.equal(aOut, 'ready\nbye\n');
});

test('joinNamespace: a path that is not a namespace of the type is an error naming it, before anything runs', { ...T, skip: skip() }, async () => {
  const exec: PlanOp = { op: 'exec', path: '/bin/true', argv: ['true'], env: [], cwd: '/' };
  const pid = await run({ version: 1, wallTimeoutMs: 5000, ops: [{ op: 'joinNamespace', type: 'pid', path: '/proc/self/ns/net' }, exec] });
  assert.equal(pid.code, 125);
  assert.deepEqual(errors(pid).map((e) => [e.step, e.errno, e.detail]), [['namespaces', 22, 'joining the pid namespace /proc/self/ns/net: setns: Invalid argument']]);
  const net = await run({ version: 1, wallTimeoutMs: 5000, ops: [{ op: 'joinNamespace', type: 'net', path: '/proc/self/ns/uts' }, exec] });
  assert.equal(net.code, 125);
  assert.deepEqual(errors(net).map((e) => [e.step, e.errno, e.detail]), [['namespaces', 22, 'joining the net namespace: setns: Invalid argument']]);
  assert.ok(!net.statuses.some((s) => s.kind === 'started'));
  const missing = await run({ version: 1, wallTimeoutMs: 5000, ops: [{ op: 'joinNamespace', type: 'uts', path: '/nonexistent/ns' }, exec] });
  assert.deepEqual(errors(missing).map((e) => e.detail), ['joining the uts namespace /nonexistent/ns: open: No such file or directory']);
});

// ---------------------------------------------------------------------------------------------
// startGate

test('startGate: "created" comes first and the workload does not run until a byte arrives on the FIFO; then "started" and it runs', { ...T, skip: skip() }, async () => {
  const d = dir('gate', 0o777);
  const fifo = join(d, 'exec.fifo');
  mkfifo(fifo);
  const effect = join(d, 'side-effect');
  assert.equal(gateErrno(fifo), 'ENXIO'); // nobody waits yet: `start` would say the container is not created
  let created: Extract<HelperStatus, { kind: 'created' }> | undefined;
  let onCreated: () => void = () => {};
  const createdP = new Promise<void>((res) => (onCreated = res));
  const order: string[] = [];
  const { child, done } = spawnHelper(ociPlan(makeRootfs('gate'), {
    argv: ['/bin/sh', '-c', 'echo ran > /out/side-effect'],
    directives: [{ op: 'startGate', fifo }],
    mounts: [bindMount(d, '/out')],
  }), {
    stdio: ['ignore', 'pipe', 'pipe'],
    onStatus: (s) => {
      order.push(s.kind);
      if (s.kind === 'created') {
        created = s;
        onCreated();
      }
    },
  });
  child.stdout!.resume();
  child.stderr!.resume();
  await createdP;
  assert.ok(created && created.pid > 0 && created.initPid > 0);
  // The workload and the init exist, the workload held just before execve (still the helper's image).
  assert.ok(alive(created.pid) && alive(created.initPid));
  assert.equal(readlinkSync(`/proc/${created.pid}/exe`), helper);
  assert.equal(procField(readFileSync(`/proc/${created.initPid}/status`, 'utf8'), 'PPid'), String(child.pid));
  const ticks = cpuTicks(child.pid!);
  await sleep(1000);
  assert.ok(!existsSync(effect), 'the workload ran before the gate was opened');
  assert.deepEqual(order, ['created']);
  // Waiting does not spin: a monitor polling a FIFO with POLLHUP would burn a whole CPU second here.
  assert.ok(cpuTicks(child.pid!) - ticks < 20, `the monitor used ${cpuTicks(child.pid!) - ticks} ticks while waiting`);
  writeGate(fifo);
  const r = await done;
  assert.deepEqual(order, ['created', 'started', 'exited']);
  const started = r.statuses.find((s) => s.kind === 'started');
  assert.deepEqual(started, { kind: 'started', pid: created.pid });
  assert.equal(r.exitCode, 0);
  assert.equal(readFileSync(effect, 'utf8'), 'ran\n');
  assert.equal(gateErrno(fifo), 'ENXIO'); // the monitor has closed the FIFO
});

test('startGate: a signal sent while the workload waits at the gate (kill before start) ends it', { ...T, skip: skip() }, async () => {
  const d = dir('gate-kill', 0o777);
  const fifo = join(d, 'exec.fifo');
  mkfifo(fifo);
  const { child, done } = spawnHelper(ociPlan(makeRootfs('gate-kill'), {
    argv: ['/bin/sh', '-c', 'echo ran > /out/side-effect'],
    directives: [{ op: 'startGate', fifo }],
    mounts: [bindMount(d, '/out')],
  }), {
    stdio: ['ignore', 'ignore', 'ignore'],
    onStatus: (s) => {
      if (s.kind === 'created') child.kill('SIGTERM');
    },
  });
  const r = await done;
  assert.deepEqual(r.statuses.map((s) => s.kind), ['created', 'signaled']);
  assert.equal(r.exitSignal, 15);
  assert.equal(r.code, 128 + 15);
  assert.ok(!existsSync(join(d, 'side-effect')));
});

test('startGate: a path that is not a FIFO is refused before anything runs', { ...T, skip: skip() }, async () => {
  const f = join(dir('gate-file'), 'regular');
  writeFileSync(f, '');
  const r = await run({ version: 1, wallTimeoutMs: 5000, ops: [{ op: 'startGate', fifo: f }, { op: 'exec', path: '/bin/true', argv: ['true'], env: [], cwd: '/' }] });
  assert.equal(r.code, 125);
  assert.deepEqual(errors(r).map((e) => [e.step, e.detail]), [['monitor', `startGate ${f}: not a fifo`]]);
});

// ---------------------------------------------------------------------------------------------
// consoleSocket

const RECEIVER = `
import errno, json, os, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(1)
print('listening', flush=True)
conn, _ = srv.accept()
msg, fds, flags, addr = socket.recv_fds(conn, 1024, 4)
out = b''
while fds:
    try:
        b = os.read(fds[0], 4096)
    except OSError as e:
        if e.errno == errno.EIO:
            break
        raise
    if not b:
        break
    out += b
print(json.dumps({'payload': msg.decode(), 'fds': len(fds), 'tty': bool(fds) and os.isatty(fds[0]), 'output': out.decode()}), flush=True)
`;

test('consoleSocket: the pty master arrives over the socket (SCM_RIGHTS) and reading it yields the workload\'s output; nothing is relayed on stdio', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const d = dir('console');
  const sock = join(d, 'console.sock');
  const receiver = spawn(PY, ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => receiver.kill('SIGKILL'));
  let got = '';
  let rerr = '';
  receiver.stderr!.setEncoding('utf8').on('data', (x: string) => (rerr += x));
  const listening = new Promise<void>((res) => receiver.stdout!.setEncoding('utf8').on('data', (x: string) => {
    got += x;
    if (got.includes('listening\n')) res();
  }));
  const exited = new Promise<void>((res) => receiver.on('close', () => res()));
  await listening;
  const r = await run(ociPlan(makeRootfs('console'), {
    argv: [PY, '-c', 'import os; print("hello-console", os.isatty(0), os.isatty(1), os.ttyname(1))'],
    directives: [{ op: 'consoleSocket', path: sock }],
    terminal: true,
  }));
  assertRan(r);
  assert.equal(r.stdout, '', 'the monitor relayed the terminal on its stdout');
  await exited;
  const line = got.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `receiver: ${got} ${rerr}`);
  const res = JSON.parse(line) as { payload: string; fds: number; tty: boolean; output: string };
  assert.equal(res.fds, 1);
  assert.equal(res.tty, true);
  assert.equal(res.payload, '/dev/ptmx');
  // The sandbox's own pty (its devpts), which replaced the monitor's: that is the one that was sent.
  assert.equal(res.output, 'hello-console True True /dev/pts/0\r\n');
});

test('consoleSocket: no listener is an error naming the socket, before anything runs', { ...T, skip: skip() }, async () => {
  const sock = join(dir('console-none'), 'nobody.sock');
  const r = await run(ociPlan(makeRootfs('console-none'), { argv: ['/bin/true'], directives: [{ op: 'consoleSocket', path: sock }], terminal: true }));
  assert.equal(r.code, 125);
  assert.deepEqual(errors(r).map((e) => [e.step, e.detail]), [['monitor', `consoleSocket ${sock}: connect: No such file or directory`]]);
  assert.ok(!r.statuses.some((s) => s.kind === 'started' || s.kind === 'created'));
});

// ---------------------------------------------------------------------------------------------
// detached

// A parent that starts the helper, waits for "created", prints the helper's pid and exits: its end of
// the status pipe closes with it (later status writes get EPIPE).
const PARENT = `
import os, sys
plan, helper = open(sys.argv[1], 'rb').read(), sys.argv[2]
sr, sw = os.pipe()
pr, pw = os.pipe()
pid = os.fork()
if pid == 0:
    null = os.open('/dev/null', os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.dup2(pr, 3)
    os.dup2(sw, 4)
    os.set_inheritable(3, True)  # dup2 onto itself keeps close-on-exec
    os.set_inheritable(4, True)
    os.closerange(5, 1024)
    os.execv(helper, [helper])
os.close(pr)
os.close(sw)
os.write(pw, plan)
os.close(pw)
buf = b''
while b'"created"' not in buf:
    b = os.read(sr, 4096)
    if not b:
        break
    buf += b
print(pid, buf.decode().strip().replace('\\n', ' '), flush=True)
os._exit(0)
`;

test('detached: the monitor outlives its parent and the closed status pipe (EPIPE), and still lets the workload go at the gate; without detached it dies with its parent', { ...T, skip: skip(NO_PYTHON) }, async () => {
  const rootfs = makeRootfs('detached');
  for (const detached of [true, false]) {
    const d = dir(`detached-${detached}`, 0o777);
    const fifo = join(d, 'exec.fifo');
    mkfifo(fifo);
    const planPath = join(d, 'plan');
    writeFileSync(planPath, encodePlan(ociPlan(rootfs, {
      argv: ['/bin/sh', '-c', 'echo ran > /out/side-effect'],
      directives: [{ op: 'startGate', fifo }],
      mounts: [bindMount(d, '/out')],
      detached,
    })));
    const p = spawnSync(PY, ['-c', PARENT, planPath, helper], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(p.status, 0, p.stderr);
    const [pidText, ...rest] = p.stdout.trim().split(' ');
    const monitor = Number(pidText);
    assert.ok(monitor > 0, p.stdout);
    assert.match(rest.join(' '), /"kind":"created"/);
    cleanups.push(() => {
      try {
        process.kill(monitor, 'SIGKILL');
      } catch {
        // gone
      }
    });
    if (!detached) {
      assert.ok(await eventually(() => !alive(monitor)), 'a monitor that is not detached survived its parent');
      assert.equal(gateErrno(fifo), 'ENXIO');
      assert.ok(!existsSync(join(d, 'side-effect')));
      continue;
    }
    await sleep(300);
    assert.ok(alive(monitor), 'the detached monitor died with its parent');
    assert.notEqual(procField(readFileSync(`/proc/${monitor}/status`, 'utf8'), 'PPid'), String(p.pid));
    assert.ok(!existsSync(join(d, 'side-effect')));
    // "started" now goes to a pipe nobody reads (EPIPE); the workload gets its acknowledgement anyway.
    writeGate(fifo);
    assert.ok(await eventually(() => existsSync(join(d, 'side-effect')) && readFileSync(join(d, 'side-effect'), 'utf8') === 'ran\n'),
      'the workload never ran after the gate opened');
    assert.ok(await eventually(() => !alive(monitor)), 'the detached monitor did not end after its workload');
  }
});
