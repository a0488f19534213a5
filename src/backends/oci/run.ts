/**
 * The OCI backend: the same policy as the native backend, run by runc or by gVisor's runsc.
 * `startIsolated` returns the native backend's `Started` shape, so callers treat both alike.
 *
 *   node ── runc|runsc run --bundle DIR ID ── the workload (pid 1 of its pid namespace)
 *     └── watchdog (detached sh): deletes the container and the bundle if stockade dies
 *
 * The workload's stdio is the runtime's: runc and runsc hand their descriptors to it. The
 * runtime's own messages go to a log file in the bundle, so a setup failure is told apart from
 * the workload's output and reported as a StockadeError.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { StockadeError } from '../../errors.js';
import type { Policy } from '../../policy/types.js';
import { event, type SandboxEvent } from '../native/events.js';
import { hostFacts, signalName, type RunOptions, type RunResult, type Started } from '../native/run.js';
import { createBundle, removeBundle, type Bundle } from './bundle.js';
import { forceDelete, hasState, runtimeInfo, startWatchdog, sweep, type Isolation, type RuntimeInfo } from './runtime.js';

export type { Isolation } from './runtime.js';

export interface IsolatedRunOptions extends RunOptions {
  isolation: Isolation;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20,
  SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

/** The runtime's own error messages, from its JSON log. */
function runtimeErrors(path: string): string[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      if ((j.level === 'error' || j.level === 'fatal' || j.level === 'panic') && j.msg) out.push(j.msg);
    } catch {
      if (/error|fatal|panic/i.test(line)) out.push(line.trim());
    }
  }
  return out;
}

function firstLine(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text ? text.split('\n')[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the workload under runc or gVisor and returns at once; setup continues in the background.
 * Rejects `result` with a StockadeError when the sandbox could not be set up (nothing left behind).
 */
export function startIsolated(policy: Policy, opts: IsolatedRunOptions): Started {
  const began = Date.now();
  const stdio = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  const pipes = [0, 1, 2].map((i) => (stdio[i] === 'pipe' ? new PassThrough() : null));
  const events: SandboxEvent[] = [];
  const emit = (e: SandboxEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  let child: ChildProcess | undefined;
  let info: RuntimeInfo | undefined;
  let bundle: Bundle | undefined;
  let exited = false;
  let pending: NodeJS.Signals | undefined;

  /** Sends a signal through the runtime (`kill ID SIG`), retrying while the container is being created. */
  const signalContainer = (sig: NodeJS.Signals, triesLeft = 100): void => {
    if (!info || !bundle || exited) return;
    const num = SIGNAL_NUMBERS[sig];
    if (num === undefined) return;
    const k = spawn(info.bin, [...info.global, 'kill', bundle.id, String(num)], { stdio: 'ignore' });
    k.on('error', () => {});
    k.on('close', (code) => {
      if (code !== 0 && triesLeft > 0 && !exited) setTimeout(() => signalContainer(sig, triesLeft - 1), 50);
    });
  };

  const result = (async (): Promise<RunResult> => {
    const host = opts.host ?? hostFacts();
    info = runtimeInfo(opts.isolation, policy);
    sweep(info);
    const terminal = policy.terminal === 'auto' ? (opts.stdinIsTty ?? process.stdin.isTTY === true) : policy.terminal;
    if (terminal && !(stdio[0] === 'inherit' && process.stdin.isTTY === true)) {
      // runc and runsc relay their own controlling terminal; without one they fail to start.
      throw new StockadeError('unsupported', `a terminal under ${info.name} needs stockade's own stdin to be a terminal; set terminal: false (or auto)`, 'terminal');
    }
    const b = createBundle(policy, host, info, { ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}), terminal });
    bundle = b;
    for (const d of b.dropped) emit(event(d.split(':')[0] as SandboxEvent['layer'], 'dropped', d));
    for (const n of b.notes) emit(event('sandbox', 'warning', n));
    const rt = info;
    const watchdog = startWatchdog(rt, b.id, b.dir);
    const cleanup = () => {
      if (hasState(rt, b.id)) forceDelete(rt, b.id);
      removeBundle(b.dir);
      watchdog.done();
    };
    const panicLog = join(b.dir, 'panic.log');
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let run: { code: number | null; signal: NodeJS.Signals | null };
    try {
      run = await new Promise((resolve, reject) => {
        const logs = ['--log', b.log, '--log-format', 'json', ...(rt.runtime === 'runsc' ? [`--panic-log=${panicLog}`] : [])];
        const c = spawn(rt.bin, [...rt.global, ...logs, 'run', '--bundle', b.dir, b.id], {
          stdio: stdio.slice(0, 3) as Array<'pipe' | 'inherit' | 'ignore' | number>,
          cwd: b.dir,
          env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {}) },
        });
        child = c;
        c.on('error', (e) => reject(new StockadeError('unsupported', `cannot run ${rt.bin}: ${e.message}`, 'isolation')));
        c.on('close', (code, signal) => resolve({ code, signal }));
        if (pipes[0] && c.stdin) {
          c.stdin.on('error', () => { /* the workload closed its stdin early */ });
          pipes[0].pipe(c.stdin);
        }
        if (pipes[1] && c.stdout) c.stdout.pipe(pipes[1]);
        if (pipes[2] && c.stderr) c.stderr.pipe(pipes[2]);
        emit(event('sandbox', 'started', 'workload started', `${rt.name} run ${b.id}`, c.pid));
        if (policy.limits.wallTimeMs !== undefined) {
          timer = setTimeout(() => {
            timedOut = true;
            emit(event('timeout', 'limit', 'wall time limit', `killed after ${policy.limits.wallTimeMs} ms`));
            signalContainer('SIGKILL');
          }, policy.limits.wallTimeMs);
        }
        if (pending) signalContainer(pending);
      });
    } catch (e) {
      if (timer) clearTimeout(timer);
      exited = true;
      cleanup();
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
    exited = true;
    const errors = runtimeErrors(b.log);
    const panic = firstLine(panicLog);
    cleanup();
    if (run.signal) {
      // The runtime itself was killed (not by us): what happened to the workload is unknown.
      throw new StockadeError('internal', `${rt.name} was killed by ${run.signal}`, 'isolation');
    }
    const code = run.code ?? 1;
    if (errors.length > 0 && !timedOut) {
      throw new StockadeError('unsupported', `${rt.name} could not run the sandbox: ${errors[errors.length - 1]}`, 'isolation');
    }
    if (panic) {
      // gVisor's kernel itself died (a Go panic): the workload went with it. Under a pids limit this
      // is how a fork bomb ends: the sandbox's cgroup also holds the sentry's threads.
      const pids = policy.limits.pids !== undefined && /resource temporarily unavailable|newosproc/.test(panic);
      if (pids) emit(event('cgroup', 'limit', 'pids limit', `the gVisor sandbox ran out of processes at ${policy.limits.pids} and stopped: ${panic}`));
      else emit(event('sandbox', 'error', 'the gVisor sandbox stopped', panic));
      emit(event('sandbox', 'exited', 'killed by SIGKILL'));
      return { exitCode: null, signal: 'SIGKILL', events, dropped: b.dropped, timedOut, durationMs: Date.now() - began };
    }
    // Both runtimes exit with the workload's status, 128 + N when signal N ended it (as a shell
    // reports it: an exit status above 128 is read as a signal).
    let signal: NodeJS.Signals | null = null;
    if (code > 128 && code <= 128 + 31) signal = signalName(code - 128);
    if (signal === 'SIGSYS') emit(event('seccomp', 'blocked', 'killed by seccomp (SIGSYS)', 'the workload made a syscall the profile kills'));
    if (signal === 'SIGXCPU') emit(event('rlimit', 'limit', 'cpu time limit', 'SIGXCPU at limits.cpuTime'));
    emit(event('sandbox', 'exited', signal ? `killed by ${signal}` : `exited with ${code}`));
    return { exitCode: signal ? null : code, signal, events, dropped: b.dropped, timedOut, durationMs: Date.now() - began };
  })();

  return {
    stdin: pipes[0] ?? null,
    stdout: pipes[1] ?? null,
    stderr: pipes[2] ?? null,
    get pid() {
      return child?.pid;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return false;
      if (!child) {
        pending = signal;
        return true;
      }
      signalContainer(signal);
      return true;
    },
    result,
  };
}
