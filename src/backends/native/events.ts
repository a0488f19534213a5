/** Structured events a run reports: what started, what was blocked or limited, how it ended. */
export type EventLayer = 'sandbox' | 'namespaces' | 'mounts' | 'seccomp' | 'landlock' | 'cgroup' | 'rlimit' | 'capabilities' | 'timeout' | 'filesystem' | 'network';

export interface SandboxEvent {
  layer: EventLayer;
  /** `audit`: what an enforcing run would have blocked (stockade run --audit). */
  kind: 'started' | 'blocked' | 'audit' | 'limit' | 'dropped' | 'warning' | 'exited' | 'error';
  /** What happened, e.g. `killed by seccomp (SIGSYS)`, `memory limit`, `landlock`; for a blocked call, what it named (a path, address:port). */
  what: string;
  detail?: string;
  pid?: number;
  /** ISO 8601 time the event was observed. */
  time: string;
  /** Blocked file and socket calls (denials.ts): the call, its errno name, the path or address and port, the program. */
  syscall?: string;
  errno?: string;
  path?: string;
  address?: string;
  port?: number;
  program?: string;
}

export function event(layer: EventLayer, kind: SandboxEvent['kind'], what: string, detail?: string, pid?: number): SandboxEvent {
  const e: SandboxEvent = { layer, kind, what, time: new Date().toISOString() };
  if (detail !== undefined) e.detail = detail;
  if (pid !== undefined) e.pid = pid;
  return e;
}
