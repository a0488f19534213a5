/**
 * The native front of stockade-runtime (native/runtime/front.c): start, kill and delete done
 * without Node from the `fast` file create writes, everything else handed to Node, and the status
 * Node reports agreeing with what the front did. oci-runtime.test.ts covers the runtime itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX, containerStatus, makeBusyboxRootfs, runtimeCaller, until } from './support/oci-runtime.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FRONT = join(repoRoot, 'native', 'build', 'stockade-runtime-front');
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'touch', 'true'];
const work = `/var/tmp/stockade-front-test-${process.pid}`;
const stateRoot = join(work, 'state');
let counter = 0;
const rt = runtimeCaller(stateRoot, work);
const status = (id: string) => containerStatus(rt, id);
const makeRootfs = (dir: string) => makeBusyboxRootfs(dir, APPLETS, { dirs: ['proc', 'dev', 'tmp', 'out'] });

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const skip = process.getuid?.() !== 0 ? 'the front tests need root (cgroups, namespaces as runc does)'
  : !existsSync(BUSYBOX) ? 'busybox-static is not installed (apt-get install busybox-static)'
  : !executable(FRONT) ? 'native/build/stockade-runtime-front is not built (node scripts/build-native.mjs)'
  : undefined;


interface Bundle { id: string; dir: string; out: string }

function bundle(args: string[], mutate: (c: Record<string, any>) => void = () => {}): Bundle {
  const id = `f${process.pid}-${counter++}`;
  const dir = join(work, id);
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  makeRootfs(join(dir, 'rootfs'));
  const caps = ['CAP_KILL'];
  const config: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps }, noNewPrivileges: true },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      resources: { pids: { limit: 64 } },
      cgroupsPath: `/stockade-front-test/${id}`,
    },
  };
  mutate(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { id, dir, out };
}

type Result = { code: number | null; stdout: string; stderr: string };


/**
 * The front where node cannot run: PATH is an empty directory, and in a mount namespace of its
 * own /usr/bin/node and /usr/local/bin/node (its fallbacks) are covered by /dev/null.
 */
function withoutNode(args: string[]): Result {
  const empty = join(work, 'empty-path');
  mkdirSync(empty, { recursive: true });
  const script = 'for n in /usr/bin/node /usr/local/bin/node; do if [ -e "$n" ]; then mount --bind /dev/null "$n" || exit 99; fi; done; PATH="$P" exec "$@"';
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', FRONT, '--root', stateRoot, ...args], { encoding: 'utf8', timeout: 30_000, env: { P: empty }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}



function fastFile(b: Bundle): Map<string, string[]> {
  const lines = readFileSync(join(stateRoot, b.id, 'fast'), 'utf8').trim().split('\n');
  assert.equal(lines[0], 'stockade-fast 1');
  const m = new Map<string, string[]>();
  for (const l of lines.slice(1)) {
    const [k, ...rest] = l.split(' ');
    m.set(k!, [...(m.get(k!) ?? []), rest.join(' ')]);
  }
  return m;
}

const cgroupDirs = (b: Bundle): string[] => fastFile(b).get('cgroup') ?? [];
const TRAP = ['sh', '-c', 'trap "echo got > /out/sig; exit 0" TERM; while :; do sleep 0.05; done'];

describe('stockade-runtime-front', { skip, concurrency: false }, () => {
  before(() => mkdirSync(stateRoot, { recursive: true }));
  after(() => {
    for (const id of existsSync(stateRoot) ? readdirSync(stateRoot) : []) rt(['delete', '--force', id]);
    rmSync(work, { recursive: true, force: true });
    spawnSync('rmdir', readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/stockade-front-test`), { stdio: 'ignore' });
  });

  it('starts and deletes natively; Node reports created, running, stopped', async () => {
    // The program runs until the test lets it end: "running" must not race its exit on a slow host.
    const b = bundle(['sh', '-c', 'echo ran > /out/marker; while [ ! -e /out/done ]; do sleep 0.05; done']);
    const c = rt(['create', '--bundle', b.dir, b.id]);
    assert.equal(c.code, 0, c.stderr);
    const fast = fastFile(b);
    assert.equal(fast.get('hooks')?.[0], '0');
    assert.match(fast.get('monitor')?.[0] ?? '', /^\d+ \d+$/);
    assert.match(fast.get('workload')?.[0] ?? '', /^\d+ \d+$/);
    const dirs = cgroupDirs(b);
    assert.ok(dirs.length > 0 && dirs.every((d) => d.startsWith('/') && existsSync(d)), `cgroup dirs: ${dirs.join(', ')}`);
    assert.equal(status(b.id), 'created');
    const s = rt(['start', b.id]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(existsSync(join(stateRoot, b.id, 'started')), true, 'the front leaves the started marker');
    await until('the program to run', () => existsSync(join(b.out, 'marker')));
    assert.equal(status(b.id), 'running');
    writeFileSync(join(b.out, 'done'), '');
    await until('stopped', () => status(b.id) === 'stopped');
    const again = rt(['start', b.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`^stockade-runtime: container id: container "${b.id}" is stopped; only a created container can be started\\n$`));
    const k = rt(['kill', b.id]);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /is not running/);
    const d = rt(['delete', b.id]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(existsSync(join(stateRoot, b.id)), false, 'the state directory is gone');
    for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} is gone`);
    assert.equal(rt(['delete', '--force', b.id]).code, 0, 'delete --force of a deleted container succeeds');
  });

  it('kill delivers a numeric and a named signal to the program', async () => {
    for (const sig of ['15', 'sigterm', 'TERM']) {
      const b = bundle(TRAP);
      assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
      assert.equal(rt(['start', b.id]).code, 0);
      assert.equal(status(b.id), 'running');
      const k = rt(['kill', b.id, sig]);
      assert.equal(k.code, 0, k.stderr);
      await until(`the trap to see ${sig}`, () => existsSync(join(b.out, 'sig')));
      assert.equal(readFileSync(join(b.out, 'sig'), 'utf8'), 'got\n');
      await until('stopped', () => status(b.id) === 'stopped');
      assert.equal(rt(['delete', b.id]).code, 0);
    }
    const b = bundle(TRAP);
    assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
    const bad = rt(['kill', b.id, 'NOSUCH']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"NOSUCH" is not a signal name or number/);
    const all = rt(['kill', '--all', b.id, 'KILL']);
    assert.equal(all.code, 0, all.stderr);
    await until('stopped after kill --all KILL', () => status(b.id) === 'stopped');
    assert.equal(rt(['delete', b.id]).code, 0);
  });

  it('refuses to delete a running container without --force; --force kills and cleans up', async () => {
    const b = bundle(['sh', '-c', 'while :; do sleep 0.05; done']);
    assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
    const dirs = cgroupDirs(b);
    assert.equal(rt(['start', b.id]).code, 0);
    assert.equal(status(b.id), 'running');
    const d = rt(['delete', b.id]);
    assert.equal(d.code, 1);
    assert.equal(d.stderr, `stockade-runtime: container id: container "${b.id}" is running; stop it first or use --force\n`);
    assert.equal(status(b.id), 'running');
    const f = rt(['delete', '--force', b.id]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(existsSync(join(stateRoot, b.id)), false);
    for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} is gone`);
    // a created container (never started) goes with --force too
    const c = bundle(['true']);
    assert.equal(rt(['create', '--bundle', c.dir, c.id]).code, 0);
    assert.equal(rt(['delete', '-f', c.id]).code, 0);
    assert.equal(existsSync(join(stateRoot, c.id)), false);
  });

  it('reports usage errors with exit status 2 and appends errors to --log', () => {
    const flag = rt(['delete', '--bogus', 'x']);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, 'stockade-runtime: delete: unknown flag --bogus\n');
    const global = rt(['--bogus', 'start', 'x']);
    assert.equal(global.code, 2);
    assert.match(global.stderr, /unknown flag --bogus/);
    const noId = rt(['start']);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /a container id is required/);
    assert.equal(rt(['kill', '../etc']).code, 2, 'an id that is not one never becomes a path');
    const log = join(work, 'errors.log');
    rt(['--log', log, '--log-format', 'json', 'start', '--x', 'y']);
    rt(['--log', log, 'start', '--x', 'y']);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(JSON.parse(lines[0]!).msg, 'start: unknown flag --x');
    assert.match(lines[1]!, /^time="[^"]+" level=error msg="start: unknown flag --x"$/);
  });

  it('hands start to Node when the config has hooks to run', async () => {
    const hookOut = join(work, `poststart-${counter}`);
    const b = bundle(['sh', '-c', 'echo ran > /out/marker'], (c) => {
      c.hooks = { poststart: [{ path: '/bin/sh', args: ['sh', '-c', `echo hook > ${hookOut}`] }] };
    });
    assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
    assert.equal(fastFile(b).get('hooks')?.[0], '1');
    const s = rt(['start', b.id]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(readFileSync(hookOut, 'utf8'), 'hook\n', 'the poststart hook ran');
    await until('the program to run', () => existsSync(join(b.out, 'marker')));
    await until('stopped', () => status(b.id) === 'stopped');
    assert.equal(rt(['delete', b.id]).code, 0);
    assert.equal(existsSync(join(stateRoot, b.id)), false);
  });

  it('needs no node for start, kill and delete; other commands need it', { skip: !existsSync('/usr/bin/unshare') && 'unshare (util-linux) is not installed' }, async () => {
    const b = bundle(TRAP);
    assert.equal(rt(['create', '--bundle', b.dir, b.id]).code, 0);
    const dirs = cgroupDirs(b);
    const st = withoutNode(['state', b.id]);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /^stockade-runtime: node: node was not found/);
    const s = withoutNode(['start', b.id]);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(status(b.id), 'running');
    const k = withoutNode(['kill', b.id, 'TERM']);
    assert.equal(k.code, 0, k.stderr);
    await until('the trap', () => existsSync(join(b.out, 'sig')));
    await until('stopped', () => status(b.id) === 'stopped');
    const d = withoutNode(['delete', b.id]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(existsSync(join(stateRoot, b.id)), false);
    for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} is gone`);
  });
});
