/** `stockade run [flags] -- CMD...`: run a command under a policy. */
import { readFileSync, writeFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';
import { start } from '../backends/native/run.js';
import type { SandboxEvent } from '../backends/native/events.js';
import { defaultPolicy } from '../policy/defaults.js';
import { parsePolicyText } from '../policy/load.js';
import { applyOverrides } from '../policy/overrides.js';
import type { Policy } from '../policy/types.js';
import { one, parseArgs } from './args.js';
import type { Io } from './io.js';

export const RUN_HELP = `usage: stockade run [--policy FILE] [flags] -- COMMAND [ARG...]

Runs COMMAND confined. Without a policy: the host root read-only, the current directory writable,
a private /tmp, no network, the stockade:default seccomp profile, no capabilities, Landlock, and the
host's secrets hidden (docs/policy.md lists them).

  --policy FILE     a policy (YAML, JSON or TOML); flags below override it for this run
  --read PATH       also visible read-only (repeatable)
  --write PATH      also writable (repeatable)
  --hide PATH       also hidden (repeatable)
  --net MODE        none, loopback or host
  --memory SIZE     memory limit, e.g. 512M
  --pids N          process limit
  --timeout DUR     wall-time limit, e.g. 30s
  --rootfs DIR      use DIR as the root file system instead of the host's
  --best-effort     run even when the host cannot enforce a layer; report what was dropped
  --isolation KIND  native (default), runc, or gvisor (runsc's user-space kernel); OCI runtimes
                    cannot apply Landlock (docs/isolation.md)
  --events FILE     write every event as a JSON line to FILE (as root: each denied syscall, and
                    each path or port the policy blocked)
  --audit           report instead of block: seccomp logs what it would deny, summarised at exit
                    (Landlock has no report-only mode and is left out)
  --verbose         print events to stderr as they happen

Exit status: the command's, 128+N when it died from signal N, 2 for bad input, 1 when the host
cannot enforce the policy.`;

export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read the policy: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
  return parsePolicyText(text, path);
}

function describe(e: SandboxEvent): string {
  return `stockade: [${e.layer}] ${e.what}${e.detail ? `: ${e.detail}` : ''}`;
}

export async function runCommand(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, {
    policy: { value: true }, read: { value: true, repeat: true }, write: { value: true, repeat: true },
    hide: { value: true, repeat: true }, net: { value: true }, memory: { value: true }, pids: { value: true },
    timeout: { value: true }, rootfs: { value: true }, 'best-effort': {}, events: { value: true }, verbose: {}, help: {},
    audit: {}, isolation: { value: true },
  }, 'run');
  if (p.bools.has('help')) {
    io.out(RUN_HELP);
    return 0;
  }
  const isolation = one(p, 'isolation') ?? 'native';
  if (!['native', 'runc', 'gvisor'].includes(isolation)) throw new StockadeError('usage', `"${isolation}" must be native, runc or gvisor`, '--isolation');
  const policyPath = one(p, 'policy');
  const base = policyPath ? loadPolicyFile(policyPath) : defaultPolicy();
  // An OCI runtime cannot apply Landlock: the default policy under runc or gVisor goes without it
  // (reported as dropped); a policy file that requires Landlock is refused instead.
  if (!policyPath && isolation !== 'native') base.landlock = 'best-effort';
  const cwd = process.cwd();
  const policy = applyOverrides(base, {
    read: p.flags.get('read'), write: p.flags.get('write'), hide: p.flags.get('hide'), net: one(p, 'net'),
    memory: one(p, 'memory'), pids: one(p, 'pids'), timeout: one(p, 'timeout'), rootfs: one(p, 'rootfs'),
    bestEffort: p.bools.has('best-effort'), command: p.operands,
  }, cwd);
  const audit = p.bools.has('audit');
  if (audit) {
    // Report instead of block: seccomp returns LOG for what it would deny. Landlock has no
    // report-only mode, so an audit run goes without it (and says so).
    policy.syscalls = { ...policy.syscalls, onViolation: 'log' };
    if (policy.landlock !== 'off') {
      policy.landlock = 'off';
      io.err('stockade: [landlock] dropped: Landlock has no report-only mode; --audit runs without it');
    }
  }
  if (policy.command.length === 0) {
    throw new StockadeError('usage', 'no command to run: put it after --, or set command: in the policy', 'stockade run');
  }
  const verbose = p.bools.has('verbose');
  const eventsFile = one(p, 'events');
  const runOpts = {
    reportViolations: audit || eventsFile !== undefined || verbose,
    onEvent: (e: SandboxEvent) => { if (verbose || e.kind === 'dropped' || (e.kind === 'warning' && isolation !== 'native')) io.err(describe(e)); },
  };
  const started = isolation === 'native' ? start(policy, runOpts)
    : (await import('../backends/oci/run.js')).startIsolated(policy, { ...runOpts, isolation: isolation as 'runc' | 'gvisor' });
  // Signals to stockade go to the sandbox (the helper forwards them to the workload).
  const forward = (sig: NodeJS.Signals) => () => started.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const).map((s) => {
    const h = forward(s);
    process.on(s, h);
    return [s, h] as const;
  });
  try {
    const r = await started.result;
    if (eventsFile) {
      try {
        writeFileSync(eventsFile, r.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      } catch (e) {
        throw new StockadeError('io', `cannot write events: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, eventsFile);
      }
    }
    // Blocked paths and ports (denials.ts) are summarised in one line below, like seccomp's.
    const named = (e: SandboxEvent) => e.kind === 'blocked' && e.syscall !== undefined;
    if (!verbose) for (const e of r.events) if (e.kind === 'limit' || (e.kind === 'blocked' && e.layer !== 'seccomp' && !named(e))) io.err(describe(e));
    const blocked = r.events.filter(named);
    if (blocked.length > 0) {
      const counts = new Map<string, number>();
      for (const b of blocked) counts.set(`${b.what} (${b.layer}: ${b.syscall} ${b.errno})`, (counts.get(`${b.what} (${b.layer}: ${b.syscall} ${b.errno})`) ?? 0) + 1);
      const list = [...counts].map(([w, n]) => (n > 1 ? `${w} x${n}` : w)).join(', ');
      io.err(`stockade: the policy blocked ${blocked.length} access${blocked.length > 1 ? 'es' : ''}: ${list}`);
    }
    const violations = r.events.filter((e) => (e.kind === 'blocked' || e.kind === 'audit') && e.layer === 'seccomp' && e.pid !== undefined);
    if (violations.length > 0) {
      const counts = new Map<string, number>();
      for (const v of violations) counts.set(v.what, (counts.get(v.what) ?? 0) + 1);
      const list = [...counts].map(([w, n]) => (n > 1 ? `${w} (x${n})` : w)).join(', ');
      io.err(`stockade: seccomp ${audit ? 'would have denied' : 'denied'} ${violations.length} call${violations.length > 1 ? 's' : ''}: ${list}`);
    }
    if (r.signal) return 128 + (SIGNAL_NUMBERS[r.signal] ?? 0);
    return r.exitCode ?? 1;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGXCPU: 24, SIGXFSZ: 25, SIGSYS: 31,
};
