/**
 * The native backend: preflight the host, set up cgroups, compile the layers, hand the plan to the
 * C helper, collect what it reports, clean up. The only code path from a Policy to a process.
 */
import { StockadeError } from '../../errors.js';
import { probeHost, type HostFacts } from '../../host/probe.js';
import { spawnHelper, type HelperRun } from '../../helper/client.js';
import type { HelperStatus } from '../../helper/plan.js';
import type { Policy } from '../../policy/types.js';
import { createCgroup, type CgroupHandle } from './cgroup.js';
import { event, type SandboxEvent } from './events.js';
import { buildPlan, type PlanResult } from './plan-builder.js';
import { seccompProgram as compiledSeccomp } from './seccomp-cache.js';
import { auditTagWrapper, describeRecord, freshAuditId, KernelLog } from './kernel-log.js';
import { denialWatcher } from './denials.js';
import type { RunWatcher } from './watch.js';

const RET_LOG = 0x7ffc0000;
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { buildEnv, existingPaths, hiddenPaths, ownerOf, resolveProgram } from './view.js';
import type { ChildProcess, StdioOptions } from 'node:child_process';

export interface RunOptions {
  /** stdio for the workload, as for child_process.spawn (default: inherit). */
  stdio?: Array<'pipe' | 'inherit' | 'ignore' | number>;
  /** The caller's working directory (default: process.cwd()). */
  cwd?: string;
  /** The caller's environment the policy's env.inherit copies from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Whether stdin is a terminal (for terminal: auto); default process.stdin.isTTY. */
  stdinIsTty?: boolean;
  /** Called for each event as it happens. */
  onEvent?: (e: SandboxEvent) => void;
  /** A command the C helper runs under (recording with strace). */
  helperWrapper?: string[];
  /**
   * Report each syscall the filter denies (or, with onViolation: log, would deny) as an event,
   * from the kernel's audit records. Needs root; elsewhere a warning event says it is unavailable.
   */
  reportViolations?: boolean;
  /** Extra cgroup.procs files the sandbox joins (recording follows a cgroup v2 id). */
  extraCgroupProcs?: string[];
  /** Observers attached once the plan exists, before the helper starts (the fast recorder: watch.ts). */
  watchers?: RunWatcher[];
  /** Host facts, when the caller already probed (doctor, repeated runs). */
  host?: HostFacts;
}

export interface RunResult {
  /** The workload's exit code, or null when it died from a signal. */
  exitCode: number | null;
  /** The signal that ended the workload, e.g. SIGKILL. */
  signal: NodeJS.Signals | null;
  events: SandboxEvent[];
  /** Layers the policy asked for that this host could not enforce (best-effort runs only). */
  dropped: string[];
  timedOut: boolean;
  durationMs: number;
}

let cachedHost: HostFacts | undefined;

/** Host facts are probed once per process (they do not change while it runs). */
export function hostFacts(): HostFacts {
  cachedHost ??= probeHost({ tools: false });
  return cachedHost;
}

/** Refuses, or records as dropped, each layer the host cannot enforce. */
function preflight(policy: Policy, host: HostFacts): string[] {
  const dropped: string[] = [];
  const bestEffort = policy.enforcement === 'best-effort';
  const refuse = (layer: string, why: string) => {
    if (bestEffort) dropped.push(`${layer}: ${why}`);
    else throw new StockadeError('unsupported', `${why}; or set enforcement: best-effort to run without it`, layer);
  };
  if (policy.syscalls.profile !== 'unconfined' && !host.seccomp) refuse('seccomp', 'this kernel has no seccomp filtering (CONFIG_SECCOMP_FILTER)');
  if (host.uid !== 0 && !host.userns.ok) refuse('namespaces', host.userns.reason ?? 'user namespaces are unavailable');
  if (policy.landlock !== 'off' && host.landlockAbi < 1) {
    const why = host.landlockReason ?? 'Landlock is unavailable';
    if (policy.landlock === 'best-effort' || bestEffort) dropped.push(`landlock: ${why}`);
    else throw new StockadeError('unsupported', `${why}; or set landlock: best-effort`, 'landlock');
  }
  return dropped;
}

function statusEvent(s: HelperStatus): SandboxEvent | undefined {
  switch (s.kind) {
    case 'started': return event('sandbox', 'started', 'workload started', undefined, s.pid);
    case 'warning': return event(s.step as SandboxEvent['layer'], 'warning', s.detail);
    case 'error': return event(s.step as SandboxEvent['layer'], 'error', `${s.step} failed`, s.detail);
    case 'timeout': return event('timeout', 'limit', 'wall time limit', `killed after ${s.afterMs} ms`);
    default: return undefined;
  }
}

export interface Prepared {
  planned: PlanResult;
  cgroup: CgroupHandle | undefined;
  dropped: string[];
  host: HostFacts;
}

/** Everything before the spawn; rejects with a StockadeError with nothing left behind. */
export async function prepare(policy: Policy, opts: RunOptions = {}): Promise<Prepared> {
  const host = opts.host ?? hostFacts();
  const dropped = preflight(policy, host);
  const callerCwd = opts.cwd ?? process.cwd();
  const cwd = policy.cwd ?? callerCwd;
  const env = buildEnv(policy, opts.env ?? process.env);
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5);
  const program = resolveProgram(policy.command, pathVar, policy.filesystem.root === 'host' || policy.filesystem.root === 'empty' ? '/' : policy.filesystem.root);
  const existing = existingPaths(policy, cwd);
  const cwdOwner = ownerOf(cwd);
  const rootOwned = new Set([...existing].filter((p) => ownerOf(p)?.uid === 0));
  const granted = [...policy.filesystem.write, ...policy.filesystem.read, cwd];
  const hide = hiddenPaths(policy.filesystem.hide, granted);
  const seccompProgram = policy.syscalls.profile === 'unconfined' || !host.seccomp ? undefined
    : await compiledSeccomp(policy.syscalls, policy.capabilities, host.kernel);
  let cgroup: CgroupHandle | undefined;
  const fallbackRlimits: Array<{ resource: 'nproc' | 'as'; value: number }> = [];
  try {
    cgroup = createCgroup(policy.limits, host);
  } catch (e) {
    if (!(e instanceof StockadeError)) throw e;
    if (policy.enforcement !== 'best-effort') {
      throw new StockadeError(e.code, `${e.message.replace(/^limits: /, '')}; or set enforcement: best-effort (--best-effort) to use per-process rlimits instead`, 'limits');
    }
    // Without cgroups, per-process rlimits stand in: weaker, and reported as such.
    const lim = policy.limits;
    const subs: string[] = [];
    if (lim.pids !== undefined) {
      fallbackRlimits.push({ resource: 'nproc', value: lim.pids });
      subs.push(`pids via RLIMIT_NPROC (counted per user${host.uid !== 0 ? ' namespace' : ''}, not per sandbox)`);
    }
    if (lim.memory !== undefined) {
      fallbackRlimits.push({ resource: 'as', value: lim.memory });
      subs.push('memory via RLIMIT_AS (address space per process, not resident memory)');
    }
    if (lim.cpu !== undefined) subs.push('cpu share not enforced');
    dropped.push(`cgroup: ${e.message}${subs.length ? `; instead: ${subs.join('; ')}` : ''}`);
  }
  const terminal = policy.terminal === 'auto' ? (opts.stdinIsTty ?? process.stdin.isTTY === true) : policy.terminal;
  const facts = {
    uid: host.uid, gid: process.getgid?.() ?? host.uid, cwd, program, env, hide, existing, rootOwned,
    ...(cwdOwner ? { cwdOwner } : {}),
    landlockAbi: host.landlockAbi, cgroupProcs: [...(cgroup?.procsFiles ?? []), ...(opts.extraCgroupProcs ?? [])], terminal, fallbackRlimits,
    ...(seccompProgram ? { seccompProgram } : {}),
  };
  const planned = buildPlan(policy, facts);
  return { planned, cgroup, dropped: [...dropped, ...planned.dropped], host };
}

export interface Started {
  /** The workload's stdio when the options asked for 'pipe' (null otherwise). */
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** The helper's pid once it runs. */
  readonly pid: number | undefined;
  /** Sends a signal to the sandbox (the helper forwards it to the workload); queued until it runs. */
  kill(signal?: NodeJS.Signals): boolean;
  /** Settles when the workload has ended and everything is cleaned up; rejects with a StockadeError when the sandbox could not be set up. */
  result: Promise<RunResult>;
}

/** Starts the sandbox and returns at once; setup continues in the background. */
export function start(policy: Policy, opts: RunOptions = {}): Started {
  const began = Date.now();
  const stdio = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  const pipes = [0, 1, 2].map((i) => (stdio[i] === 'pipe' ? new PassThrough() : null));
  let child: ChildProcess | undefined;
  let pending: NodeJS.Signals | undefined;
  const events: SandboxEvent[] = [];
  const emit = (e: SandboxEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  const result = (async () => {
    const prepared = await prepare(policy, opts);
    for (const d of prepared.dropped) emit(event(d.split(':')[0] as SandboxEvent['layer'], 'dropped', d));
    // Violation reports: the filter logs its denials, the run gets an audit id, the kernel log says.
    let wrapper = opts.helperWrapper;
    let audit: { log: KernelLog; auid: number } | undefined;
    if (opts.reportViolations) {
      const log = prepared.host.uid === 0 ? KernelLog.open() : undefined;
      const seccompOp = prepared.planned.plan.ops.find((o) => o.op === 'seccomp');
      if (log && seccompOp && seccompOp.op === 'seccomp') {
        seccompOp.log = true;
        const auid = freshAuditId();
        audit = { log, auid };
        wrapper = [...auditTagWrapper(auid), ...(wrapper ?? [])];
      } else emit(event('seccomp', 'warning', 'violation reports unavailable', prepared.host.uid === 0 ? 'no seccomp filter in this run' : 'reading the kernel audit records needs root'));
    }
    // Watchers (eBPF, watch.ts): the caller's, and with violation reports the one that names the
    // paths and ports the policy blocked (denials.ts). They attach before the helper starts.
    const watchers = [...(opts.watchers ?? []), ...(opts.reportViolations ? [denialWatcher()] : [])];
    try {
      for (const w of watchers) await w.attach(prepared.planned.plan, prepared.host);
    } catch (e) {
      for (const w of watchers) w.abort();
      prepared.cgroup?.cleanup();
      audit?.log.close();
      throw e;
    }
    let spawned: { child: ChildProcess; done: Promise<HelperRun> };
    try {
      spawned = spawnHelper(prepared.planned.plan, {
        stdio,
        ...(wrapper ? { wrapper } : {}),
        onStatus: (s) => {
          const e = statusEvent(s);
          if (e) emit(e);
        },
      });
    } catch (e) {
      for (const w of watchers) w.abort();
      prepared.cgroup?.cleanup();
      throw e;
    }
    child = spawned.child;
    if (pipes[0] && child.stdin) {
      child.stdin.on('error', () => { /* the workload closed its stdin early */ });
      pipes[0].pipe(child.stdin);
    }
    if (pipes[1] && child.stdout) child.stdout.pipe(pipes[1]);
    if (pipes[2] && child.stderr) child.stderr.pipe(pipes[2]);
    if (pending) child.kill(pending);
    let run: HelperRun;
    try {
      run = await spawned.done;
    } catch (e) {
      for (const w of watchers) w.abort();
      prepared.cgroup?.cleanup();
      audit?.log.close();
      throw e;
    }
    try {
      for (const w of watchers) for (const e of await w.finish()) emit(e);
    } catch (e) {
      for (const w of watchers) w.abort();
      prepared.cgroup?.cleanup();
      audit?.log.close();
      throw e;
    }
    if (audit) {
      for (const r of audit.log.recordsOf(audit.auid)) {
        const would = r.code === RET_LOG;
        emit(event('seccomp', would ? 'audit' : 'blocked', r.name ?? `syscall ${r.syscall}`, describeRecord(r) + (r.exe ? ` (${r.exe})` : ''), r.pid));
      }
      audit.log.close();
    }
    return finish(run, prepared, emit, events, began);
  })();
  return {
    stdin: pipes[0] ?? null,
    stdout: pipes[1] ?? null,
    stderr: pipes[2] ?? null,
    get pid() {
      return child?.pid;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child) return child.kill(signal);
      pending = signal;
      return true;
    },
    result,
  };
}

function finish(run: HelperRun, prepared: Prepared, emit: (e: SandboxEvent) => void, events: SandboxEvent[], began: number): RunResult {
  for (const e of prepared.cgroup?.events() ?? []) emit(event('cgroup', 'limit', e.what, e.detail));
  prepared.cgroup?.cleanup();
  const setupError = run.statuses.find((s) => s.kind === 'error');
  if (setupError && setupError.kind === 'error' && setupError.step !== 'exec') {
    throw new StockadeError('unsupported', `the sandbox could not be set up: ${setupError.step}: ${setupError.detail}`, setupError.step);
  }
  if (setupError && setupError.kind === 'error' && run.exitCode === null && run.exitSignal === null) {
    // The program could not be executed inside the sandbox: 127 (not found) or 126, as a shell does.
    throw new StockadeError('input', `cannot run the command in the sandbox: ${setupError.detail}${setupError.errno === 2 ? ' (is it inside a path the sandbox sees? --read adds one)' : ''}`, 'command');
  }
  let signal: NodeJS.Signals | null = null;
  if (run.exitSignal !== null) {
    signal = signalName(run.exitSignal);
    if (run.exitSignal === 31) emit(event('seccomp', 'blocked', 'killed by seccomp (SIGSYS)', 'the workload made a syscall the profile kills'));
    if (run.exitSignal === 24) emit(event('rlimit', 'limit', 'cpu time limit', 'SIGXCPU at limits.cpuTime'));
  }
  emit(event('sandbox', 'exited', signal ? `killed by ${signal}` : `exited with ${run.exitCode}`));
  return { exitCode: run.exitSignal !== null ? null : run.exitCode, signal, events, dropped: prepared.dropped, timedOut: run.timedOut, durationMs: Date.now() - began };
}

const SIGNALS: Record<number, NodeJS.Signals> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 17: 'SIGCHLD', 18: 'SIGCONT',
  19: 'SIGSTOP', 20: 'SIGTSTP', 24: 'SIGXCPU', 25: 'SIGXFSZ', 31: 'SIGSYS',
};

export function signalName(n: number): NodeJS.Signals {
  return SIGNALS[n] ?? (`SIG${n}` as NodeJS.Signals);
}

export type { StdioOptions };
