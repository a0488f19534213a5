/**
 * cgroups for one sandbox: memory, pids and cpu limits on cgroup v2, or on v1 controllers (hybrid
 * hosts such as this project's CI mount v1 controllers and an empty v2 tree). Each sandbox gets
 * its own directory named stockade-<pid>-<n>; cleanup removes it, and every new sandbox first
 * sweeps directories whose stockade process is gone (a stockade killed with SIGKILL cannot clean).
 */
import { removeCgroupDir } from '../../host/cgroup-dir.js';
import { processAlive } from '../../host/processes.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { StockadeError } from '../../errors.js';
import type { HostFacts } from '../../host/probe.js';
import type { Limits } from '../../policy/types.js';

export interface CgroupEvent {
  layer: 'cgroup';
  what: string;
  detail: string;
}

export interface CgroupHandle {
  /** cgroup.procs files the sandbox's init joins. */
  procsFiles: string[];
  dirs: string[];
  events(): CgroupEvent[];
  cleanup(): void;
}

type Controller = 'memory' | 'pids' | 'cpu';
let counter = 0;
const CPU_PERIOD_US = 100_000;

export function neededControllers(limits: Limits): Controller[] {
  const out: Controller[] = [];
  if (limits.memory !== undefined) out.push('memory');
  if (limits.pids !== undefined) out.push('pids');
  if (limits.cpu !== undefined) out.push('cpu');
  return out;
}

function write(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new StockadeError('unsupported', `cannot write ${JSON.stringify(value)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

function tryRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}


/** Removes sandbox cgroups left by stockade processes that no longer exist. */
export function sweep(base: string): number {
  let removed = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync(base);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const m = /^stockade-(\d+)-\d+$/.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmdirSync(join(base, name));
      removed++;
    } catch {
      /* still has processes; a later sweep retries */
    }
  }
  return removed;
}

const rmdirRetry = (dir: string): void => removeCgroupDir(dir, 50, 2);

function counterValue(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Where this host lets us create cgroups, per controller, or why it does not. */
export function cgroupBases(facts: HostFacts, controllers: Controller[]): { bases: Map<Controller, string>; v2: boolean } | { missing: string } {
  const { cgroup } = facts;
  if (controllers.every((c) => cgroup.v1Controllers.includes(c))) {
    if (facts.uid !== 0) return { missing: 'cgroup v1 controllers cannot be delegated to an unprivileged user: run as root, or on a cgroup v2 host with delegation' };
    return { bases: new Map(controllers.map((c) => [c, `/sys/fs/cgroup/${c}/stockade`])), v2: false };
  }
  if (!cgroup.v2Root) return { missing: `no cgroup hierarchy has the ${controllers.join(', ')} controller${controllers.length > 1 ? 's' : ''} mounted` };
  const available = tryRead(join(cgroup.v2Root, 'cgroup.controllers')).trim().split(/\s+/);
  const absent = controllers.filter((c) => !available.includes(c));
  if (absent.length > 0) return { missing: `the cgroup v2 tree at ${cgroup.v2Root} does not offer ${absent.join(', ')} (it is empty on hybrid hosts)` };
  let base: string;
  if (facts.uid === 0) base = join(cgroup.v2Root, 'stockade');
  else {
    // Rootless: a systemd user manager delegates its subtree; create siblings of our own cgroup.
    const own = join(cgroup.v2Root, cgroup.ownV2 ?? '/');
    base = dirname(own);
    try {
      accessSync(base, constants.W_OK);
    } catch {
      return { missing: `no cgroup delegation: ${base} is not writable by uid ${facts.uid}; run inside a delegated scope (systemd-run --user --scope -p Delegate=yes stockade run ...) or as root` };
    }
  }
  return { bases: new Map(controllers.map((c) => [c, base])), v2: true };
}

export function createCgroup(limits: Limits, facts: HostFacts): CgroupHandle | undefined {
  const controllers = neededControllers(limits);
  if (controllers.length === 0) return undefined;
  const where = cgroupBases(facts, controllers);
  if ('missing' in where) throw new StockadeError('unsupported', where.missing, 'limits');
  const name = `stockade-${process.pid}-${counter++}`;
  const dirs = new Map<string, Controller[]>();
  for (const [c, base] of where.bases) dirs.set(join(base, name), [...(dirs.get(join(base, name)) ?? []), c]);
  const created: string[] = [];
  try {
    for (const [dir, ctrls] of dirs) {
      const base = dirname(dir);
      mkdirSync(base, { recursive: true });
      sweep(base);
      if (where.v2) {
        const enable = ctrls.map((c) => `+${c}`).join(' ');
        if (facts.uid === 0 && facts.cgroup.v2Root) write(join(facts.cgroup.v2Root, 'cgroup.subtree_control'), enable);
        write(join(base, 'cgroup.subtree_control'), enable);
      }
      mkdirSync(dir);
      created.push(dir);
      for (const c of ctrls) {
        if (c === 'memory') {
          write(join(dir, where.v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(limits.memory));
          // No swap, so a memory bomb meets the limit instead of the disk.
          const swap = join(dir, where.v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes');
          if (existsSync(swap)) write(swap, where.v2 ? '0' : String(limits.memory));
        }
        if (c === 'pids') write(join(dir, 'pids.max'), String(limits.pids));
        if (c === 'cpu') {
          const quota = Math.max(1000, Math.round(limits.cpu! * CPU_PERIOD_US));
          if (where.v2) write(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
          else {
            write(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
            write(join(dir, 'cpu.cfs_quota_us'), String(quota));
          }
        }
      }
    }
  } catch (e) {
    for (const d of created.reverse()) rmdirRetry(d);
    throw e;
  }
  const v2 = where.v2;
  return {
    procsFiles: created.map((d) => join(d, 'cgroup.procs')),
    dirs: created,
    events() {
      const out: CgroupEvent[] = [];
      for (const [dir, ctrls] of dirs) {
        if (ctrls.includes('memory')) {
          const text = tryRead(join(dir, v2 ? 'memory.events' : 'memory.oom_control'));
          const kills = counterValue(text, 'oom_kill');
          if (kills > 0) out.push({ layer: 'cgroup', what: 'memory limit', detail: `${kills} process${kills > 1 ? 'es' : ''} killed by the OOM killer at ${limits.memory} bytes` });
        }
        if (ctrls.includes('pids')) {
          const hits = counterValue(tryRead(join(dir, 'pids.events')), 'max');
          if (hits > 0) out.push({ layer: 'cgroup', what: 'pids limit', detail: `fork refused ${hits} time${hits > 1 ? 's' : ''} at ${limits.pids} processes` });
        }
      }
      return out;
    },
    cleanup() {
      for (const d of created) rmdirRetry(d);
    },
  };
}
