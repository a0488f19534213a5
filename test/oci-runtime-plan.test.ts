/**
 * stockade-runtime's pure core: config.json validation (JSON paths in every message) and its
 * mapping onto a helper plan, on the config podman 4.3 really generates (test/fixtures/podman/).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StockadeError } from '../src/errors.js';
import type { PlanOp } from '../src/helper/plan.js';
import { cgroupRelativePath } from '../src/oci-runtime/cgroups.js';
import { MS, parseMountOptions } from '../src/oci-runtime/mount-options.js';
import { parseOciSpec } from '../src/oci-runtime/spec.js';
import { NOTIFY_REFUSED_SYSCALLS, planForCreate, planForExec, seccompListenerOp, type PlanInput } from '../src/oci-runtime/to-plan.js';
import { repoRoot } from './support/adversarial.js';

const podmanConfig = readFileSync(join(repoRoot, 'test', 'fixtures', 'podman', 'config.example.json'), 'utf8');

function input(text: string, extra: Partial<PlanInput> = {}): PlanInput {
  return {
    spec: parseOciSpec(text, 'config.json'),
    source: 'config.json',
    rootfs: '/var/tmp/rootfs',
    bundle: '/var/tmp/bundle',
    fileSources: new Set(),
    cgroupProcsFiles: ['/sys/fs/cgroup/pids/x/cgroup.procs'],
    cgroupV2Only: false,
    lsm: { apparmor: false, selinux: false },
    gateFifo: '/run/stockade/x/exec.fifo',
    ...extra,
  };
}

function edit(mut: (c: Record<string, any>) => void): string {
  const c = JSON.parse(podmanConfig) as Record<string, any>;
  mut(c);
  return JSON.stringify(c);
}

function rejects(text: string, code: StockadeError['code'], where: RegExp, extra: Partial<PlanInput> = {}): void {
  assert.throws(() => planForCreate(input(text, extra)), (e: unknown) => {
    assert.ok(e instanceof StockadeError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, where);
    assert.equal(e.message.includes('\n'), false);
    return true;
  });
}

const ops = (p: { ops: PlanOp[] }, kind: PlanOp['op']) => p.ops.filter((o) => o.op === kind);

describe('oci runtime: podman config to plan', () => {
  it('maps every part of the config podman generates', () => {
    const plan = planForCreate(input(podmanConfig));
    assert.equal(plan.detached, true);
    assert.deepEqual(plan.ops[0], { op: 'startGate', fifo: '/run/stockade/x/exec.fifo' });
    assert.deepEqual(ops(plan, 'namespaces'), [{ op: 'namespaces', ns: { user: false, pid: true, mount: true, net: true, uts: true, ipc: true, cgroup: false } }]);
    assert.deepEqual(ops(plan, 'rootfs'), [{ op: 'rootfs', source: '/var/tmp/rootfs', readOnly: false }]);
    assert.deepEqual(ops(plan, 'dev'), [{ op: 'dev', target: '/dev' }]);
    const mounts = ops(plan, 'mount') as Extract<PlanOp, { op: 'mount' }>[];
    const proc = mounts.find((m) => m.target === '/proc')!;
    assert.equal(proc.fstype, 'proc');
    assert.equal(proc.flags, MS.NOSUID | MS.NOEXEC | MS.NODEV);
    const sys = mounts.find((m) => m.target === '/sys')!;
    assert.equal(sys.flags & MS.RDONLY, MS.RDONLY);
    const cg = mounts.find((m) => m.target === '/sys/fs/cgroup')!;
    assert.equal(cg.fstype, 'tmpfs', 'a v1 host gets an empty read-only directory');
    assert.equal(cg.flags & MS.RDONLY, MS.RDONLY);
    const hosts = mounts.find((m) => m.target === '/etc/hosts')!;
    assert.equal(hosts.flags & MS.BIND, MS.BIND);
    assert.equal(hosts.propagation, MS.PRIVATE | MS.REC);
    assert.equal(ops(plan, 'hide').length, 11);
    assert.equal(ops(plan, 'readOnly').length, 6);
    assert.deepEqual(ops(plan, 'hostname'), [{ op: 'hostname', name: '7d9b0b46526d' }]);
    assert.deepEqual(ops(plan, 'rlimit').map((o) => (o as { resource: string }).resource), ['nofile', 'nproc']);
    const caps = ops(plan, 'capabilitySets')[0] as Extract<PlanOp, { op: 'capabilitySets' }>;
    assert.equal(caps.bounding, caps.effective);
    assert.equal(caps.ambient, 0n);
    assert.equal(caps.bounding.toString(2).split('1').length - 1, 14);
    assert.deepEqual(ops(plan, 'exec'), [{ op: 'exec', path: 'sh', argv: ['sh', '-c', 'echo hi; exit 3'], env: JSON.parse(podmanConfig).process.env, cwd: '/' }]);
    assert.equal(plan.ops.at(-1)!.op, 'exec');
  });

  it('makes a bind target a file when its source is one, and a v2 host gets cgroup2', () => {
    const spec = JSON.parse(podmanConfig);
    const hostsSource = spec.mounts.find((m: { destination: string }) => m.destination === '/etc/hosts').source;
    const plan = planForCreate(input(podmanConfig, { fileSources: new Set([hostsSource]), cgroupV2Only: true }));
    const mounts = ops(plan, 'mount') as Extract<PlanOp, { op: 'mount' }>[];
    assert.equal(mounts.find((m) => m.target === '/etc/hosts')!.kind, 'file');
    assert.equal(mounts.find((m) => m.target === '/sys/fs/cgroup')!.fstype, 'cgroup2');
  });

  it('joins namespaces given by path and refuses what it cannot join', () => {
    const joined = edit((c) => { c.linux.namespaces[1] = { type: 'network', path: '/run/netns/n1' }; });
    const plan = planForCreate(input(joined));
    assert.deepEqual(ops(plan, 'joinNamespace'), [{ op: 'joinNamespace', type: 'net', path: '/run/netns/n1' }]);
    assert.equal((ops(plan, 'namespaces')[0] as { ns: { net: boolean } }).ns.net, false);
    rejects(edit((c) => { c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }); }), 'unsupported', /linux\.namespaces\[5\]\.path/);
    rejects(edit((c) => { c.linux.namespaces.push({ type: 'time' }); }), 'unsupported', /linux\.namespaces\[5\]: time namespaces/);
    rejects(edit((c) => { c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'mount'); }), 'unsupported', /mount namespace/);
  });

  it('plans exec as joins of the container init\'s namespaces, the mount namespace last, and no mounts', () => {
    const spec = parseOciSpec(podmanConfig, 'config.json');
    const plan = planForExec(spec.process!, { initPid: 4242, namespaces: ['pid', 'net', 'ipc', 'uts', 'mount'] }, { source: 'p.json', cgroupProcsFiles: [], lsm: { apparmor: false, selinux: false } }, true);
    const joins = ops(plan, 'joinNamespace') as Extract<PlanOp, { op: 'joinNamespace' }>[];
    assert.deepEqual(joins.map((j) => j.path), ['/proc/4242/ns/ipc', '/proc/4242/ns/uts', '/proc/4242/ns/net', '/proc/4242/ns/pid', '/proc/4242/ns/mnt']);
    assert.equal(plan.ops.some((o) => ['rootfs', 'mount', 'pivotRoot', 'namespaces'].includes(o.op)), false);
  });
});

describe('oci runtime: AppArmor and SELinux labels', () => {
  const AA = { apparmor: true, selinux: false };
  const SE = { apparmor: false, selinux: true };
  const NONE = { apparmor: false, selinux: false };
  const withProfile = edit((c) => { c.process.apparmorProfile = 'containers-default-0.50.0'; c.process.noNewPrivileges = true; });
  const withLabel = edit((c) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2'; c.process.noNewPrivileges = true; });
  const before = (plan: { ops: PlanOp[] }, a: PlanOp['op'], b: PlanOp['op']) => {
    const i = plan.ops.findIndex((o) => o.op === a);
    const j = plan.ops.findIndex((o) => o.op === b);
    assert.ok(i >= 0 && j >= 0 && i < j, `${a} (at ${i}) must come before ${b} (at ${j})`);
  };

  it('applies process.apparmorProfile where AppArmor is enabled, after setsid and before no_new_privs', () => {
    const plan = planForCreate(input(withProfile, { lsm: AA }));
    assert.deepEqual(ops(plan, 'execLabel'), [{ op: 'execLabel', lsm: 'apparmor', label: 'containers-default-0.50.0' }]);
    before(plan, 'setsid', 'execLabel');
    before(plan, 'execLabel', 'noNewPrivs');
    // stockade's hardening adds no_new_privs too: still after the label
    const hardened = planForCreate(input(edit((c) => { c.process.apparmorProfile = 'p'; }), { lsm: AA, hardening: { seccomp: Buffer.alloc(8) } }));
    before(hardened, 'execLabel', 'noNewPrivs');
  });

  it('refuses process.apparmorProfile where AppArmor is not enabled, naming what is missing', () => {
    rejects(withProfile, 'unsupported', /^config\.json: process\.apparmorProfile: AppArmor is not enabled on this host \(\/sys\/module\/apparmor\/parameters\/enabled .*profile "containers-default-0\.50\.0"/, { lsm: NONE });
    rejects(withProfile, 'unsupported', /process\.apparmorProfile: AppArmor is not enabled/, { lsm: SE });
  });

  it('skips "unconfined" where AppArmor is not enabled, and applies it where it is (as runc)', () => {
    const unconfined = edit((c) => { c.process.apparmorProfile = 'unconfined'; });
    assert.deepEqual(ops(planForCreate(input(unconfined, { lsm: NONE })), 'execLabel'), []);
    assert.deepEqual(ops(planForCreate(input(unconfined, { lsm: AA })), 'execLabel'), [{ op: 'execLabel', lsm: 'apparmor', label: 'unconfined' }]);
    assert.deepEqual(ops(planForCreate(input(podmanConfig, { lsm: AA })), 'execLabel'), [], 'no profile, no op');
  });

  it('applies process.selinuxLabel where SELinux is enabled and refuses it elsewhere', () => {
    const plan = planForCreate(input(withLabel, { lsm: SE }));
    assert.deepEqual(ops(plan, 'execLabel'), [{ op: 'execLabel', lsm: 'selinux', label: 'system_u:system_r:container_t:s0:c1,c2' }]);
    before(plan, 'setsid', 'execLabel');
    before(plan, 'execLabel', 'noNewPrivs');
    rejects(withLabel, 'unsupported', /^config\.json: process\.selinuxLabel: SELinux is not enabled on this host \(no \/sys\/fs\/selinux\/enforce\)/, { lsm: AA });
  });

  it('refuses linux.mountLabel: without SELinux it cannot apply, with SELinux the mounts are not labelled yet', () => {
    rejects(podmanConfig, 'unsupported', /^config\.json: linux\.mountLabel: SELinux is not enabled on this host/, { lsm: NONE, mountLabel: 'system_u:object_r:container_file_t:s0:c1,c2' });
    rejects(podmanConfig, 'unsupported', /^config\.json: linux\.mountLabel: stockade-runtime does not label mounts .*label=disable/, { lsm: SE, mountLabel: 'system_u:object_r:container_file_t:s0:c1,c2' });
  });

  it('refuses a label the helper could not take', () => {
    rejects(edit((c) => { c.process.apparmorProfile = 'p'.repeat(4096); }), 'input', /process\.apparmorProfile: is longer than 4095 bytes/, { lsm: AA });
    rejects(edit((c) => { c.process.apparmorProfile = 'a\nb'; }), 'input', /process\.apparmorProfile: contains a control character/, { lsm: AA });
  });

  it('applies the --process file\'s labels for exec, or refuses them as create does', () => {
    const proc = parseOciSpec(withProfile, 'config.json').process!;
    const container = { initPid: 4242, namespaces: ['pid' as const, 'mount' as const] };
    const plan = planForExec({ ...proc, selinuxLabel: 'system_u:system_r:container_t:s0' }, container, { source: 'p.json', cgroupProcsFiles: [], lsm: { apparmor: true, selinux: true } }, true);
    assert.deepEqual(ops(plan, 'execLabel'), [
      { op: 'execLabel', lsm: 'apparmor', label: 'containers-default-0.50.0' },
      { op: 'execLabel', lsm: 'selinux', label: 'system_u:system_r:container_t:s0' },
    ]);
    before(plan, 'execLabel', 'noNewPrivs');
    assert.throws(() => planForExec(proc, container, { source: 'p.json', cgroupProcsFiles: [], lsm: NONE }, true), /p\.json: process\.apparmorProfile: AppArmor is not enabled/);
  });
});

describe('oci runtime: bad config.json', () => {
  it('names the input of each refusal in one line', () => {
    rejects('{"ociVersion": "1.0.2", "root": ', 'input', /config\.json: invalid JSON at line 1/);
    rejects(edit((c) => { c.ociVersion = '2.0.0'; }), 'input', /config\.json: ociVersion: major version 2 is not supported/);
    rejects(edit((c) => { c.ociVersion = 'one'; }), 'input', /ociVersion: "one" is not a version/);
    rejects(edit((c) => { delete c.root; }), 'input', /root: must be an object/);
    rejects(edit((c) => { c.process.args = []; }), 'input', /process\.args: must name the program/);
    rejects(edit((c) => { c.process.cwd = 'relative'; }), 'input', /process\.cwd: "relative" must be an absolute path/);
    rejects(edit((c) => { c.process.rlimits[0].type = 'RLIMIT_BOGUS'; }), 'input', /process\.rlimits\[0\]\.type: unknown rlimit/);
    rejects(edit((c) => { c.process.capabilities.bounding.push('CAP_FLY'); }), 'unsupported', /process\.capabilities\.bounding\[14\]/);
    rejects(edit((c) => { c.mounts[0].destination = 'proc'; }), 'input', /mounts\[0\]\.destination/);
    rejects(edit((c) => { c.mounts[5].options.push('idmap'); }), 'unsupported', /mounts\[5\]\.options: option idmap/);
    rejects(edit((c) => { c.process.apparmorProfile = 'containers-default'; }), 'unsupported', /process\.apparmorProfile: AppArmor is not enabled on this host/);
    rejects(edit((c) => { c.linux.resources.blockIO = { weight: 10 }; }), 'unsupported', /linux\.resources\.blockIO/);
    rejects(edit((c) => { c.linux.seccomp.syscalls[0].action = 'SCMP_ACT_FLY'; }), 'input', /linux\.seccomp/);
    rejects(edit((c) => { c.linux.sysctl = { 'net/ipv4': '1' }; }), 'input', /linux\.sysctl\.net\/ipv4/);
    rejects(edit((c) => { c.hostname = 'h'; c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts'); }), 'unsupported', /hostname: setting the hostname needs a new uts namespace/);
  });

  it('ignores properties it does not know, as the spec asks', () => {
    assert.doesNotThrow(() => planForCreate(input(edit((c) => { c.futureField = { x: 1 }; c.process.futureToo = true; }))));
  });
});

describe('oci runtime: SCMP_ACT_NOTIFY and linux.seccomp.listenerPath', () => {
  const seccomp = { program: Buffer.from('060000000000ff7f', 'hex'), flags: 0 };
  const container = { id: 'c1', status: 'creating' as const, bundle: '/var/tmp/bundle' };
  const notify = (c: Record<string, any>, names = ['mkdir', 'mkdirat']): number =>
    c.linux.seccomp.syscalls.push({ names, action: 'SCMP_ACT_NOTIFY' }) - 1;
  const withListener = edit((c) => {
    notify(c);
    c.linux.seccomp.listenerPath = '/run/agent.sock';
    c.linux.seccomp.listenerMetadata = 'hello';
  });

  it('adds the seccompListener op with the container state, and NEW_LISTENER on the config\'s filter only', () => {
    const plan = planForCreate(input(withListener, { seccomp, container, hardening: { seccomp: seccomp.program } }));
    assert.deepEqual(plan.ops.slice(0, 2).map((o) => o.op), ['startGate', 'seccompListener']);
    const l = ops(plan, 'seccompListener')[0] as Extract<PlanOp, { op: 'seccompListener' }>;
    assert.equal(l.path, '/run/agent.sock');
    assert.equal(l.metadata, 'hello');
    const spec = JSON.parse(podmanConfig);
    assert.deepEqual(JSON.parse(l.state), { ociVersion: spec.ociVersion, id: 'c1', status: 'creating', bundle: '/var/tmp/bundle', annotations: spec.annotations });
    assert.equal('pid' in JSON.parse(l.state), false, 'the helper adds the pid');
    assert.deepEqual((ops(plan, 'seccomp') as Extract<PlanOp, { op: 'seccomp' }>[]).map((o) => o.flags), [8, 0]);
  });

  it('plans no listener without a NOTIFY rule, and none before the filter is compiled', () => {
    const pathOnly = planForCreate(input(edit((c) => { c.linux.seccomp.listenerPath = '/run/agent.sock'; }), { seccomp, container }));
    assert.deepEqual(ops(pathOnly, 'seccompListener'), []);
    assert.deepEqual((ops(pathOnly, 'seccomp') as Extract<PlanOp, { op: 'seccomp' }>[]).map((o) => o.flags), [0]);
    assert.deepEqual(ops(planForCreate(input(withListener, { container })), 'seccompListener'), []);
  });

  it('hands exec\'s filter to the listener too', () => {
    const spec = parseOciSpec(withListener, 'config.json');
    const listener = seccompListenerOp(spec, 'config.json', { id: 'c1', status: 'running', bundle: '/b' })!;
    assert.equal(JSON.parse(listener.state).status, 'running');
    const plan = planForExec(spec.process!, { initPid: 4242, namespaces: ['pid', 'mount'] }, { source: 'p.json', cgroupProcsFiles: [], seccomp, listener, lsm: { apparmor: false, selinux: false } }, true);
    assert.deepEqual(ops(plan, 'seccompListener'), [listener]);
    assert.deepEqual((ops(plan, 'seccomp') as Extract<PlanOp, { op: 'seccomp' }>[]).map((o) => o.flags), [8]);
  });

  it('refuses NOTIFY without listenerPath, as the default action, and on the hand-over\'s own syscalls', () => {
    rejects(edit((c) => { notify(c); }), 'input', /^config\.json: linux\.seccomp\.listenerPath: SCMP_ACT_NOTIFY needs a listener/, { container });
    rejects(edit((c) => { notify(c); c.linux.seccomp.listenerPath = 'agent.sock'; }), 'input', /linux\.seccomp\.listenerPath: "agent\.sock" must be an absolute path/, { container });
    rejects(edit((c) => { c.linux.seccomp.defaultAction = 'SCMP_ACT_NOTIFY'; c.linux.seccomp.listenerPath = '/a'; }), 'unsupported', /linux\.seccomp\.defaultAction: SCMP_ACT_NOTIFY cannot be the default action/, { container });
    for (const name of NOTIFY_REFUSED_SYSCALLS) {
      let i = -1;
      const text = edit((c) => { i = notify(c, ['getpid', name]); c.linux.seccomp.listenerPath = '/a'; });
      rejects(text, 'unsupported', new RegExp(`linux\\.seccomp\\.syscalls\\[${i}\\]: SCMP_ACT_NOTIFY on ${name} is refused`), { container });
    }
  });
});

describe('oci runtime: mount options and cgroup paths', () => {
  it('turns mount(8) words into flags, propagation and data', () => {
    const o = parseMountOptions(['rbind', 'ro', 'nosuid', 'nodev', 'noexec', 'rslave', 'mode=755', 'size=64k', 'tmpcopyup']);
    assert.equal(o.flags, MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
    assert.equal(o.propagation, MS.SLAVE | MS.REC);
    assert.equal(o.data, 'mode=755,size=64k');
    assert.deepEqual(o.engineWords, ['tmpcopyup']);
    assert.equal(parseMountOptions(['ro', 'rw']).flags, 0n, 'the last word wins');
  });

  it('reads cgroupsPath in cgroupfs and systemd forms', () => {
    assert.equal(cgroupRelativePath('/libpod_parent/libpod-abc', 'abc', false), '/libpod_parent/libpod-abc');
    assert.equal(cgroupRelativePath('machine.slice:libpod:abc', 'abc', true), '/machine.slice/libpod-abc.scope');
    assert.equal(cgroupRelativePath(undefined, 'abc', false), '/stockade/abc');
    assert.throws(() => cgroupRelativePath('/a/../../etc', 'x', false), /must not contain/);
  });
});
