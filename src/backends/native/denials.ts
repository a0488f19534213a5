/**
 * Naming what an enforcing run blocked outside seccomp: the fast recorder in `watch` mode sees
 * every file or socket call of the sandbox that failed with ENOENT, EACCES or EROFS (and EPERM),
 * and this module keeps the ones the policy caused, by comparing with the plan the helper ran:
 *
 * - ENOENT on a path that exists on the host but is outside the sandbox's view (under a hidden
 *   path, or not under any bound path of an empty root): the view hid it (layer `filesystem`).
 *   Ordinary "not found" (the path is in the view, or exists nowhere) is not a denial.
 * - EROFS: a write to a path the view has read-only (layer `filesystem`).
 * - EACCES on a file call whose kind of access (read, write, execute) the Landlock ruleset grants
 *   nowhere on the path (layer `landlock`); EACCES where Landlock would allow is the file's own
 *   permissions, not the policy, and is not reported.
 * - EACCES on connect or bind to a TCP port the Landlock ruleset does not allow (layer `network`);
 *   another EACCES there (a port below 1024 without CAP_NET_BIND_SERVICE) is not the policy's.
 * EPERM is left out: Landlock and the mounts never answer it; seccomp's EPERM is named by the
 * kernel's audit records (kernel-log.ts) and the rest is ordinary permission checks.
 * The kernel offers no hook that says which layer refused on this host (no kprobes, no BPF LSM,
 * fentry/fexit programs refused; Landlock's own audit records need audit enabled host-wide and the
 * workload's domain to ask for them), so the layer is the one whose rules explain the errno.
 */
import { lstatSync, statSync } from 'node:fs';
import type { LandlockRuleset, Plan, PlanOp } from '../../helper/plan.js';
import type { HostFacts } from '../../host/probe.js';
import { FS, NET } from '../../landlock/ruleset.js';
import { fastRecorder, fastRecorderUnavailable, type FastRecorder } from '../../record/ebpf.js';
import type { Failure } from '../../record/tracker.js';
import { effectiveClass } from '../../record/syscall-paths.js';
import { event, type SandboxEvent } from './events.js';
import type { RunWatcher } from './watch.js';

const ERRNO: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 30: 'EROFS' };

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** What the sandbox's view shows at `path`, from the plan's mounts in the order the helper made them. */
export function viewAt(plan: Plan, path: string): 'host' | 'absent' | 'hidden' | 'sandbox' | 'other' {
  let state: 'host' | 'absent' | 'hidden' | 'sandbox' | 'other' = 'host';
  for (const op of plan.ops) {
    switch (op.op) {
      case 'rootTmpfs': state = 'absent'; break;
      case 'rootBind': case 'rootfs': state = 'other'; break;
      case 'bind': if (under(path, op.target)) state = 'host'; break;
      case 'tmpfs': case 'proc': case 'dev': case 'mount': if (under(path, op.target)) state = 'sandbox'; break;
      case 'hide': if (under(path, op.target)) state = 'hidden'; break;
      default: break;
    }
  }
  return state;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const READ = FS.READ_FILE | FS.READ_DIR;
const WRITE = FS.WRITE_FILE | FS.REMOVE_DIR | FS.REMOVE_FILE | FS.MAKE_CHAR | FS.MAKE_DIR | FS.MAKE_REG | FS.MAKE_SOCK | FS.MAKE_FIFO | FS.MAKE_BLOCK | FS.MAKE_SYM | FS.TRUNCATE;
/** Write-class calls Landlock does not control (metadata): their EACCES is never Landlock's. */
const UNCONTROLLED = /^(l?chown|fchownat|chmod|fchmodat2?|utime|utimes|utimensat|l?setxattr|setxattrat|l?removexattr|removexattrat)$/;

/** The kind of access a failed file call needed, when Landlock controls it. */
function neededAccess(f: Failure): { name: string; rights: bigint } | undefined {
  if (!f.cls) return undefined;
  const cls = effectiveClass(f.cls, f.flags);
  if (cls === 'exec') return { name: 'execute', rights: FS.EXECUTE };
  if (cls === 'write') return UNCONTROLLED.test(f.syscall) ? undefined : { name: 'write', rights: WRITE };
  if (cls === 'read' && f.cls === 'open') return { name: 'read', rights: f.path && isDir(f.path) ? FS.READ_DIR : READ };
  return undefined; // stat, access, readlink, chdir, xattr reads: not Landlock rights
}

function landlockOf(plan: Plan): LandlockRuleset | undefined {
  const op = plan.ops.find((o): o is Extract<PlanOp, { op: 'landlock' }> => o.op === 'landlock');
  return op?.ruleset;
}

function wallTime(mono: number): string {
  const ageMs = (Number(process.hrtime.bigint()) - mono) / 1e6;
  return new Date(Date.now() - Math.max(0, ageMs)).toISOString();
}

/** The failures the policy caused, as events (one per distinct call, path and process). */
export function denialEvents(failures: readonly Failure[], plan: Plan): SandboxEvent[] {
  const ll = landlockOf(plan);
  const out: SandboxEvent[] = [];
  const seen = new Set<string>();
  for (const f of failures) {
    const errno = ERRNO[f.errno] ?? `errno ${f.errno}`;
    let layer: 'filesystem' | 'landlock' | 'network' | undefined;
    let what = '';
    let why = '';
    if (f.endpoint) {
      if (f.errno !== 13 || !ll || (f.syscall !== 'connect' && f.syscall !== 'bind')) continue;
      const right = f.syscall === 'connect' ? NET.CONNECT_TCP : NET.BIND_TCP;
      if ((ll.handledNet & right) === 0n) continue;
      if (ll.ports.some((p) => p.port === f.endpoint!.port && (p.access & right) !== 0n)) continue;
      layer = 'network';
      what = f.endpoint.family === 'inet6' ? `[${f.endpoint.address}]:${f.endpoint.port}` : `${f.endpoint.address}:${f.endpoint.port}`;
      why = ll.ports.length === 0 && (ll.handledNet & (NET.CONNECT_TCP | NET.BIND_TCP)) === (NET.CONNECT_TCP | NET.BIND_TCP)
        ? 'the policy allows no TCP (Landlock)'
        : `TCP port ${f.endpoint.port} is not among the ports the policy allows to ${f.syscall} (Landlock)`;
    } else if (f.path) {
      const path = f.path;
      if (f.errno === 2) {
        const view = viewAt(plan, path);
        if ((view !== 'absent' && view !== 'hidden') || !exists(path)) continue;
        layer = 'filesystem';
        what = path;
        why = view === 'hidden' ? `${path} exists on the host and the policy hides it` : `${path} exists on the host and is outside the sandbox's view`;
      } else if (f.errno === 30) {
        layer = 'filesystem';
        what = path;
        why = `${path} is read-only in the sandbox`;
      } else if (f.errno === 13 && ll) {
        const need = neededAccess(f);
        if (!need || (ll.handledFs & need.rights) === 0n) continue;
        const granted = ll.paths.filter((r) => under(path, r.path)).reduce((a, r) => a | r.access, 0n);
        if ((granted & need.rights) !== 0n) continue;
        layer = 'landlock';
        what = path;
        why = `Landlock allows no ${need.name} access to ${path}`;
      } else continue;
    } else continue;
    const key = `${layer}\0${what}\0${f.syscall}\0${f.errno}\0${f.pid}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const e: SandboxEvent = { ...event(layer, 'blocked', what, `${f.syscall} failed with ${errno}: ${why}`, f.pid), time: wallTime(f.time), syscall: f.syscall, errno, program: f.program };
    if (f.endpoint) {
      e.address = f.endpoint.address;
      e.port = f.endpoint.port;
    } else e.path = what;
    out.push(e);
  }
  return out;
}

/**
 * The watcher stockade run attaches when it reports violations: never fails the run; when it
 * cannot watch, finish() says so in a warning event.
 */
export function denialWatcher(): RunWatcher {
  let rec: FastRecorder | undefined;
  let plan: Plan | undefined;
  let unavailable: string | undefined;
  const warning = (why: string) => event('filesystem', 'warning', 'blocked paths and ports cannot be named', why);
  return {
    async attach(p: Plan, host: HostFacts) {
      plan = p;
      const why = fastRecorderUnavailable(host);
      if (why) {
        unavailable = `the eBPF watcher cannot run here: ${why}`;
        return;
      }
      const exec = p.ops.find((o): o is Extract<PlanOp, { op: 'exec' }> => o.op === 'exec');
      const r = fastRecorder({ mode: 'watch', cwd: exec?.cwd ?? '/' });
      try {
        await r.attach(p, host);
        rec = r;
      } catch (e) {
        unavailable = (e as Error).message;
      }
    },
    async finish() {
      if (!rec || !plan) return unavailable ? [warning(unavailable)] : [];
      try {
        await rec.finish();
      } catch (e) {
        return [warning((e as Error).message)];
      }
      const events = denialEvents(rec.failures(), plan);
      const o = rec.observation();
      if (!o.complete) events.push(warning(`some calls may be missing: ${o.notes.join('; ')}`));
      return events;
    },
    abort() {
      rec?.abort();
    },
  };
}
