/** Structured events a run reports: what started, what was blocked or limited, how it ended. */
export type EventLayer = 'sandbox' | 'namespaces' | 'mounts' | 'seccomp' | 'landlock' | 'cgroup' | 'rlimit' | 'capabilities' | 'timeout';

export interface SandboxEvent {
  layer: EventLayer;
  /** `audit`: what an enforcing run would have blocked (stockade run --audit). */
  kind: 'started' | 'blocked' | 'audit' | 'limit' | 'dropped' | 'warning' | 'exited' | 'error';
  /** What happened, e.g. `killed by seccomp (SIGSYS)`, `memory limit`, `landlock`. */
  what: string;
  detail?: string;
  pid?: number;
  /** ISO 8601 time the event was observed. */
  time: string;
}

export function event(layer: EventLayer, kind: SandboxEvent['kind'], what: string, detail?: string, pid?: number): SandboxEvent {
  const e: SandboxEvent = { layer, kind, what, time: new Date().toISOString() };
  if (detail !== undefined) e.detail = detail;
  if (pid !== undefined) e.pid = pid;
  return e;
}
