/**
 * `create` through the warm planner (src/oci-runtime/planner.ts, native/runtime/front_create.c):
 * the first create starts a planner and runs cold; later ones are planned by it while the front
 * spawns the helper; failures are reported as Node reports them and leave nothing behind; a dead or
 * stale planner means a cold create and a new planner. docs/oci-runtime.md, "The fast path".
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, RUNTIME, containerStatus, makeBusyboxRootfs, runtimeCaller, until } from './support/oci-runtime.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FRONT = join(repoRoot, 'native', 'build', 'stockade-runtime-front');
const HELPER = join(repoRoot, 'native', 'build', 'stockade-helper');
const PLANNER_JS = join(repoRoot, 'dist', 'src', 'oci-runtime', 'planner.js');
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'true'];
const work = `/var/tmp/stockade-planner-test-${process.pid}`;
const stateRoot = join(work, 'state');
const plannerLog = join(work, 'planner.log');
const socket = join(stateRoot, '.planner.sock');
const CGROUP_PARENT = `stockade-planner-test-${process.pid}`;
let counter = 0;
const rt = runtimeCaller(stateRoot, work);
const status = (id: string) => containerStatus(rt, id);
const plannerPids = new Set<number>();

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const skip = process.getuid?.() !== 0 ? 'the planner tests need root (cgroups, namespaces as runc does)'
  : !existsSync(BUSYBOX) ? 'busybox-static is not installed (apt-get install busybox-static)'
  : !executable(FRONT) || !executable(HELPER) ? 'native/build/stockade-runtime-front or stockade-helper is not built (node scripts/build-native.mjs)'
  : !existsSync(PLANNER_JS) ? 'dist/src/oci-runtime/planner.js is not built (npx tsc)'
  : undefined;

interface Bundle { id: string; dir: string }

function bundle(args: string[], mutate: (c: Record<string, any>) => void = () => {}): Bundle {
  const id = `p${process.pid}-${counter++}`;
  const dir = join(work, id);
  mkdirSync(dir, { recursive: true });
  makeBusyboxRootfs(join(dir, 'rootfs'), APPLETS);
  const caps = ['CAP_KILL'];
  const config: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps }, noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources: { pids: { limit: 64 } },
      cgroupsPath: `/${CGROUP_PARENT}/${id}`,
    },
  };
  mutate(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { id, dir };
}

/** The requests the planner logged (STOCKADE_RUNTIME_PLANNER_LOG): "create ID PLANNER_PID". */
function logged(id: string): number[] {
  if (!existsSync(plannerLog)) return [];
  return readFileSync(plannerLog, 'utf8').split('\n').filter((l) => l.split(' ')[1] === id).map((l) => Number(l.split(' ')[2]));
}

function plannerPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(stateRoot, '.planner.pid'), 'utf8'));
    if (pid > 0) plannerPids.add(pid);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** Waits for a planner (other than `not`) to be listening. */
async function planner(not?: number): Promise<number> {
  let pid: number | undefined;
  await until('a planner listening', () => {
    pid = plannerPid();
    return pid !== undefined && pid !== not && alive(pid) && existsSync(socket);
  }, 20_000);
  return pid!;
}

/** Every cgroup directory this file's containers could have for `id`. */
function cgroupDirsFor(id: string): string[] {
  const dirs = [join('/sys/fs/cgroup', CGROUP_PARENT, id)];
  for (const h of readdirSync('/sys/fs/cgroup')) dirs.push(join('/sys/fs/cgroup', h, CGROUP_PARENT, id));
  return dirs.filter((d) => existsSync(d));
}

/** create, start, wait for the end, check the output, delete; the state and cgroups must be gone. */
async function lifecycle(b: Bundle, expected: string): Promise<void> {
  const outFile = join(work, `${b.id}.out`);
  const outFd = openSync(outFile, 'w');
  const c = rt(['create', '--bundle', b.dir, b.id], { stdout: outFd });
  closeSync(outFd);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(status(b.id), 'created');
  const state = JSON.parse(readFileSync(join(stateRoot, b.id, 'state.json'), 'utf8')) as { cgroup: { dirs: string[] } };
  assert.ok(existsSync(join(stateRoot, b.id, 'fast')), 'create wrote the fast file');
  const s = rt(['start', b.id]);
  assert.equal(s.code, 0, s.stderr);
  await until(`${b.id} to stop`, () => status(b.id) === 'stopped');
  assert.equal(readFileSync(outFile, 'utf8'), expected);
  const d = rt(['delete', b.id]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(existsSync(join(stateRoot, b.id)), false, 'delete removed the state directory');
  for (const dir of state.cgroup.dirs) assert.equal(existsSync(dir), false, `delete removed ${dir}`);
}

/** create of a config that must fail: the error (warm, then cold) and what is left behind. */
function failingCreate(mutate: (c: Record<string, any>) => void): { warm: ReturnType<typeof rt>; cold: ReturnType<typeof rt>; id: string } {
  const b = bundle(['/bin/true'], mutate);
  const warm = rt(['create', '--bundle', b.dir, b.id]);
  assert.deepEqual(logged(b.id).length, 1, 'the failing create went through the planner');
  assert.equal(existsSync(join(stateRoot, b.id)), false, 'no state directory is left');
  assert.deepEqual(cgroupDirsFor(b.id), [], 'no cgroup is left');
  const cold = spawnSync(RUNTIME, ['--root', stateRoot, 'create', '--bundle', b.dir, b.id], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, STOCKADE_RUNTIME_PLANNER: 'off' }, stdio: ['ignore', 'ignore', 'pipe'] });
  assert.equal(logged(b.id).length, 1, 'STOCKADE_RUNTIME_PLANNER=off does not ask the planner');
  assert.equal(existsSync(join(stateRoot, b.id)), false);
  assert.deepEqual(cgroupDirsFor(b.id), []);
  return { warm, cold: { code: cold.status, stdout: '', stderr: cold.stderr }, id: b.id };
}

describe('stockade-runtime create through the warm planner', { skip }, () => {
  before(() => {
    mkdirSync(work, { recursive: true, mode: 0o700 });
    process.env.STOCKADE_RUNTIME_PLANNER_LOG = plannerLog; // the planners started below inherit it
    delete process.env.STOCKADE_RUNTIME_PLANNER;
  });
  after(() => {
    delete process.env.STOCKADE_RUNTIME_PLANNER_LOG;
    plannerPid();
    for (const pid of plannerPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    for (const id of existsSync(stateRoot) ? readdirSync(stateRoot).filter((n) => !n.startsWith('.')) : []) rt(['delete', '--force', id]);
    for (const h of ['', ...(existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : [])]) {
      const d = join('/sys/fs/cgroup', h, CGROUP_PARENT);
      if (existsSync(d)) spawnSync('rmdir', [d]);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('the first create starts a planner and runs cold', async () => {
    const b = bundle(['/bin/echo', 'cold']);
    await lifecycle(b, 'cold\n');
    assert.deepEqual(logged(b.id), [], 'the first create did not go through a planner');
    await planner();
    assert.equal(statSync(stateRoot).mode & 0o777, 0o700);
    assert.equal(rt(['list']).stdout, '', 'list shows no planner files');
  });

  it('later creates go through the planner, with no node started by the front', async () => {
    const pid = await planner();
    const b = bundle(['/bin/sh', '-c', 'echo warm; echo $$']);
    await lifecycle(b, 'warm\n1\n');
    assert.deepEqual(logged(b.id), [pid]);
    const strace = spawnSync('strace', ['-V'], { stdio: 'ignore' });
    if (strace.status !== 0) return; // the log above is the proof then
    const c = bundle(['/bin/true']);
    const trace = join(work, 'strace.out');
    // strace -f follows the helper too, which waits at the start gate: it ends with the container.
    const errFile = join(work, 'strace.err');
    const errFd = openSync(errFile, 'w');
    const tracer = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, FRONT, '--root', stateRoot, 'create', '--bundle', c.dir, c.id], { stdio: ['ignore', 'ignore', errFd] });
    const traced = new Promise<number | null>((res) => tracer.on('close', res));
    closeSync(errFd);
    try {
      await until(`${c.id} to be created under strace`, () => status(c.id) === 'created', 20_000);
    } finally {
      rt(['delete', '--force', c.id]);
    }
    assert.equal(await traced, 0, readFileSync(errFile, 'utf8'));
    const execs = readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('execve('));
    assert.ok(execs.some((l) => l.includes('stockade-helper')), execs.join('\n'));
    assert.deepEqual(execs.filter((l) => /execve\("[^"]*node"/.test(l)), [], 'no node was executed');
    assert.equal(existsSync(join(stateRoot, c.id)), false);
  });

  it('a config refused at planning fails with the same line as cold and leaves nothing', async () => {
    await planner();
    const { warm, cold } = failingCreate((c) => { c.domainname = 'example'; });
    assert.equal(warm.code, cold.code);
    assert.notEqual(warm.code, 0);
    assert.match(warm.stderr, /^stockade-runtime: .*domainname.*\n$/);
    assert.equal(warm.stderr, cold.stderr);
  });

  it('a config the helper refuses is reported as cold reports it and cleaned up', async () => {
    await planner();
    const { warm, cold } = failingCreate((c) => { c.linux.sysctl = { 'kernel.panic': '1' }; });
    assert.equal(warm.code, 1);
    assert.equal(warm.code, cold.code);
    assert.match(warm.stderr, /kernel\.panic is not namespaced/);
    assert.equal(warm.stderr, cold.stderr);
  });

  it('a killed planner means a cold create and a new planner', async () => {
    const old = await planner();
    process.kill(old, 'SIGKILL');
    await until('the planner to die', () => !alive(old));
    assert.ok(existsSync(socket), 'the dead planner left its socket file');
    const b = bundle(['/bin/echo', 'after kill']);
    await lifecycle(b, 'after kill\n');
    assert.deepEqual(logged(b.id), [], 'went cold');
    const fresh = await planner(old);
    const c = bundle(['/bin/echo', 'again']);
    await lifecycle(c, 'again\n');
    assert.deepEqual(logged(c.id), [fresh]);
  });

  it('a stale planner (its files changed) is replaced', async () => {
    const old = await planner();
    const touched = join(repoRoot, 'dist', 'src', 'oci-runtime', 'freeze.js');
    const now = new Date();
    utimesSync(touched, now, now);
    const b = bundle(['/bin/echo', 'stale']);
    await lifecycle(b, 'stale\n');
    assert.deepEqual(logged(b.id), [], 'the stale planner did not plan');
    await until('the stale planner to exit', () => !alive(old));
    const fresh = await planner(old);
    const c = bundle(['/bin/echo', 'fresh']);
    await lifecycle(c, 'fresh\n');
    assert.deepEqual(logged(c.id), [fresh]);
  });

  it('five concurrent creates all succeed through the planner', async () => {
    const pid = await planner();
    const bundles = Array.from({ length: 5 }, (_, i) => bundle(['/bin/echo', `c${i}`]));
    const results = await Promise.all(bundles.map((b, i) => new Promise<{ code: number | null; err: string }>((res) => {
      const outFd = openSync(join(work, `${b.id}.out`), 'w');
      const errFile = join(work, `${b.id}.err`);
      const errFd = openSync(errFile, 'w');
      const p = spawn(RUNTIME, ['--root', stateRoot, 'create', '--bundle', b.dir, b.id], { stdio: ['ignore', outFd, errFd] });
      p.on('close', (code) => {
        closeSync(outFd);
        closeSync(errFd);
        res({ code, err: readFileSync(errFile, 'utf8') + String(i) });
      });
    })));
    for (const r of results) assert.equal(r.code, 0, r.err);
    for (const b of bundles) {
      assert.deepEqual(logged(b.id), [pid]);
      assert.equal(rt(['start', b.id]).code, 0);
    }
    for (const [i, b] of bundles.entries()) {
      await until(`${b.id} to stop`, () => status(b.id) === 'stopped');
      assert.equal(readFileSync(join(work, `${b.id}.out`), 'utf8'), `c${i}\n`);
      assert.equal(rt(['delete', b.id]).code, 0);
      assert.equal(existsSync(join(stateRoot, b.id)), false);
    }
  });

  it('STOCKADE_RUNTIME_PLANNER=off creates cold', async () => {
    await planner();
    const b = bundle(['/bin/true']);
    const errFile = join(work, `${b.id}.err`);
    const errFd = openSync(errFile, 'w');
    const r = spawnSync(RUNTIME, ['--root', stateRoot, 'create', '--bundle', b.dir, b.id], { timeout: 30_000, env: { ...process.env, STOCKADE_RUNTIME_PLANNER: 'off' }, stdio: ['ignore', 'ignore', errFd] });
    closeSync(errFd);
    assert.equal(r.status, 0, readFileSync(errFile, 'utf8'));
    assert.deepEqual(logged(b.id), []);
    assert.equal(rt(['delete', '--force', b.id]).code, 0);
  });
});
