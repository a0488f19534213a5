/**
 * stockade's library API.
 *
 *   import { run } from 'stockade';
 *   const r = await run({ command: ['ls', '/'], network: 'none', limits: { memory: '256M' } });
 *   r.exitCode, r.signal, r.events
 */
import type { Readable, Writable } from 'node:stream';
import { start, type RunOptions, type RunResult } from './backends/native/run.js';
import { policyFromDocument } from './policy/validate.js';
import type { Policy } from './policy/types.js';

export type { Policy, Limits, FilesystemPolicy, NetworkMode, LandlockMode, Enforcement } from './policy/types.js';
export type { RunOptions, RunResult } from './backends/native/run.js';
export type { SandboxEvent, EventLayer } from './backends/native/events.js';
export { defaultPolicy, DEFAULT_HIDDEN } from './policy/defaults.js';
export { parsePolicyText } from './policy/load.js';
export { StockadeError, type ErrorCode } from './errors.js';
export { parseProfile } from './seccomp/profile.js';
export { resolveProfile, DOCKER_DEFAULT_CAPS } from './seccomp/resolve.js';
export { compileFilter } from './seccomp/compile.js';
export { emulate } from './seccomp/emulate.js';
export { disassemble } from './seccomp/disasm.js';
export { formatAction } from './seccomp/actions.js';
export { probeHost, type HostFacts } from './host/probe.js';

/**
 * A policy as a document (the same fields as a policy file: sizes as "512M", durations as "30s"),
 * or a validated Policy.
 */
export type PolicyInput = Record<string, unknown> | Policy;

function toPolicy(input: PolicyInput): Policy {
  if ('source' in input && 'filesystem' in input && typeof (input as Policy).filesystem?.root === 'string' && Array.isArray((input as Policy).env?.inherit)) {
    return input as Policy;
  }
  return policyFromDocument(input, 'policy');
}

/** Runs the policy's command to completion. stdio defaults to the caller's. */
export async function run(policy: PolicyInput, options: RunOptions = {}): Promise<RunResult> {
  return start(toPolicy(policy), options).result;
}

export interface SandboxProcess {
  pid: number | undefined;
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Sends a signal to the workload (through the helper, which forwards it). */
  kill(signal?: NodeJS.Signals): boolean;
  result: Promise<RunResult>;
}

/** Starts the policy's command with piped stdio (like child_process.spawn) and returns at once. */
export function spawn(policy: PolicyInput, options: RunOptions = {}): SandboxProcess {
  const s = start(toPolicy(policy), { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  return {
    get pid() {
      return s.pid;
    },
    stdin: s.stdin,
    stdout: s.stdout,
    stderr: s.stderr,
    kill: (signal = 'SIGTERM') => s.kill(signal),
    result: s.result,
  };
}
