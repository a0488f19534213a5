#!/usr/bin/env node
/**
 * The warm planner: `node dist/src/oci-runtime/planner.js --root ROOT`. The native front
 * (native/runtime/front_create.c) asks it to plan `create` so that no Node starts per container;
 * the front still spawns the helper itself, so that the helper's monitor is the front's child and is
 * reparented to the engine's subreaper (conmon) when the front exits. docs/oci-runtime.md, "The
 * fast path", describes the exchange; in short, on `<root>/.planner.sock` (one JSON object per line):
 *
 *   front -> {"v":1,"args":[...argv after the program name],"cwd":"..."}
 *   planner <- {"cold":WHY}                      (the front runs Node as before)
 *            | {"error":MESSAGE,"exitCode":N}    (nothing was made)
 *            | {"ok":true,"umask":N|null,"pidFile":P?,"stateDir":D,"gateFifo":F,"planBytes":N}
 *              + N bytes of the encoded plan (the front makes the FIFO F, mode 0600, then the helper)
 *   front -> {"created":true,"monitor":M,"pid":P,"initPid":I} | {"failed":MESSAGE}
 *   planner <- {"ok":true} | {"error":MESSAGE,"exitCode":N}
 *
 * After `created` the planner does what `create` does (finishCreate: state.json, fast, hooks); after
 * `failed`, or a connection that ends before either, it undoes everything (cgroup, state directory).
 * It exits after ten idle minutes, when its own files change (build stamp), or when its socket is
 * no longer the one at the path.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, appendFileSync, lstatSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { helperPath } from '../helper/client.js';
import { encodePlan } from '../helper/protocol.js';
import { finishCreate, killHelperGroup, prepare, umaskFor, type GlobalOptions, type Prepared } from './create.js';
import { describeError, parseCreate, parseGlobal } from './main.js';
import { DEFAULT_STATE_ROOT } from './state.js';

export const PLANNER_SOCKET = '.planner.sock';
export const PLANNER_PID = '.planner.pid';
const PROTOCOL = 1;
const IDLE_MS = Number(process.env.STOCKADE_RUNTIME_PLANNER_IDLE_MS ?? 10 * 60_000);
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The compiled modules (dist/src/**.js) and the helper, listed once: what this process runs. */
function stampFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch { /* not built */ }
    for (const n of names) {
      const p = join(dir, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(p);
      else if (n.endsWith('.js')) files.push(p);
    }
  };
  walk(join(packageRoot, 'dist', 'src'));
  files.push(join(packageRoot, 'native', 'build', 'stockade-helper'));
  return files;
}

/** mtime and size of each file, hashed. A module added later counts once a listed one imports it. */
export function buildStamp(files: string[] = stampFiles()): string {
  const h = createHash('sha256');
  for (const f of files) {
    const st = statSync(f, { throwIfNoEntry: false });
    h.update(`${f} ${st?.mtimeMs ?? 0} ${st?.size ?? 0}\n`);
  }
  return h.digest('hex');
}

/** Lines, then a fixed number of raw bytes, from a socket. */
class Reader {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  ended = false;
  constructor(sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const end = () => {
      this.ended = true;
      this.waiter?.();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }
  async line(max = 1 << 20): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl >= 0) {
        const l = this.buf.subarray(0, nl).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
        return l;
      }
      if (this.ended || this.buf.length > max) return null;
      await new Promise<void>((r) => { this.waiter = r; });
      this.waiter = undefined;
    }
  }
}

function killCgroupProcs(p: Prepared): void {
  for (const d of p.cgroup.dirs) {
    let pids: string[] = [];
    try {
      pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter((x) => /^\d+$/.test(x));
    } catch { /* gone */ }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch { /* gone */ }
    }
  }
}

/** Undo for a front that went away: what it may have started sits in the cgroup. */
async function abandon(p: Prepared): Promise<void> {
  for (let i = 0; i < 100; i++) {
    killCgroupProcs(p);
    const busy = p.cgroup.dirs.some((d) => {
      try {
        return readFileSync(join(d, 'cgroup.procs'), 'utf8').trim() !== '';
      } catch {
        return false;
      }
    });
    if (!busy) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  p.undo();
}

interface Planner {
  root: string;
  server: Server;
  stamp: string;
  files: string[];
  ino: number;
  active: number;
  idle?: NodeJS.Timeout;
  log?: string;
  exiting: boolean;
}

function send(sock: Socket, o: unknown, raw?: Buffer): void {
  sock.write(`${JSON.stringify(o)}\n`);
  if (raw) sock.write(raw);
}

function shutdown(pl: Planner): void {
  if (pl.exiting) return;
  pl.exiting = true;
  pl.server.close(); // unlinks the socket: the next front goes cold and starts a new planner
  try {
    if (readFileSync(join(pl.root, PLANNER_PID), 'utf8') === String(process.pid)) unlinkSync(join(pl.root, PLANNER_PID));
  } catch { /* not ours, or gone */ }
  if (pl.idle) clearTimeout(pl.idle);
  const done = () => { if (pl.active === 0) process.exit(0); };
  done();
  setInterval(done, 50).unref();
  setTimeout(() => process.exit(0), 30_000).unref();
}

function ownSocket(pl: Planner): boolean {
  try {
    return lstatSync(join(pl.root, PLANNER_SOCKET)).ino === pl.ino;
  } catch {
    return false;
  }
}

function touch(pl: Planner): void {
  if (pl.idle) clearTimeout(pl.idle);
  pl.idle = setTimeout(() => { if (pl.active === 0) shutdown(pl); else touch(pl); }, IDLE_MS);
}

async function serve(pl: Planner, sock: Socket): Promise<void> {
  const r = new Reader(sock);
  const first = await r.line();
  if (first === null) return;
  let req: { v?: unknown; args?: unknown; cwd?: unknown };
  try {
    req = JSON.parse(first) as typeof req;
  } catch {
    send(sock, { cold: 'bad request' });
    return;
  }
  if (req.v !== PROTOCOL || !Array.isArray(req.args) || !req.args.every((a) => typeof a === 'string') || typeof req.cwd !== 'string' || !isAbsolute(req.cwd)) {
    send(sock, { cold: 'protocol' });
    return;
  }
  if (!ownSocket(pl) || buildStamp(pl.files) !== pl.stamp) {
    shutdown(pl); // before the reply: the front starts a new planner, which must be able to bind
    send(sock, { cold: 'stale' });
    return;
  }
  if (!existsSync(helperPath())) {
    send(sock, { cold: 'no helper' }); // Node reports it as it always has
    return;
  }
  const cwd = req.cwd;
  const g: GlobalOptions = { root: DEFAULT_STATE_ROOT, logFormat: 'text', systemdCgroup: false };
  let p: Prepared | undefined;
  let id = '';
  let pidFile: string | undefined;
  let plan: Buffer;
  try {
    const rest = parseGlobal(req.args as string[], g);
    if (rest === null || rest[0] !== 'create' || resolve(cwd, g.root) !== pl.root) {
      send(sock, { cold: 'not a create of this root' });
      return;
    }
    const { o } = await parseCreate(rest.slice(1), 'create');
    id = o.id;
    pidFile = o.pidFile;
    g.root = pl.root;
    o.bundle = resolve(cwd, o.bundle); // relative to the front, not to this process
    if (pl.log) appendFileSync(pl.log, `create ${id} ${process.pid}\n`);
    p = await prepare(g, o, true, false); // the front makes exec.fifo (gateFifo below)
    plan = Buffer.from(encodePlan(p.plan));
  } catch (e) {
    if (p) p.undo();
    const d = describeError(e);
    send(sock, { error: d.message, exitCode: d.exitCode });
    return;
  }
  const umask = umaskFor(p);
  send(sock, { ok: true, umask: umask ?? null, ...(pidFile ? { pidFile } : {}), stateDir: p.dir, gateFifo: join(p.dir, 'exec.fifo'), planBytes: plan.length }, plan);
  const line = await r.line();
  let msg: { created?: unknown; monitor?: unknown; pid?: unknown; initPid?: unknown; failed?: unknown } = {};
  try {
    if (line !== null) msg = JSON.parse(line) as typeof msg;
  } catch { /* treated as a front that went away */ }
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
  const monitor = int(msg.monitor);
  const pid = int(msg.pid);
  if (msg.created === true && monitor !== undefined && pid !== undefined && typeof msg.initPid === 'number') {
    try {
      await finishCreate(p, id, monitor, { pid, initPid: msg.initPid });
      send(sock, { ok: true });
    } catch (e) {
      killHelperGroup(monitor);
      await abandon(p);
      const d = describeError(e);
      send(sock, { error: d.message, exitCode: d.exitCode });
    }
  } else if (typeof msg.failed === 'string') {
    await abandon(p); // the front has killed the helper; the cgroup must be empty before rmdir
    send(sock, { ok: true });
  } else {
    await abandon(p); // the front went away (or spoke nonsense) mid-create
  }
}

/**
 * The planner is started by the front of some container's create, inside the engine's cgroup for
 * that container's conmon (a systemd scope with the systemd manager). It moves to the root of every
 * hierarchy, so it neither keeps that scope alive nor dies when it is stopped, nor counts against
 * its limits. Best effort: where it cannot move, it stays (the next create goes cold if it dies).
 */
function leaveEnginesCgroup(): void {
  let mounts: string[][] = [];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  } catch {
    return;
  }
  for (const m of mounts) {
    if ((m[2] !== 'cgroup' && m[2] !== 'cgroup2') || !m[1]) continue;
    try {
      writeFileSync(join(m[1], 'cgroup.procs'), String(process.pid));
    } catch { /* not movable here */ }
  }
}

export async function runPlanner(argv: string[]): Promise<number> {
  const at = argv.indexOf('--root');
  const root = at >= 0 ? argv[at + 1] : undefined;
  if (!root || !isAbsolute(root)) {
    process.stderr.write('stockade-runtime planner: --root ABSOLUTE_DIR is required\n');
    return 2;
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = statSync(root);
  // Node cannot read a peer's credentials: the directory is what keeps other users out.
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    process.stderr.write(`stockade-runtime planner: ${root} must be a directory owned by uid ${process.getuid?.()} with no group or other access\n`);
    return 1;
  }
  const path = join(root, PLANNER_SOCKET);
  const files = stampFiles();
  const stamp = buildStamp(files);
  const pl: Planner = { root, server: createServer(), stamp, files, ino: 0, active: 0, exiting: false };
  if (process.env.STOCKADE_RUNTIME_PLANNER_LOG) pl.log = process.env.STOCKADE_RUNTIME_PLANNER_LOG;
  pl.server.on('connection', (sock) => {
    if (pl.exiting) {
      sock.destroy();
      return;
    }
    pl.active++;
    touch(pl);
    sock.on('error', () => {});
    serve(pl, sock).catch(() => {}).finally(() => {
      pl.active--;
      sock.end();
    });
  });
  const listen = () => new Promise<NodeJS.ErrnoException | null>((res) => {
    const onError = (e: NodeJS.ErrnoException) => res(e);
    pl.server.once('error', onError);
    pl.server.listen(path, () => {
      pl.server.off('error', onError);
      res(null);
    });
  });
  let err = await listen();
  if (err?.code === 'EADDRINUSE') {
    // Another planner, or a stale socket file: only a refused connection proves it stale.
    const alive = await new Promise<boolean>((res) => {
      const c = connect(path);
      c.on('connect', () => { c.destroy(); res(true); });
      c.on('error', () => res(false));
    });
    if (alive) return 0;
    try {
      unlinkSync(path);
    } catch { /* raced with another planner */ }
    err = await listen();
  }
  if (err) return err.code === 'EADDRINUSE' ? 0 : 1;
  pl.ino = lstatSync(path).ino;
  leaveEnginesCgroup();
  writeFileSync(join(root, PLANNER_PID), String(process.pid));
  touch(pl);
  // A newer planner that replaced our socket file (after a race) leaves us unreachable: go.
  setInterval(() => { if (!ownSocket(pl)) shutdown(pl); }, 5_000).unref();
  process.on('SIGTERM', () => shutdown(pl));
  process.on('SIGINT', () => shutdown(pl));
  return new Promise<number>(() => {}); // runs until shutdown() exits
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runPlanner(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exit(code); }, (e: unknown) => {
    process.stderr.write(`stockade-runtime planner: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
