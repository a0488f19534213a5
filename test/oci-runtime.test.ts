/**
 * stockade-runtime against the real kernel, without an engine: the create/start/state/kill/delete
 * life cycle, run and exec, the layers config.json asks for (each shown by the kernel refusing
 * something), and bad bundles leaving nothing behind. podman drives it in podman-runtime.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, containerStatus, makeBusyboxRootfs, runtimeCaller, until } from './support/oci-runtime.js';

const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'touch', 'mkdir', 'chown', 'hostname', 'id', 'ls', 'grep', 'head', 'test', 'true', 'false'];
const work = `/var/tmp/stockade-oci-test-${process.pid}`;
const stateRoot = join(work, 'state');
let counter = 0;
const rt = runtimeCaller(stateRoot, work);
const status = (id: string) => containerStatus(rt, id);
const makeRootfs = (dir: string) => makeBusyboxRootfs(dir, APPLETS, { dirs: ['proc', 'dev', 'sys', 'tmp', 'etc', 'out'], files: { 'etc/marker': 'from the image\n' } });

const skip = process.getuid?.() !== 0 ? 'stockade-runtime tests need root (cgroups, namespaces as runc does)' : !existsSync(BUSYBOX) ? 'busybox-static is not installed (apt-get install busybox-static)' : undefined;


interface Bundle { id: string; dir: string; out: string }

function bundle(args: string[], mutate: (c: Record<string, any>) => void = () => {}): Bundle {
  const id = `t${process.pid}-${counter++}`;
  const dir = join(work, id);
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  makeRootfs(join(dir, 'rootfs'));
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID'];
  const config: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps }, rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    hostname: 'oci-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: 64 } },
      cgroupsPath: `/stockade-test/${id}`,
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
    },
  };
  mutate(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { id, dir, out };
}




const cgroupDir = (b: Bundle) => `/sys/fs/cgroup/pids/stockade-test/${b.id}`;

describe('stockade-runtime on the kernel', { skip, concurrency: false }, () => {
  before(() => mkdirSync(stateRoot, { recursive: true }));
  after(() => {
    for (const id of existsSync(stateRoot) ? readdirSync(stateRoot) : []) rt(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
    spawnSync('rmdir', readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/stockade-test`), { stdio: 'ignore' });
  });

  it('create holds the program until start; state follows created, running, stopped; delete cleans up', async () => {
    const b = bundle(['sh', '-c', 'echo started > /out/marker; echo to-stdout; sleep 0.3']);
    const log = join(b.dir, 'stdout.log');
    const fd = openSync(log, 'w');
    const c = rt(['create', '--bundle', b.dir, '--pid-file', join(b.dir, 'pid'), b.id], { stdout: fd });
    closeSync(fd);
    assert.equal(c.code, 0, c.stderr);
    const pid = Number(readFileSync(join(b.dir, 'pid'), 'utf8'));
    assert.ok(pid > 0);
    assert.equal(status(b.id), 'created');
    assert.ok(existsSync(cgroupDir(b)), 'the cgroup exists from create on');
    assert.equal(readFileSync(join(cgroupDir(b), 'pids.max'), 'utf8').trim(), '64');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(existsSync(join(b.out, 'marker')), false, 'the program must not run before start');
    const s = rt(['start', b.id]);
    assert.equal(s.code, 0, s.stderr);
    await until('the marker', () => existsSync(join(b.out, 'marker')));
    await until('stopped', () => status(b.id) === 'stopped');
    assert.match(readFileSync(log, 'utf8'), /to-stdout/, 'the program writes to the stdio create was given');
    assert.equal(rt(['start', b.id]).code !== 0, true, 'a stopped container cannot start again');
    const d = rt(['delete', b.id]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(existsSync(join(stateRoot, b.id)), false);
    assert.equal(existsSync(cgroupDir(b)), false);
  });

  it('run passes the exit status and output through', () => {
    const b = bundle(['sh', '-c', 'echo hi; hostname; exit 3']);
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'hi\noci-test\n');
    assert.equal(existsSync(join(stateRoot, b.id)), false, 'run deletes the container it made');
    const missing = bundle(['/no/such/program']);
    const m = rt(['run', '--bundle', missing.dir, missing.id]);
    assert.equal(m.code, 127, 'a program missing from the image is 127, as a shell says');
    assert.equal(existsSync(join(stateRoot, missing.id)), false);
  });

  it('enforces what the config asks: read-only root, masked paths, dropped capabilities, seccomp', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    const script = [
      'touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly',
      'echo x > /out/f && chown 1 /out/f 2>/dev/null && echo chown-ok || echo chown-denied',
      'mkdir /tmp/d 2>/dev/null && echo mkdir-ok || echo mkdir-denied',
      'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sysctl-writable || echo sysctl-readonly',
      'test -s /proc/kcore && echo kcore-visible || echo kcore-masked',
      'grep CapEff /proc/self/status',
    ].join('; ');
    const b = bundle(['sh', '-c', script], (c) => {
      c.process.capabilities = { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] };
      c.linux.seccomp = profile;
    });
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['root-readonly', 'chown-denied', 'mkdir-denied', 'sysctl-readonly', 'kcore-masked', 'CapEff:\t0000000000000020']);
  });

  it('kill signals the program and exec enters the running container', async () => {
    // The program is pid 1 of its namespace: it gets SIGTERM from outside only with a handler.
    const b = bundle(['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.05; done']);
    assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
    assert.equal(rt(['start', b.id]).code, 0);
    assert.equal(status(b.id), 'running');
    const e = rt(['exec', b.id, 'sh', '-c', 'hostname; cat /etc/marker; id -u; head -c 2 /proc/1/cmdline']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, 'oci-test\nfrom the image\n0\nsh', 'exec sees the container: its hostname, its image, its program as pid 1');
    const e2 = rt(['exec', b.id, 'sh', '-c', 'exit 7']);
    assert.equal(e2.code, 7);
    assert.equal(rt(['delete', b.id]).code !== 0, true, 'a running container is not deleted without --force');
    assert.equal(rt(['kill', b.id, 'TERM']).code, 0);
    await until('stopped after SIGTERM', () => status(b.id) === 'stopped');
    assert.equal(rt(['delete', b.id]).code, 0);
  });

  it('resolves mount targets inside the root: a symlink in the image cannot aim a mount at the host', () => {
    const outside = join(work, `outside-${counter}`);
    mkdirSync(outside, { recursive: true });
    const b = bundle(['sh', '-c', 'ls /evil/sub >/dev/null 2>&1; echo done'], (c) => {
      c.root.readonly = false;
      c.mounts.push({ destination: '/evil/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    symlinkSync(outside, join(b.dir, 'rootfs', 'evil'));
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(existsSync(join(outside, 'sub')), false, `the host directory ${outside} must stay untouched (${r.stderr})`);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(outside), false);
  });

  it('refuses bad bundles with one line naming the input, and leaves no state or cgroup', () => {
    const cases: Array<[string, (b: Bundle) => void, RegExp]> = [
      ['malformed JSON', (b) => writeFileSync(join(b.dir, 'config.json'), '{"ociVersion": "1.0.0", '), /config\.json: invalid JSON/],
      ['unknown major version', (b) => { const c = JSON.parse(readFileSync(join(b.dir, 'config.json'), 'utf8')); c.ociVersion = '2.0.0'; writeFileSync(join(b.dir, 'config.json'), JSON.stringify(c)); }, /ociVersion: major version 2/],
      ['missing rootfs', (b) => rmSync(join(b.dir, 'rootfs'), { recursive: true }), /root\.path: the root file system .* does not exist/],
    ];
    for (const [name, breakIt, message] of cases) {
      const b = bundle(['true']);
      breakIt(b);
      const r = rt(['create', '--bundle', b.dir, b.id]);
      assert.notEqual(r.code, 0, name);
      assert.match(r.stderr, message, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line: ${r.stderr}`);
      assert.equal(existsSync(join(stateRoot, b.id)), false, `${name}: no state directory`);
      assert.equal(existsSync(cgroupDir(b)), false, `${name}: no cgroup`);
    }
  });

  it('reports what it supports', () => {
    const r = rt(['features']);
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.stdout) as { ociVersionMax: string }).ociVersionMax, '1.3.0');
    const bad = rt(['frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });
});
