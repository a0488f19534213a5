/**
 * SCMP_ACT_NOTIFY under stockade-runtime, on the kernel: a seccomp agent (test/support/notify_listener.c)
 * listens on linux.seccomp.listenerPath, receives the container process state with the notify fd, and
 * answers the container's mkdir with EXDEV, which only it could have chosen. Also exec's process, and
 * the configs that are refused before anything runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CFLAGS, repoRoot } from './support/adversarial.js';
import { BUSYBOX, makeBusyboxRootfs, runtimeCaller, until } from './support/oci-runtime.js';

const APPLETS = ['sh', 'echo', 'mkdir', 'sleep', 'test', 'true'];
const work = `/var/tmp/stockade-notify-test-${process.pid}`;
const stateRoot = join(work, 'state');
const listenerBin = join(work, 'notify_listener');
let counter = 0;
const rt = runtimeCaller(stateRoot, work);

const skip = process.getuid?.() !== 0
  ? 'stockade-runtime tests need root (cgroups, namespaces as runc does)'
  : !existsSync(BUSYBOX)
    ? 'busybox-static is not installed (apt-get install busybox-static)'
    : spawnSync('cc', ['--version']).status !== 0
      ? 'no C compiler (cc) to build the seccomp agent'
      : undefined;

interface Bundle { id: string; dir: string }

function bundle(args: string[], seccomp: Record<string, unknown>): Bundle {
  const id = `n${process.pid}-${counter++}`;
  const dir = join(work, id);
  const rootfs = join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs, APPLETS);
  const caps = ['CAP_KILL'];
  const config = {
    ociVersion: '1.2.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps }, noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ],
    annotations: { 'org.example.test': 'notify' },
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources: { pids: { limit: 64 } },
      cgroupsPath: `/stockade-test/${id}`,
      seccomp,
    },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { id, dir };
}



interface Agent { socket: string; out: string; child: ChildProcess }
const agents: Agent[] = [];

/** A seccomp agent serving `connections` containers processes. */
async function startAgent(connections: number): Promise<Agent> {
  const n = counter++;
  const agent = { socket: join(work, `agent-${n}.sock`), out: join(work, `agent-${n}`), child: spawn(listenerBin, [join(work, `agent-${n}.sock`), join(work, `agent-${n}`), String(connections)], { stdio: ['ignore', 'ignore', 'inherit'] }) };
  agents.push(agent);
  await until('the agent to listen', () => existsSync(`${agent.out}.ready`));
  return agent;
}

interface ProcessState { ociVersion: string; fds: string[]; pid: number; metadata?: string; state: { ociVersion: string; id: string; status: string; pid: number; bundle: string; annotations: Record<string, string> } }

function received(agent: Agent, index: number): ProcessState {
  return JSON.parse(readFileSync(`${agent.out}.${index}.json`, 'utf8')) as ProcessState;
}

const notifyMkdir = (listenerPath?: string): Record<string, unknown> => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
  ...(listenerPath ? { listenerPath, listenerMetadata: 'hello' } : {}),
});

describe('SCMP_ACT_NOTIFY with a seccomp agent on linux.seccomp.listenerPath', { skip, concurrency: false }, () => {
  before(() => {
    mkdirSync(stateRoot, { recursive: true });
    const cc = spawnSync('cc', [...CFLAGS, '-o', listenerBin, join(repoRoot, 'test', 'support', 'notify_listener.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
  });
  after(() => {
    for (const a of agents) a.child.kill('SIGKILL');
    for (const id of existsSync(stateRoot) ? readdirSync(stateRoot) : []) rt(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
    spawnSync('rmdir', readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/stockade-test`), { stdio: 'ignore' });
  });

  it('the agent gets the notify fd with the container process state, and answers the container\'s mkdir', async () => {
    const agent = await startAgent(1);
    const b = bundle(['sh', '-c', 'mkdir /tmp/x 2>&1; echo "rc=$?"; test -d /tmp/x && echo present || echo absent'], notifyMkdir(agent.socket));
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Invalid cross-device link/, 'EXDEV, which only the agent answers');
    assert.match(r.stdout, /rc=1\nabsent\n$/);
    const msg = received(agent, 0);
    assert.equal(msg.ociVersion, '1.0.2');
    assert.deepEqual(msg.fds, ['seccompFd']);
    assert.equal(msg.metadata, 'hello');
    assert.ok(Number.isInteger(msg.pid) && msg.pid > 0, `pid ${msg.pid}`);
    assert.deepEqual(msg.state, { pid: msg.pid, ociVersion: '1.2.0', id: b.id, status: 'creating', bundle: b.dir, annotations: { 'org.example.test': 'notify' } });
    assert.equal(readFileSync(`${agent.out}.0.fds`, 'utf8'), '1\n');
    await until('the agent to see the filter gone', () => agent.child.exitCode !== null);
    assert.equal(agent.child.exitCode, 0);
    assert.match(readFileSync(`${agent.out}.0.log`, 'utf8'), /EXDEV/);
  });

  it('create hands the container process over, exec its own process, each with its state', async () => {
    const agent = await startAgent(2);
    const b = bundle(['sh', '-c', 'while :; do sleep 0.05; done'], notifyMkdir(agent.socket));
    const c = rt(['create', '--bundle', b.dir, b.id]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(rt(['start', b.id]).code, 0);
    await until('the init\'s hand-over', () => existsSync(`${agent.out}.0.json`));
    const e = rt(['exec', b.id, 'sh', '-c', 'mkdir /tmp/y 2>&1; echo "rc=$?"']);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /Invalid cross-device link\nrc=1\n$/);
    const init = received(agent, 0);
    const exec = received(agent, 1);
    assert.equal(init.state.status, 'creating');
    assert.equal(exec.state.status, 'running');
    assert.equal(exec.state.id, b.id);
    assert.notEqual(exec.pid, init.pid);
    assert.equal(exec.state.pid, exec.pid);
    assert.equal(rt(['delete', '--force', b.id]).code, 0);
    await until('the agent to see both filters gone', () => agent.child.exitCode !== null);
  });

  it('refuses NOTIFY without listenerPath, as the default action, and on sendmsg, before anything runs', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [notifyMkdir(), /linux\.seccomp\.listenerPath: SCMP_ACT_NOTIFY needs a listener/],
      [{ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: join(work, 'none.sock') }, /linux\.seccomp\.defaultAction: SCMP_ACT_NOTIFY cannot be the default action/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: join(work, 'none.sock'), syscalls: [{ names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }] }, /linux\.seccomp\.syscalls\[0\]: SCMP_ACT_NOTIFY on sendmsg is refused/],
    ];
    for (const [seccomp, message] of cases) {
      const b = bundle(['true'], seccomp);
      const r = rt(['run', '--bundle', b.dir, b.id]);
      assert.notEqual(r.code, 0, JSON.stringify(seccomp));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
      assert.equal(existsSync(join(stateRoot, b.id)), false, 'no state is left behind');
    }
  });

  it('a missing agent fails the container before its program runs, naming the socket', () => {
    const missing = join(work, 'missing.sock');
    const b = bundle(['sh', '-c', 'echo ran'], notifyMkdir(missing));
    const r = rt(['run', '--bundle', b.dir, b.id]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '', 'the program must not run');
    assert.match(r.stderr, new RegExp(`seccompListener ${missing.replace(/[.]/g, '\\.')}: connect: No such file or directory`));
  });
});
