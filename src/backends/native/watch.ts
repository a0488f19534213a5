/**
 * Watchers: programs that observe a sandbox from outside with eBPF (the fast recorder, the denial
 * watcher of enforcing runs). They follow the sandbox by its cgroup v2 id: the one the run's
 * limits already put it in (a process has one v2 cgroup: joining a second would take it out of
 * its limits), or a new, empty one added to the plan.
 */
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StockadeError } from '../../errors.js';
import { PHASES, type Plan, type PlanOp } from '../../helper/plan.js';
import type { HostFacts } from '../../host/probe.js';
import { processAlive } from '../../host/processes.js';
import type { SandboxEvent } from './events.js';

export interface RunWatcher {
  /** Before the helper starts: attach to the sandbox (may add a cgroup to the plan). Rejects to abort the run. */
  attach(plan: Plan, host: HostFacts): Promise<void>;
  /** After the workload ended: what it saw, as events (none for a recorder). */
  finish(): Promise<SandboxEvent[]>;
  /** The run failed before or while starting: stop without reading. */
  abort(): void;
}

let counter = 0;
/** The phases after the cgroup join (src/helper/plan.ts PHASES): a new cgroup op goes before them. */
const AFTER_CGROUP: ReadonlyArray<PlanOp['op']> = PHASES.slice(PHASES.findIndex((ph) => ph.includes('cgroup')) + 1).flat();

/** Removes watcher cgroups left by stockade processes that no longer exist. */
function sweep(v2Root: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(v2Root);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^stockade-rec-(\d+)-\d+$/.exec(n);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmdirSync(join(v2Root, n));
    } catch {
      /* still has processes */
    }
  }
}

/**
 * The v2 cgroup the sandbox will be in: the one the plan joins already, or a new one joined by
 * adding it to the plan. `remove` deletes a cgroup this created (a no-op otherwise).
 */
export function sandboxCgroupV2(plan: Plan, host: HostFacts): { id: string; remove(): void } {
  const root = host.cgroup.v2Root;
  if (!root) throw new StockadeError('unsupported', 'this host mounts no cgroup v2 tree to follow the sandbox by', 'cgroup');
  const op = plan.ops.find((o): o is Extract<PlanOp, { op: 'cgroup' }> => o.op === 'cgroup');
  const joined = op?.procsFiles.find((f) => f.startsWith(`${root}/`));
  if (joined) return { id: statSync(dirname(joined), { bigint: true }).ino.toString(), remove() {} };
  sweep(root);
  const dir = join(root, `stockade-rec-${process.pid}-${counter++}`);
  try {
    mkdirSync(dir);
  } catch (e) {
    throw new StockadeError('unsupported', `cannot create a cgroup to follow the sandbox: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, dir);
  }
  const procs = join(dir, 'cgroup.procs');
  let op2 = op;
  if (!op2) {
    op2 = { op: 'cgroup', procsFiles: [] };
    const at = plan.ops.findIndex((o) => AFTER_CGROUP.includes(o.op));
    plan.ops.splice(at < 0 ? plan.ops.length : at, 0, op2);
  }
  op2.procsFiles.push(procs);
  const joinedOp = op2;
  return {
    id: statSync(dir, { bigint: true }).ino.toString(),
    remove() {
      // Out of the plan too: a watcher that failed to attach must not leave the run joining it.
      const at = joinedOp.procsFiles.indexOf(procs);
      if (at >= 0) joinedOp.procsFiles.splice(at, 1);
      const own = plan.ops.findIndex((o) => o.op === 'cgroup' && o.procsFiles.length === 0);
      if (own >= 0) plan.ops.splice(own, 1);
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return;
          const until = Date.now() + 2;
          while (Date.now() < until) { /* the last process is still leaving */ }
        }
      }
    },
  };
}
