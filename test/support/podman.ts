/**
 * podman as a driver of OCI runtimes, for end-to-end tests and benchmarks of a runc-compatible
 * runtime (runc itself as the anchor, and stockade-runtime, bin/stockade-runtime).
 *
 *   const pm = await podmanSession();          // or { reason } when podman cannot run here
 *   if ('reason' in pm) return t.skip(pm.reason);
 *   const r = await pm.run(RUNC, ['-e', 'VAR=x'], ['sh', '-c', 'echo $VAR']);
 *   // r: { code, stdout, stderr, timedOut, ... }
 *   await pm.close();                           // in an after() hook
 *
 * What it sets up, once per test process (podmanSession() is memoized):
 *  - a containers.conf named by CONTAINERS_CONF: default_ulimits nofile/nproc (this machine cannot
 *    raise hard rlimits, so podman's default RLIMIT_NOFILE of 1048576 fails in every runtime),
 *    cgroupfs as the cgroup manager and the file events backend (no systemd here, and the tests
 *    should not depend on whether the host has one);
 *  - an isolated storage under /var/tmp/stockade-podman-<pid>-<hex>/ (not /tmp, which may be a
 *    tmpfs): --root, --runroot and --tmpdir there, and a storage.conf of its own named by
 *    CONTAINERS_STORAGE_CONF so no host storage.conf option (a mount_program, say) applies.
 *    Storage driver: overlay when podman can use it on that filesystem, else vfs
 *    (STOCKADE_PODMAN_DRIVER=vfs forces vfs);
 *  - a busybox-static image imported from a tar (no registry is reachable or needed).
 * Every podman call has a timeout: a hung runtime fails the test instead of hanging CI; on a
 * timeout the podman process group is killed and the container is removed by close().
 * close() removes every container, kills anything of ours left running, unmounts what is left
 * under the storage directory and deletes it: nothing is left in the default storage (never used)
 * or mounted.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithTimeout, type TimedResult } from './spawn-timeout.js';

/** The repository root (this file is compiled to dist/test/support/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The runtime under test, once it exists. */
export const STOCKADE_RUNTIME = join(repoRoot, 'bin', 'stockade-runtime');
/** The anchor runtime. */
export const RUNC = '/usr/sbin/runc';
export const IMAGE = 'localhost/stockade-busybox:test';

/** Applets linked into the image (busybox is static; each is a symlink to /bin/busybox). */
export const APPLETS = [
  'sh', 'ash', 'echo', 'cat', 'sleep', 'tty', 'test', '[', 'mkdir', 'rmdir', 'chown', 'chmod', 'touch', 'ls', 'head',
  'tail', 'id', 'env', 'true', 'false', 'mount', 'umount', 'seq', 'wc', 'tr', 'rm', 'readlink', 'grep', 'stat', 'ln',
  'kill', 'ps', 'dd', 'cp', 'mv', 'date', 'hostname', 'uname', 'xargs', 'od', 'printf', 'nproc',
];

/** One podman call: exit code (null when killed, the timeout included), output, and how long it took. */
export type PodmanResult = TimedResult;

export interface CallOptions {
  /** Bytes for podman's stdin (then closed); without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Kill the podman process group after this long (default 30 s). */
  timeoutMs?: number;
  /** Working directory of podman (and of the conmon it starts). */
  cwd?: string;
}

export interface RunOptions extends CallOptions {
  /** Image to run (default IMAGE). */
  image?: string;
  /** Keep the container after it exits (no --rm). */
  keep?: boolean;
  /** Network mode (default 'none': no firewall or bridge needed on the host). */
  network?: string;
}

export interface Podman {
  /** The podman binary. */
  readonly bin: string;
  /** Storage and configuration live here. */
  readonly base: string;
  readonly driver: 'overlay' | 'vfs';
  /** Why overlay was not used (when driver is vfs). */
  readonly driverNote: string;
  /** The environment every podman call gets (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF). */
  readonly env: NodeJS.ProcessEnv;
  /** Global flags every podman call gets (storage). */
  readonly global: string[];
  /** `podman <global> [--runtime R] ARGS`. */
  call(args: string[], opts?: CallOptions & { runtime?: string }): Promise<PodmanResult>;
  /** `podman <global> --runtime R run [--rm] --network none FLAGS IMAGE COMMAND`. */
  run(runtime: string, flags: string[], command: string[], opts?: RunOptions): Promise<PodmanResult>;
  /** Import a directory tree as an image (tar of the tree, `podman import`); returns the image id. */
  importTree(dir: string, ref: string): Promise<string>;
  /** A fresh scratch directory under base (removed by close()). */
  scratch(prefix: string): string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Finding things

function onPath(cmd: string, extra: string[] = ['/usr/sbin', '/sbin', '/usr/bin', '/bin']): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extra].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** true if the ELF file has no PT_INTERP (a static executable); null if it is not a 64-bit ELF. */
export function isStaticElf(path: string): boolean | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const h = Buffer.alloc(64);
    if (readSync(fd, h, 0, 64, 0) < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return null;
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** The busybox to put in the image: a static one, or the reason there is none. */
export function findStaticBusybox(): { path: string } | { reason: string } {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', onPath('busybox')]) {
    if (!p || !existsSync(p)) continue;
    if (isStaticElf(p) === true) return { path: p };
  }
  return { reason: 'no static busybox (apt-get install busybox-static)' };
}

/** podman, or why it cannot be used here. */
export function findPodman(): { path: string } | { reason: string } {
  if (process.platform !== 'linux') return { reason: 'podman tests need Linux' };
  if (process.getuid?.() !== 0) return { reason: 'the podman tests drive rootful podman and need root' };
  const path = onPath('podman');
  if (!path) return { reason: 'podman is not installed (apt-get install podman)' };
  const conmon = ['/usr/bin/conmon', '/usr/libexec/podman/conmon', '/usr/local/bin/conmon'].some((p) => existsSync(p)) || onPath('conmon');
  if (!conmon) return { reason: 'conmon is not installed (podman needs it; apt-get install conmon)' };
  return { path };
}

/** Why this runtime cannot be used (null if it can). */
export function runtimeUnavailable(path: string): string | null {
  if (!existsSync(path)) return path === STOCKADE_RUNTIME ? 'bin/stockade-runtime not built' : `${path} is not installed`;
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return `${path} is not executable`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Running podman

/** Spawn argv with a timeout; the process gets its own group, which a timeout kills whole. */
export function spawnWithTimeout(argv: string[], env: NodeJS.ProcessEnv, opts: CallOptions = {}): Promise<PodmanResult> {
  // conmon writes files such as `oom` (after an OOM kill) into its working directory: opts.cwd.
  return runWithTimeout(argv, { ...opts, env });
}

/**
 * Hung-runtime breaker: counts podman calls that timed out, per runtime. A runtime that hung
 * twice fails every later test at once (hang(), below) instead of costing a timeout per test, so a
 * hung runtime fails CI quickly instead of using up its time.
 */
const hangs = new Map<string, number>();
export function noteHang(runtime: string, r: PodmanResult): void {
  if (r.timedOut) hangs.set(runtime, (hangs.get(runtime) ?? 0) + 1);
}
/** Why not to try this runtime again (it hung too often), or null. */
export function hung(runtime: string): string | null {
  const n = hangs.get(runtime) ?? 0;
  return n >= 2 ? `${runtime} hung ${n} times already (podman calls timed out): not trying again` : null;
}

/** A one-line description of a result, for assertion messages. */
export function describeResult(r: PodmanResult): string {
  const cmd = r.argv.slice(r.argv.indexOf('--runtime') >= 0 ? r.argv.indexOf('--runtime') : 0).join(' ');
  return `${cmd}\n  -> code ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (TIMED OUT)' : ''}\n  stdout: ${JSON.stringify(r.stdout.slice(0, 2000))}\n  stderr: ${JSON.stringify(r.stderr.slice(0, 2000))}`;
}

// ---------------------------------------------------------------------------------------------
// The rootfs

/**
 * A busybox-static tree: /bin/busybox and its applet links, /etc/passwd and /etc/group (root and
 * nobody), /tmp (1777), /proc, /dev, /sys, /root, /run, /var/tmp. Returns the directory.
 */
export function buildBusyboxTree(dir: string, busybox: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  for (const d of ['etc', 'proc', 'dev', 'sys', 'root', 'run', 'var', 'var/tmp', 'tmp', 'usr']) mkdirSync(join(dir, d), { recursive: true });
  symlinkSync('../bin', join(dir, 'usr', 'bin'));
  symlinkSync('bin', join(dir, 'sbin'));
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'var', 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

// ---------------------------------------------------------------------------------------------
// The session

function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const mp = (line.split(' ')[4] ?? '').replace(/\\040/g, ' ');
    if (mp === dir || mp.startsWith(`${dir}/`)) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length); // deepest first
}

/** pids whose command line mentions dir (conmon and podman cleanup processes of this session). */
function processesMentioning(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** pids in the cgroups podman made for these containers (cgroupfs manager: libpod_parent/libpod-ID). */
function containerCgroupPids(ids: string[]): number[] {
  const pids = new Set<number>();
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h));
  } catch {
    return [];
  }
  for (const h of [...hierarchies, '/sys/fs/cgroup']) {
    for (const id of ids) {
      try {
        for (const p of readFileSync(join(h, 'libpod_parent', `libpod-${id}`, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
      } catch {
        /* no such cgroup */
      }
    }
  }
  return [...pids];
}

/**
 * Remove storage directories of earlier sessions whose process is gone (killed before close()
 * ran): only those with nothing mounted under them and no live process naming them.
 */
function sweepStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/var/tmp');
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^stockade-podman-(\d+)-[0-9a-f]+$/.exec(n);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const dir = join('/var/tmp', n);
    if (mountsUnder(dir).length > 0 || processesMentioning(dir).length > 0) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

const CONTAINERS_CONF = `# Written by test/support/podman.ts for the podman end-to-end tests.
[containers]
# This machine cannot raise hard rlimits (no CAP_SYS_RESOURCE): podman's default nofile of
# 1048576 makes every runtime fail setrlimit. See shared/design/ANCHORS.md.
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

let session: Promise<Podman | { reason: string }> | undefined;

/**
 * The podman session of this process (created on first use), or why there is none (podman or a
 * static busybox absent, not root). Rejects when podman is there but cannot import the image.
 */
export function podmanSession(): Promise<Podman | { reason: string }> {
  session ??= createSession();
  return session;
}

async function createSession(): Promise<Podman | { reason: string }> {
  const found = findPodman();
  if ('reason' in found) return found;
  const bb = findStaticBusybox();
  if ('reason' in bb) return bb;

  sweepStale();
  // Short: podman refuses a runroot longer than 50 characters (conmon's socket paths).
  const base = join('/var/tmp', `stockade-podman-${process.pid}-${randomBytes(2).toString('hex')}`);
  mkdirSync(base, { recursive: true, mode: 0o711 });
  const conf = join(base, 'containers.conf');
  writeFileSync(conf, CONTAINERS_CONF);
  let scratchN = 0;
  const scratch = (prefix: string) => {
    const d = join(base, 'scratch', `${prefix}-${scratchN++}`);
    mkdirSync(d, { recursive: true });
    return d;
  };

  const configure = (driver: 'overlay' | 'vfs') => {
    const storageConf = join(base, `storage-${driver}.conf`);
    const d = driver === 'overlay' ? 'o' : 'v';
    const root = join(base, d, 'root');
    const runroot = join(base, d, 'run');
    const tmpdir = join(base, d, 'tmp');
    writeFileSync(storageConf, `[storage]\ndriver = "${driver}"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storageConf };
    const global = ['--root', root, '--runroot', runroot, '--tmpdir', tmpdir, '--storage-driver', driver];
    return { env, global };
  };

  // overlay where the kernel and the filesystem under /var/tmp allow it, else vfs (slower, copies).
  // STOCKADE_PODMAN_DRIVER=vfs forces vfs.
  let driver: 'overlay' | 'vfs' = 'overlay';
  let driverNote = '';
  let cfg = configure('overlay');
  if (process.env.STOCKADE_PODMAN_DRIVER === 'vfs') {
    driverNote = 'vfs forced by STOCKADE_PODMAN_DRIVER';
    driver = 'vfs';
    cfg = configure('vfs');
  } else {
    const probe = await spawnWithTimeout([found.path, ...cfg.global, 'info', '--format', '{{.Store.GraphDriverName}}'], cfg.env, { timeoutMs: 60_000 });
    if (probe.code !== 0 || probe.stdout.trim() !== 'overlay') {
      driverNote = `overlay unusable here: ${(probe.stderr || probe.stdout).trim().split('\n').pop() ?? ''}`;
      driver = 'vfs';
      cfg = configure('vfs');
    }
  }
  const { env, global } = cfg;

  const call = async (args: string[], opts: CallOptions & { runtime?: string } = {}) => {
    const r = await spawnWithTimeout([found.path, ...global, ...(opts.runtime ? ['--runtime', opts.runtime] : []), ...args], env, { cwd: base, ...opts });
    if (opts.runtime) noteHang(opts.runtime, r);
    return r;
  };

  const importTree = async (dir: string, ref: string): Promise<string> => {
    const tar = join(base, `${ref.replace(/[^a-z0-9]+/gi, '_')}.tar`);
    const t = spawnSync('tar', ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '-cf', tar, '.'], { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(`tar of ${dir} failed: ${t.stderr}`);
    const r = await call(['import', '--quiet', tar, ref], { timeoutMs: 120_000 });
    rmSync(tar, { force: true });
    if (r.code !== 0) throw new Error(`podman import failed:\n${describeResult(r)}`);
    return r.stdout.trim();
  };

  let closed = false;
  const plannerAtStart = runtimePlannerPid();
  const close = async () => {
    if (closed) return;
    closed = true;
    stopNewPlanner(plannerAtStart);
    const ids = (await call(['ps', '-a', '-q', '--no-trunc'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await call(['rm', '-f', '-t', '0', ...ids], { timeoutMs: 60_000 });
    // Whatever a broken runtime left behind: the containers' processes (found by their cgroup),
    // then conmon and cleanup processes of this session (their command lines name base).
    for (const pid of [...containerCgroupPids(ids), ...processesMentioning(base)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const mp of mountsUnder(base)) spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
    rmSync(base, { recursive: true, force: true });
  };

  // podman is here and we are root: from now on a failure is a failure, not a reason to skip.
  try {
    const tree = buildBusyboxTree(scratch('busybox-rootfs'), bb.path);
    await importTree(tree, IMAGE);
  } catch (e) {
    await close();
    throw new Error(`could not prepare the podman image: ${(e as Error).message}`);
  }

  const run = (runtime: string, flags: string[], command: string[], opts: RunOptions = {}) =>
    call(
      ['run', ...(opts.keep ? [] : ['--rm']), '--network', opts.network ?? 'none', ...flags, opts.image ?? IMAGE, ...command],
      { ...opts, runtime },
    );

  return { bin: found.path, base, driver, driverNote, env, global, call, run, importTree, scratch, close };
}

/** stockade-runtime's warm planner for podman's default state root (/run/stockade), if one runs. */
function runtimePlannerPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/run/stockade/.planner.pid', 'utf8'));
    return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A planner this session's containers started is stopped with the session (one that ran before is left alone). */
function stopNewPlanner(before: number | undefined): void {
  const now = runtimePlannerPid();
  if (now === undefined || now === before) return;
  try {
    process.kill(now, 'SIGTERM');
  } catch { /* already gone */ }
}
