/**
 * The OCI runtime operations on an existing container: start, state, kill, delete, exec.
 */
import { closeSync, constants as fsc, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StockadeError } from '../errors.js';
import { spawnHelper } from '../helper/client.js';
import type { HelperStatus } from '../helper/plan.js';
import { cgroupPids, removeContainerCgroup } from './cgroups.js';
import { hostLsm, type GlobalOptions } from './create.js';
import { runHooks } from './hooks.js';
import { compileContainerSeccomp, compileStockadeDefault } from './seccomp.js';
import { parseOciProcess, parseOciSpec, type OciProcess, type OciSpec } from './spec.js';
import { containerDir, isAlive, readState, removeStateDir, specState, statusOf, writeState, type ContainerState } from './state.js';
import { hardeningWanted, planForExec, seccompListenerOp } from './to-plan.js';

function savedSpec(g: GlobalOptions, id: string): OciSpec {
  const path = join(containerDir(g.root, id), 'config.json');
  return parseOciSpec(readFileSync(path, 'utf8'), path);
}

export async function start(g: GlobalOptions, id: string): Promise<number> {
  const s = readState(g.root, id);
  const status = statusOf(s, containerDir(g.root, id));
  if (status !== 'created') throw new StockadeError('input', `container "${id}" is ${status}; only a created container can be started`, 'container id');
  const spec = savedSpec(g, id);
  await runHooks(spec.hooks.startContainer, 'startContainer', specState(s, containerDir(g.root, id)));
  let fd: number;
  try {
    fd = openSync(join(containerDir(g.root, id), 'exec.fifo'), fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StockadeError('input', code === 'ENXIO' ? `container "${id}" is not waiting to start` : `cannot open the start gate: ${code}`, 'container id');
  }
  try {
    writeSync(fd, '1');
  } finally {
    closeSync(fd);
  }
  writeState(containerDir(g.root, id), { ...s, started: true });
  writeFileSync(join(containerDir(g.root, id), 'started'), ''); // what the native front reads
  await runHooks(spec.hooks.poststart, 'poststart', { ...specState(s, containerDir(g.root, id)), status: 'running' }).catch((e: Error) => process.stderr.write(`stockade-runtime: warning: ${e.message}\n`));
  return 0;
}

export function state(g: GlobalOptions, id: string): number {
  process.stdout.write(`${JSON.stringify(specState(readState(g.root, id), containerDir(g.root, id)), null, 2)}\n`);
  return 0;
}

export function parseSignal(text: string | undefined): number {
  if (text === undefined) return osc.signals.SIGTERM;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as keyof typeof osc.signals;
    const n = osc.signals[name];
    if (n !== undefined) return n;
  }
  throw new StockadeError('usage', `"${text}" is not a signal name or number`, 'signal');
}

function signal(pid: number, sig: number): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** The signal goes to the container's program (the workload), not to stockade's init. */
export function kill(g: GlobalOptions, id: string, sigText: string | undefined, all: boolean): number {
  const sig = parseSignal(sigText);
  const s = readState(g.root, id);
  if (statusOf(s, containerDir(g.root, id)) === 'stopped') throw new StockadeError('input', `container "${id}" is not running`, 'container id');
  if (isAlive(s.workloadPid, s.workloadStart)) signal(s.workloadPid, sig);
  else if (s.initPid > 0) signal(s.initPid, sig);
  if (all) for (const pid of cgroupPids(s.cgroup)) signal(pid, sig);
  return 0;
}

async function waitStopped(s: ContainerState, dir: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (statusOf(s, dir) === 'stopped') return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return statusOf(s, dir) === 'stopped';
}

export async function remove(g: GlobalOptions, id: string, force: boolean): Promise<number> {
  let s: ContainerState;
  try {
    s = readState(g.root, id);
  } catch (e) {
    if (force && e instanceof StockadeError && e.code === 'input') return 0;
    throw e;
  }
  const status = statusOf(s, containerDir(g.root, id));
  if (status === 'running' && !force) throw new StockadeError('input', `container "${id}" is running; stop it first or use --force`, 'container id');
  if (status !== 'stopped') {
    if (isAlive(s.workloadPid, s.workloadStart)) signal(s.workloadPid, 9);
    if (s.initPid > 0 && isAlive(s.pid, s.pidStart)) signal(s.initPid, 9);
    for (const pid of cgroupPids(s.cgroup)) signal(pid, 9);
    if (!(await waitStopped(s, containerDir(g.root, id), 5000))) throw new StockadeError('io', `container "${id}" did not stop after SIGKILL`, 'container id');
  }
  for (let i = 0; i < 100 && cgroupPids(s.cgroup).length > 0; i++) {
    for (const pid of cgroupPids(s.cgroup)) signal(pid, 9);
    await new Promise((r) => setTimeout(r, 10));
  }
  let spec: OciSpec | undefined;
  try {
    spec = savedSpec(g, id);
  } catch { /* a damaged state directory is still removed */ }
  removeContainerCgroup(s.cgroup);
  removeStateDir(containerDir(g.root, id));
  if (spec) await runHooks(spec.hooks.poststop, 'poststop', { ...specState(s, containerDir(g.root, id)), status: 'stopped' }).catch((e: Error) => process.stderr.write(`stockade-runtime: warning: ${e.message}\n`));
  return 0;
}

export interface ExecOptions {
  process?: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  args: string[];
}

function execProcess(spec: OciSpec, o: ExecOptions): OciProcess {
  if (o.process) {
    let text: string;
    try {
      text = readFileSync(o.process, 'utf8');
    } catch (e) {
      throw new StockadeError('input', `cannot read the process file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, o.process);
    }
    return parseOciProcess(text, o.process);
  }
  if (o.args.length === 0) throw new StockadeError('usage', 'exec needs --process FILE or a command after the container id', 'exec');
  const base = spec.process;
  if (!base) throw new StockadeError('input', 'the container has no process to inherit settings from', 'exec');
  const p: OciProcess = { ...base, args: o.args, terminal: o.tty, env: [...base.env, ...o.env] };
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) {
    const [uid, gid] = o.user.split(':').map(Number);
    if (!Number.isInteger(uid) || (gid !== undefined && !Number.isInteger(gid))) throw new StockadeError('usage', `"${o.user}" is not UID[:GID]`, '--user');
    p.user = { ...base.user, uid: uid!, gid: gid ?? base.user.gid };
  }
  return p;
}

export async function exec(g: GlobalOptions, id: string, o: ExecOptions): Promise<number> {
  const s = readState(g.root, id);
  if (statusOf(s, containerDir(g.root, id)) !== 'running') throw new StockadeError('input', `container "${id}" is not running`, 'container id');
  const spec = savedSpec(g, id);
  const proc = execProcess(spec, o);
  const source = o.process ?? 'exec';
  const input: Parameters<typeof planForExec>[2] = { source, cgroupProcsFiles: s.cgroup.dirs.map((d) => join(d, 'cgroup.procs')), lsm: hostLsm() };
  if (o.consoleSocket) input.consoleSocket = o.consoleSocket;
  if (spec.linux.seccomp) input.seccomp = await compileContainerSeccomp(spec.linux.seccomp, proc.capabilities?.bounding ?? []);
  const listener = seccompListenerOp(spec, 'config.json', { id, status: 'running', bundle: s.bundle });
  if (listener) input.listener = listener;
  if (hardeningWanted(spec, 'config.json')) input.hardening = { seccomp: await compileStockadeDefault(proc.capabilities?.bounding ?? []) };
  const plan = planForExec(proc, { initPid: s.initPid, namespaces: s.namespaces }, input, o.detach);
  if (proc.user.umask !== undefined) process.umask(proc.user.umask);
  let onStatus: ((st: HelperStatus) => void) | undefined;
  const h = spawnHelper(plan, { stdio: [0, 1, 2], detached: o.detach, onStatus: (st) => onStatus?.(st) });
  if (!o.detach) {
    const r = await h.done;
    const err = r.statuses.find((st): st is Extract<HelperStatus, { kind: 'error' }> => st.kind === 'error');
    if (err && r.exitCode === null && r.exitSignal === null) throw new StockadeError('unsupported', `${err.step}: ${err.detail}`, 'exec');
    return r.code ?? 128 + 9;
  }
  await new Promise<void>((resolve, reject) => {
    onStatus = (st) => {
      if (st.kind === 'started') resolve();
    };
    h.done.then((r) => {
      const err = r.statuses.find((st): st is Extract<HelperStatus, { kind: 'error' }> => st.kind === 'error');
      if (err) reject(new StockadeError('unsupported', `${err.step}: ${err.detail}`, 'exec'));
      else resolve(); // it ran and ended already: the engine reaps it through the pid file
    }, reject);
  });
  if (o.pidFile) writeFileSync(o.pidFile, String(h.child.pid));
  h.child.unref();
  (h.child.stdio[4] as Readable | null)?.destroy();
  return 0;
}
