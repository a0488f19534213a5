/**
 * `create` and `run`: config.json read and planned, the container's state directory and cgroup
 * made, the helper started with the plan. `create` returns once the container process waits at the
 * start gate; `run` waits for it to end. Any failure undoes everything done so far.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { StockadeError } from '../errors.js';
import { spawnHelper, type HelperRun } from '../helper/client.js';
import type { HelperStatus, JoinableNamespace, Plan } from '../helper/plan.js';
import { cgroupRelativePath, createContainerCgroup, removeContainerCgroup, type CgroupLayout } from './cgroups.js';
import { runHooks } from './hooks.js';
import { compileContainerSeccomp, compileStockadeDefault } from './seccomp.js';
import { parseOciSpec, type OciDeviceRule, type OciSpec } from './spec.js';
import { claimId, processStart, removeStateDir, writeFast, writeState, type ContainerState } from './state.js';
import { hardeningWanted, planForCreate, type HostLsm, type PlanInput } from './to-plan.js';

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  systemdCgroup: boolean;
}

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
}

const STANDARD_DEVICES = [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2]] as const;
/** What runc allows every container besides its config's rules: mknod of anything, and the default devices. */
const RUNC_DEFAULT_DEVICES: OciDeviceRule[] = [
  { allow: true, type: 'c', access: 'm' }, { allow: true, type: 'b', access: 'm' },
  ...STANDARD_DEVICES.map(([major, minor]) => ({ allow: true, type: 'c' as const, major, minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];
/**
 * With stockade's hardening: the default devices may be read and written but no device node may be
 * made (the container's /dev is bound from the host; a node made in a volume could be a disk).
 */
const HARDENED_DEFAULT_DEVICES: OciDeviceRule[] = [
  ...STANDARD_DEVICES.map(([major, minor]) => ({ allow: true, type: 'c' as const, major, minor, access: 'rw' })),
  { allow: true, type: 'c', major: 136, access: 'rw' },
];

const NS_JOINABLE: Record<string, JoinableNamespace> = { pid: 'pid', network: 'net', mount: 'mount', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup' };

/**
 * The label-based LSMs enabled on this host, decided as runc and podman decide it: AppArmor when
 * /sys/module/apparmor/parameters/enabled reads "Y" and securityfs has /sys/kernel/security/apparmor;
 * SELinux when /sys/fs/selinux/enforce exists.
 */
export function hostLsm(): HostLsm {
  let aaEnabled = false;
  try {
    aaEnabled = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch { /* no AppArmor in this kernel */ }
  return { apparmor: aaEnabled && existsSync('/sys/kernel/security/apparmor'), selinux: existsSync('/sys/fs/selinux/enforce') };
}

function readSpec(bundle: string): { spec: OciSpec; configPath: string; mountLabel?: string } {
  const configPath = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new StockadeError('input', `cannot read the bundle's config.json: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, configPath);
  }
  const spec = parseOciSpec(text, configPath);
  // linux.mountLabel is not part of OciSpec (spec.ts); read here so that it is never dropped unseen.
  const label = (JSON.parse(text) as { linux?: { mountLabel?: unknown } }).linux?.mountLabel;
  if (label !== undefined && label !== null && typeof label !== 'string') throw new StockadeError('input', 'must be a string', `${configPath}: linux.mountLabel`);
  return label ? { spec, configPath, mountLabel: label } : { spec, configPath };
}

function fileSources(spec: OciSpec, bundle: string, configPath: string): Set<string> {
  const files = new Set<string>();
  spec.mounts.forEach((m, i) => {
    const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
    if (!bind) return;
    const src = m.source.startsWith('/') ? m.source : `${bundle}/${m.source}`;
    const st = statSync(src, { throwIfNoEntry: false });
    if (!st) throw new StockadeError('input', `bind source ${src} does not exist`, `${configPath}: mounts[${i}].source`);
    if (!st.isDirectory()) files.add(src);
  });
  spec.linux.devices.forEach((d, i) => {
    const st = statSync(d.path, { throwIfNoEntry: false });
    if (!st || !(st.isCharacterDevice() || st.isBlockDevice())) throw new StockadeError('unsupported', `device ${d.path} does not exist on this host (stockade-runtime binds host devices)`, `${configPath}: linux.devices[${i}]`);
  });
  return files;
}

function cgroupV2Only(): boolean {
  return !readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[2] === 'cgroup');
}

/** Waits for `kind` on the helper's status lines; rejects with the helper's error when it ends first. */
function waitFor(kind: 'created' | 'started', statuses: HelperStatus[], onStatus: { fn?: (s: HelperStatus) => void }, done: Promise<HelperRun>): Promise<Extract<HelperStatus, { kind: 'created' | 'started' }>> {
  return new Promise((res, rej) => {
    onStatus.fn = (s) => {
      if (s.kind === kind) res(s as Extract<HelperStatus, { kind: 'created' | 'started' }>);
    };
    done.then((r) => {
      const err = r.statuses.find((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error') ?? statuses.find((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error');
      rej(new StockadeError('unsupported', err ? `${err.step}: ${err.detail}` : `the container process ended during setup (status ${r.code ?? r.signal})`, 'container'));
    }, rej);
  });
}

export interface Prepared {
  dir: string;
  spec: OciSpec;
  plan: Plan;
  cgroup: CgroupLayout;
  bundle: string;
  undo(): void;
}

/**
 * Everything before the helper starts; on failure nothing is left behind. With `gate`, the plan
 * waits at <dir>/exec.fifo, which is made here unless `makeGate` is false (the planner's front
 * makes it: Node has no mkfifo of its own, and running mkfifo(1) costs a process).
 */
export async function prepare(g: GlobalOptions, o: CreateOptions, gate: boolean, makeGate = true): Promise<Prepared> {
  const bundle = resolve(o.bundle);
  const { spec, configPath, mountLabel } = readSpec(bundle);
  const rootfs = isAbsolute(spec.root.path) ? spec.root.path : join(bundle, spec.root.path);
  if (!statSync(rootfs, { throwIfNoEntry: false })?.isDirectory()) {
    throw new StockadeError('input', `the root file system ${rootfs} does not exist or is not a directory`, `${configPath}: root.path`);
  }
  const v2Only = cgroupV2Only();
  const base: PlanInput = { spec, source: configPath, rootfs, bundle, fileSources: fileSources(spec, bundle, configPath), cgroupProcsFiles: [], cgroupV2Only: v2Only, lsm: hostLsm(), container: { id: o.id, status: 'creating', bundle } };
  if (o.consoleSocket) base.consoleSocket = o.consoleSocket;
  if (mountLabel) base.mountLabel = mountLabel;
  planForCreate(base); // refuses what cannot be planned before anything is made
  const dir = claimId(g.root, o.id);
  let cgroup: CgroupLayout | undefined;
  const undo = () => {
    if (cgroup) removeContainerCgroup(cgroup);
    removeStateDir(dir);
  };
  try {
    const hardening = hardeningWanted(spec, configPath);
    const resources = spec.linux.resources ?? { devices: [], unsupported: [] };
    const DEFAULT_DEVICES = hardening ? HARDENED_DEFAULT_DEVICES : RUNC_DEFAULT_DEVICES;
    const devices = [{ allow: false, type: 'a' as const, access: 'rwm' }, ...resources.devices, ...DEFAULT_DEVICES];
    cgroup = createContainerCgroup(cgroupRelativePath(spec.linux.cgroupsPath, o.id, g.systemdCgroup), { ...resources, devices });
    const input: PlanInput = { ...base, cgroupProcsFiles: cgroup.dirs.map((d) => join(d, 'cgroup.procs')) };
    if (spec.linux.seccomp) input.seccomp = await compileContainerSeccomp(spec.linux.seccomp, spec.process?.capabilities?.bounding ?? []);
    if (hardening) input.hardening = { seccomp: await compileStockadeDefault(spec.process?.capabilities?.bounding ?? []) };
    if (gate) {
      input.gateFifo = join(dir, 'exec.fifo');
      if (makeGate) execFileSync('mkfifo', ['-m', '0600', input.gateFifo], { stdio: 'ignore' });
    }
    copyFileSync(configPath, join(dir, 'config.json'));
    return { dir, spec, plan: planForCreate(input), cgroup, bundle, undo };
  } catch (e) {
    undo();
    throw e;
  }
}

export function stateFor(p: Prepared, id: string, monitor: number, created: { pid: number; initPid: number }): ContainerState {
  return {
    ociVersion: p.spec.ociVersion,
    id,
    bundle: p.bundle,
    pid: monitor,
    pidStart: processStart(monitor),
    initPid: created.initPid,
    workloadPid: created.pid,
    workloadStart: processStart(created.pid),
    created: new Date().toISOString(),
    started: false,
    annotations: p.spec.annotations,
    cgroup: p.cgroup,
    namespaces: p.spec.linux.namespaces.map((n) => NS_JOINABLE[n.type]).filter((t): t is JoinableNamespace => t !== undefined),
  };
}

/**
 * What follows the helper's `created`: state.json, the fast file and the createRuntime, prestart and
 * createContainer hooks. `create` runs it, and so does the planner (src/oci-runtime/planner.ts) for
 * the native front, which spawned the helper itself.
 */
export async function finishCreate(p: Prepared, id: string, monitor: number, created: { pid: number; initPid: number }): Promise<ContainerState> {
  const state = stateFor(p, id, monitor, created);
  writeState(p.dir, state);
  // start and delete run without Node unless there are hooks for them to run
  writeFast(p.dir, state, p.spec.hooks.startContainer.length + p.spec.hooks.poststart.length + p.spec.hooks.poststop.length > 0);
  const hookState = { ociVersion: state.ociVersion, id, status: 'created', pid: state.pid, bundle: state.bundle, annotations: state.annotations };
  await runHooks(p.spec.hooks.createRuntime, 'createRuntime', hookState);
  await runHooks(p.spec.hooks.prestart, 'prestart', hookState);
  await runHooks(p.spec.hooks.createContainer, 'createContainer', hookState);
  return state;
}

/** The umask the helper starts with (process.user.umask), if the config sets one. */
export function umaskFor(p: Prepared): number | undefined {
  return p.spec.process?.user.umask;
}

/** SIGKILL to the helper's process group (its own session: the monitor, and the init with it). */
export function killHelperGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch { /* already gone */ }
}

export async function create(g: GlobalOptions, o: CreateOptions): Promise<number> {
  const p = await prepare(g, o, true);
  const hook: { fn?: (s: HelperStatus) => void } = {};
  let child: ReturnType<typeof spawnHelper>['child'] | undefined;
  try {
    const umask = umaskFor(p);
    if (umask !== undefined) process.umask(umask);
    const h = spawnHelper(p.plan, { stdio: [0, 1, 2], detached: true, onStatus: (s) => hook.fn?.(s) });
    child = h.child;
    const created = await waitFor('created', [], hook, h.done);
    const state = await finishCreate(p, o.id, child.pid!, created as { pid: number; initPid: number });
    if (o.pidFile) writeFileSync(o.pidFile, String(state.pid));
    child.unref();
    (child.stdio[4] as Readable | null)?.destroy();
    return 0;
  } catch (e) {
    killHelperGroup(child?.pid);
    p.undo();
    throw e;
  }
}

/** `run` without --detach: create, start at once, wait, delete. The exit status is the container's. */
export async function runAttached(g: GlobalOptions, o: CreateOptions): Promise<number> {
  const p = await prepare(g, o, false);
  try {
    if (p.spec.process?.user.umask !== undefined) process.umask(p.spec.process.user.umask);
    const hook: { fn?: (s: HelperStatus) => void } = {};
    const h = spawnHelper({ ...p.plan, detached: false }, { stdio: [0, 1, 2], onStatus: (s) => hook.fn?.(s) });
    const started = waitFor('started', [], hook, h.done).then(
      (s) => writeState(p.dir, { ...stateFor(p, o.id, h.child.pid!, { pid: s.pid, initPid: 0 }), started: true }),
      () => {},
    );
    const r = await h.done;
    await started;
    if (o.pidFile) writeFileSync(o.pidFile, String(h.child.pid));
    const err = r.statuses.find((s): s is Extract<HelperStatus, { kind: 'error' }> => s.kind === 'error');
    if (err) {
      // Set-up failed, or the program could not be executed (126, 127 as a shell reports them).
      process.stderr.write(`stockade-runtime: ${err.step}: ${err.detail}\n`);
      return r.code ?? 125;
    }
    await runHooks(p.spec.hooks.poststop, 'poststop', { ociVersion: p.spec.ociVersion, id: o.id, status: 'stopped', bundle: p.bundle, annotations: p.spec.annotations }).catch(() => {});
    return r.code ?? 128 + 9;
  } finally {
    p.undo();
  }
}
