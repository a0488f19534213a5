/**
 * process.apparmorProfile and process.selinuxLabel through stockade-runtime, against the kernel.
 *
 * - On a host with AppArmor: a profile loaded with apparmor_parser that denies writing one path is
 *   the container's (its /proc/self/attr/current), and the kernel refuses that write with EACCES
 *   while the rest of the container's files stay writable.
 * - On a host with SELinux: the container runs in the config's context.
 * - On a host without them (this project's CI kernel has neither): `run` refuses the config with one
 *   line naming the field and what the host lacks, and leaves no state behind; the helper itself
 *   never ignores a label it cannot write.
 *
 * Each case that needs what this host lacks is skipped with the reason, never passed empty.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findProgram } from '../src/apparmor/validate.js';
import { spawnHelper } from '../src/helper/client.js';
import type { HelperStatus, PlanOp } from '../src/helper/plan.js';
import { hostLsm } from '../src/oci-runtime/create.js';
import { BUSYBOX, makeBusyboxRootfs, runtimeCaller } from './support/oci-runtime.js';

const APPLETS = ['sh', 'echo', 'cat', 'touch', 'ls', 'true'];
const work = `/var/tmp/stockade-lsm-test-${process.pid}`;
const stateRoot = join(work, 'state');
const rt = runtimeCaller(stateRoot, work);
let counter = 0;

const lsm = hostLsm();
const AA_ENABLED_FILE = '/sys/module/apparmor/parameters/enabled';
const aaState = (): string => {
  try {
    return `${AA_ENABLED_FILE} reads "${readFileSync(AA_ENABLED_FILE, 'utf8').trim()}"${existsSync('/sys/kernel/security/apparmor') ? '' : ', no /sys/kernel/security/apparmor'}`;
  } catch {
    return `no ${AA_ENABLED_FILE}`;
  }
};
const NO_APPARMOR = lsm.apparmor ? false : `AppArmor is not enabled in this kernel: ${aaState()}`;
const NO_SELINUX = lsm.selinux ? false : 'SELinux is not enabled in this kernel: no /sys/fs/selinux/enforce';

const skip = process.getuid?.() !== 0
  ? 'stockade-runtime tests need root (cgroups, namespaces as runc does)'
  : !existsSync(BUSYBOX) ? 'busybox-static is not installed (apt-get install busybox-static)' : undefined;

interface Bundle { id: string; dir: string; out: string }

function bundle(args: string[], mutate: (c: Record<string, any>) => void = () => {}): Bundle {
  const id = `lsm${process.pid}-${counter++}`;
  const dir = join(work, id);
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  makeBusyboxRootfs(join(dir, 'rootfs'), APPLETS, { dirs: ['proc', 'dev', 'tmp', 'out'] });
  const config: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      cgroupsPath: `/stockade-test/${id}`,
    },
  };
  mutate(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { id, dir, out };
}

const stateDirs = (): string[] => (existsSync(stateRoot) ? readdirSync(stateRoot) : []);

describe('stockade-runtime: AppArmor and SELinux labels on the kernel', { skip, concurrency: false }, () => {
  before(() => mkdirSync(stateRoot, { recursive: true }));
  after(() => {
    for (const id of stateDirs()) rt(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
    spawnSync('rmdir', readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/stockade-test`), { stdio: 'ignore' });
  });

  it('confines the container with process.apparmorProfile: the kernel refuses the denied write with EACCES', (t) => {
    if (NO_APPARMOR) return t.skip(NO_APPARMOR);
    const parser = findProgram('apparmor_parser');
    if (!parser) return t.skip('apparmor_parser is not installed (apt-get install apparmor)');
    const name = `stockade-test-${process.pid}`;
    const profile = join(work, `${name}.profile`);
    // Everything allowed (as containers-default starts), except writing /out/denied.
    writeFileSync(profile, `profile ${name} flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  umount,\n  deny /out/denied w,\n}\n`);
    const load = spawnSync(parser, ['-r', profile], { encoding: 'utf8' });
    assert.equal(load.status, 0, `apparmor_parser -r: ${load.stderr}`);
    try {
      const b = bundle(['sh', '-c', 'cat /proc/self/attr/current; echo ok > /out/allowed; echo no > /out/denied; echo "denied-rc=$?"'], (c) => {
        c.process.apparmorProfile = name;
      });
      const r = rt(['run', '--bundle', b.dir, b.id]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${name} \\(enforce\\)$`, 'm'), 'the container runs under the profile');
      assert.match(r.stdout, /^denied-rc=1$/m);
      assert.match(r.stderr, /\/out\/denied: Permission denied/, 'EACCES from the kernel');
      assert.equal(existsSync(join(b.out, 'denied')), false);
      assert.equal(readFileSync(join(b.out, 'allowed'), 'utf8'), 'ok\n', 'the rest stays writable');
      assert.deepEqual(stateDirs(), [], 'run leaves no state behind');
    } finally {
      spawnSync(parser, ['-R', profile], { stdio: 'ignore' });
    }
  });

  it('runs the container in process.selinuxLabel\'s context', (t) => {
    if (NO_SELINUX) return t.skip(NO_SELINUX);
    const label = 'system_u:system_r:container_t:s0:c1,c2';
    // The policy must know the context (container-selinux); /sys/fs/selinux/context checks one.
    try {
      writeFileSync('/sys/fs/selinux/context', label);
    } catch (e) {
      return t.skip(`the SELinux policy does not know ${label} (${(e as NodeJS.ErrnoException).code}): install container-selinux`);
    }
    const b = bundle(['sh', '-c', 'cat /proc/self/attr/current; echo'], (c) => {
      c.process.selinuxLabel = label;
    });
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.replace(/\0/g, '').trim(), label);
  });

  it('refuses process.apparmorProfile on a host without AppArmor, in one line, leaving nothing behind', (t) => {
    if (!NO_APPARMOR) return t.skip('AppArmor is enabled on this host: the refusal is for hosts without it');
    const b = bundle(['true'], (c) => { c.process.apparmorProfile = 'containers-default-0.50.0'; });
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /config\.json: process\.apparmorProfile: AppArmor is not enabled on this host \(.*\): profile "containers-default-0\.50\.0" cannot be applied/);
    assert.deepEqual(stateDirs(), [], 'no state directory');
    assert.equal(existsSync(`/sys/fs/cgroup/pids/stockade-test/${b.id}`) || existsSync(`/sys/fs/cgroup/stockade-test/${b.id}`), false, 'no cgroup');
  });

  it('runs a container whose AppArmor profile is "unconfined" on a host without AppArmor', (t) => {
    if (!NO_APPARMOR) return t.skip('AppArmor is enabled on this host: "unconfined" is applied there, not skipped');
    const b = bundle(['sh', '-c', 'echo ran > /out/ran'], (c) => { c.process.apparmorProfile = 'unconfined'; });
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(b.out, 'ran'), 'utf8'), 'ran\n');
  });

  it('refuses process.selinuxLabel and linux.mountLabel on a host without SELinux', (t) => {
    if (!NO_SELINUX) return t.skip('SELinux is enabled on this host: the refusal is for hosts without it');
    for (const [mutate, re] of [
      [(c: Record<string, any>) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0'; }, /config\.json: process\.selinuxLabel: SELinux is not enabled on this host \(no \/sys\/fs\/selinux\/enforce\)/],
      [(c: Record<string, any>) => { c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'; }, /config\.json: linux\.mountLabel: SELinux is not enabled on this host/],
    ] as const) {
      const b = bundle(['true'], mutate);
      const r = rt(['run', '--bundle', b.dir, b.id]);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.deepEqual(stateDirs(), []);
    }
  });
});

describe('stockade-helper: the execLabel op never ignores a label it cannot write', { skip, concurrency: false }, () => {
  after(() => rmSync(work, { recursive: true, force: true }));
  const exec: PlanOp = { op: 'exec', path: '/bin/true', argv: ['true'], env: [], cwd: '/' };
  const run = async (ops: PlanOp[]) => {
    const r = await spawnHelper({ version: 1, wallTimeoutMs: 20_000, ops }, { stdio: ['ignore', 'ignore', 'ignore'] }).done;
    return { code: r.code, error: r.statuses.find((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error') };
  };

  it('fails the setup naming the file and errno on a kernel without AppArmor', async (t) => {
    if (!NO_APPARMOR) return t.skip('AppArmor is enabled on this host: the write would succeed');
    const r = await run([{ op: 'execLabel', lsm: 'apparmor', label: 'containers-default-0.50.0' }, exec]);
    assert.equal(r.code, 125);
    assert.equal(r.error?.step, 'execLabel');
    assert.ok(r.error.errno > 0);
    t.diagnostic(r.error.detail);
    assert.match(r.error.detail, /^apparmor label containers-default-0\.50\.0: (open|write) \/proc\/thread-self\/attr\/(apparmor\/)?exec: /);
  });

  it('fails with a clear error when the sandbox has no /proc', async () => {
    const rootfs = join(work, 'noproc', 'rootfs');
    makeBusyboxRootfs(rootfs, ['true'], { dirs: ['proc'] });
    const r = await run([
      { op: 'namespaces', ns: { user: false, pid: true, mount: true, net: false, uts: false, ipc: false, cgroup: false } },
      { op: 'rootfs', source: rootfs, readOnly: true },
      { op: 'pivotRoot' },
      { op: 'setsid', terminal: false },
      { op: 'execLabel', lsm: 'selinux', label: 'system_u:system_r:container_t:s0' },
      { op: 'noNewPrivs' },
      exec,
    ]);
    assert.equal(r.code, 125);
    assert.equal(r.error?.step, 'execLabel');
    assert.equal(r.error.errno, 2);
    assert.match(r.error.detail, /\/proc\/thread-self: No such file or directory .*needs a proc mount on \/proc/);
  });
});
