/**
 * An OCI config (spec.ts) as a native helper plan (src/helper/plan.ts). Pure: what needs the host
 * (which bind sources are files, the cgroup files, the compiled seccomp program) comes in `PlanInput`.
 * Everything the config asks for is either planned or refused with the JSON path that asked for it.
 */
import { StockadeError } from '../errors.js';
import { CAPABILITIES, RLIMITS, type JoinableNamespace, type Namespaces, type Plan, type PlanOp, type RlimitName } from '../helper/plan.js';
import { MS, parseMountOptions } from './mount-options.js';
import type { OciProcess, OciSpec } from './spec.js';

export interface PlanInput {
  spec: OciSpec;
  /** config.json's path, for messages. */
  source: string;
  /** root.path made absolute (relative to the bundle). */
  rootfs: string;
  /** The bundle directory: relative bind sources are relative to it. */
  bundle: string;
  /** Bind sources (absolute) that are not directories: their targets are created as files. */
  fileSources: ReadonlySet<string>;
  cgroupProcsFiles: string[];
  seccomp?: { program: Buffer; flags: number };
  /**
   * stockade's own layer on top of the config (unless the annotation HARDENING_ANNOTATION is "off"):
   * no_new_privs always, and stockade:default's seccomp filter stacked on the config's, so each
   * call must pass both.
   */
  hardening?: { seccomp: Buffer };
  /** create: the FIFO `start` writes to. */
  gateFifo?: string;
  /** The container, for the state a seccomp listener gets (linux.seccomp.listenerPath). */
  container?: ListenerContainer;
  /** exec: the seccomp listener op (seccompListenerOp), when the config's profile notifies. */
  listener?: SeccompListenerOp;
  consoleSocket?: string;
  /** The host mounts only cgroup v2 (a `cgroup` mount is cgroup2 there; elsewhere a read-only tmpfs). */
  cgroupV2Only: boolean;
  /** The LSMs enabled on the host (create.ts hostLsm): a label is applied only where its LSM is. */
  lsm: HostLsm;
  /** linux.mountLabel (read from config.json by create.ts). */
  mountLabel?: string;
}

/** Which label-based LSMs the host has enabled, as runc and podman decide it (create.ts hostLsm). */
export interface HostLsm {
  /** /sys/module/apparmor/parameters/enabled reads "Y" and /sys/kernel/security/apparmor exists. */
  apparmor: boolean;
  /** /sys/fs/selinux/enforce exists. */
  selinux: boolean;
}

export const APPARMOR_MISSING = 'AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not "Y", or /sys/kernel/security/apparmor is missing)';
export const SELINUX_MISSING = 'SELinux is not enabled on this host (no /sys/fs/selinux/enforce)';
/** The AppArmor profile that is no profile: fine on a host without AppArmor (nothing to apply). */
export const APPARMOR_UNCONFINED = 'unconfined';
/** The helper's limit on a label (docs/protocol.md, execLabel). */
const LABEL_MAX_BYTES = 4095;

const OCI_TO_PLAN_NS: Record<string, keyof Namespaces> = { pid: 'pid', network: 'net', mount: 'mount', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup' };
const JOIN_NS: Record<string, JoinableNamespace> = { pid: 'pid', network: 'net', mount: 'mount', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup' };
/** /proc/PID/ns names of the namespaces `exec` joins. */
export const PROC_NS_NAMES: Record<JoinableNamespace, string> = { pid: 'pid', net: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', cgroup: 'cgroup' };

/** The annotation that turns stockade's own layer off for one container ("off"; default "on"). */
export const HARDENING_ANNOTATION = 'org.stockade.hardening';

export function hardeningWanted(spec: OciSpec, source: string): boolean {
  const v = spec.annotations[HARDENING_ANNOTATION];
  if (v === undefined || v === 'on') return true;
  if (v === 'off') return false;
  throw new StockadeError('input', `"${v}" must be "on" or "off"`, `${source}: annotations.${HARDENING_ANNOTATION}`);
}

function refuse(source: string, path: string, msg: string): never {
  throw new StockadeError('unsupported', msg, `${source}: ${path}`);
}

/** SECCOMP_FILTER_FLAG_NEW_LISTENER: the filter's load returns a notify fd. */
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;

/**
 * Syscalls SCMP_ACT_NOTIFY may not name: between loading the filter and handing its notify fd to the
 * monitor, the helper's workload calls sendmsg and nothing else (native/helper/seccomp.c; libc may
 * make it a socketcall); notified, it would wait forever for a listener only it holds.
 */
export const NOTIFY_REFUSED_SYSCALLS: readonly string[] = ['sendmsg', 'socketcall'];

export interface ListenerContainer { id: string; status: 'creating' | 'running'; bundle: string }
export type SeccompListenerOp = Extract<PlanOp, { op: 'seccompListener' }>;

/**
 * linux.seccomp's listener: the seccompListener op when a rule is SCMP_ACT_NOTIFY (undefined when
 * none is). The listener gets the OCI state of `container` (the helper adds the pid). Refuses a
 * NOTIFY default action, NOTIFY on NOTIFY_REFUSED_SYSCALLS, and NOTIFY without listenerPath.
 */
export function seccompListenerOp(spec: OciSpec, source: string, container: ListenerContainer | undefined): SeccompListenerOp | undefined {
  const sc = spec.linux.seccomp;
  if (!sc) return undefined;
  if (sc.defaultAction === 'USER_NOTIF') {
    refuse(source, 'linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY cannot be the default action (it would notify the hand-over of the listener\'s own fd); notify named syscalls instead');
  }
  const notify = sc.syscalls.filter((e) => e.action === 'USER_NOTIF');
  for (const e of notify) {
    const bad = e.names.find((n) => NOTIFY_REFUSED_SYSCALLS.includes(n));
    if (bad) refuse(source, `linux.seccomp.${e.path}`, `SCMP_ACT_NOTIFY on ${bad} is refused: the container process hands its notify fd over with sendmsg (socketcall on some libcs), which must not wait for that same listener`);
  }
  if (notify.length === 0) return undefined;
  const path = sc.listenerPath;
  if (!path) throw new StockadeError('input', 'SCMP_ACT_NOTIFY needs a listener: set it to the unix socket of a seccomp agent', `${source}: linux.seccomp.listenerPath`);
  if (!path.startsWith('/')) throw new StockadeError('input', `"${path}" must be an absolute path`, `${source}: linux.seccomp.listenerPath`);
  if (!container) throw new StockadeError('internal', 'the container is needed for the state a seccomp listener gets', `${source}: linux.seccomp.listenerPath`);
  const state = { ociVersion: spec.ociVersion, id: container.id, status: container.status, bundle: container.bundle, annotations: spec.annotations };
  return { op: 'seccompListener', path, metadata: sc.listenerMetadata ?? '', state: JSON.stringify(state) };
}

export function capabilityMask(names: readonly string[], source: string, path: string): bigint {
  let mask = 0n;
  names.forEach((name, i) => {
    const n = (CAPABILITIES as Readonly<Record<string, number>>)[name];
    if (n === undefined) refuse(source, `${path}[${i}]`, `capability ${name} is not known to this kernel's headers`);
    mask |= 1n << BigInt(n);
  });
  return mask;
}

function rlimitName(type: string, source: string, path: string): RlimitName {
  const name = type.slice('RLIMIT_'.length).toLowerCase();
  if (!(name in RLIMITS)) throw new StockadeError('input', `unknown rlimit ${type}`, `${source}: ${path}`);
  return name as RlimitName;
}

function checkedLabel(label: string, source: string, path: string): string {
  if (Buffer.byteLength(label, 'utf8') > LABEL_MAX_BYTES) throw new StockadeError('input', `is longer than ${LABEL_MAX_BYTES} bytes`, `${source}: ${path}`);
  if (/[\x00-\x1f\x7f]/.test(label)) throw new StockadeError('input', 'contains a control character', `${source}: ${path}`);
  return label;
}

/**
 * process.apparmorProfile and process.selinuxLabel as execLabel ops, or refused when the host lacks
 * the LSM (an AppArmor profile of "unconfined" asks for nothing there and is skipped).
 */
export function labelOps(proc: OciProcess, lsm: HostLsm, source: string, where = 'process'): PlanOp[] {
  const ops: PlanOp[] = [];
  const aa = proc.apparmorProfile;
  if (aa) {
    const path = `${where}.apparmorProfile`;
    if (lsm.apparmor) ops.push({ op: 'execLabel', lsm: 'apparmor', label: checkedLabel(aa, source, path) });
    else if (aa !== APPARMOR_UNCONFINED) refuse(source, path, `${APPARMOR_MISSING}: profile "${aa}" cannot be applied; remove it, or run on a host with AppArmor`);
  }
  const se = proc.selinuxLabel;
  if (se) {
    const path = `${where}.selinuxLabel`;
    if (!lsm.selinux) refuse(source, path, `${SELINUX_MISSING}: label "${se}" cannot be applied; remove it, or run on a host with SELinux`);
    ops.push({ op: 'execLabel', lsm: 'selinux', label: checkedLabel(se, source, path) });
  }
  return ops;
}

/** The ops from the identity on: rlimits, cgroup, user, capabilities, setsid, LSM labels, no_new_privs, seccomp, exec. */
export function processOps(proc: OciProcess, input: Pick<PlanInput, 'cgroupProcsFiles' | 'seccomp' | 'source' | 'hardening' | 'listener' | 'lsm'>, where = 'process'): PlanOp[] {
  const { source } = input;
  const ops: PlanOp[] = [];
  proc.rlimits.forEach((l, i) => {
    ops.push({ op: 'rlimit', resource: rlimitName(l.type, source, `${where}.rlimits[${i}].type`), soft: l.soft, hard: l.hard });
  });
  if (input.cgroupProcsFiles.length > 0) ops.push({ op: 'cgroup', procsFiles: input.cgroupProcsFiles });
  ops.push({ op: 'user', uid: proc.user.uid, gid: proc.user.gid, groups: proc.user.additionalGids });
  const c = proc.capabilities ?? { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  const p = `${where}.capabilities`;
  ops.push({
    op: 'capabilitySets',
    bounding: capabilityMask(c.bounding, source, `${p}.bounding`),
    effective: capabilityMask(c.effective, source, `${p}.effective`),
    permitted: capabilityMask(c.permitted, source, `${p}.permitted`),
    inheritable: capabilityMask(c.inheritable, source, `${p}.inheritable`),
    ambient: capabilityMask(c.ambient, source, `${p}.ambient`),
  });
  ops.push({ op: 'setsid', terminal: proc.terminal });
  // Before no_new_privs, as runc: a transition set up under no_new_privs is restricted.
  ops.push(...labelOps(proc, input.lsm, source, where));
  if (proc.noNewPrivileges || input.hardening) ops.push({ op: 'noNewPrivs' });
  if (input.seccomp) {
    const flags = input.seccomp.flags | (input.listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    ops.push({ op: 'seccomp', program: input.seccomp.program, flags, log: false });
  }
  if (input.hardening) ops.push({ op: 'seccomp', program: input.hardening.seccomp, flags: 0, log: false });
  ops.push({ op: 'exec', path: proc.args[0]!, argv: proc.args, env: proc.env, cwd: proc.cwd });
  return ops;
}

function mountOps(input: PlanInput): PlanOp[] {
  const { spec, source } = input;
  const ops: PlanOp[] = [];
  spec.mounts.forEach((m, i) => {
    const where = `mounts[${i}]`;
    const o = parseMountOptions(m.options);
    if (o.unsupported.length > 0) refuse(source, `${where}.options`, `option ${o.unsupported.join(', ')} is not supported by stockade-runtime`);
    if (o.bind || m.type === 'bind') {
      const src = m.source.startsWith('/') ? m.source : `${input.bundle}/${m.source}`;
      ops.push({
        op: 'mount', source: src, target: m.destination, fstype: '', flags: o.flags | MS.BIND, propagation: o.propagation, data: '',
        kind: input.fileSources.has(src) ? 'file' : 'dir',
      });
      return;
    }
    if (m.destination === '/dev' && m.type === 'tmpfs') {
      // The helper's /dev: a tmpfs with the harmless host devices bound in, its own devpts, /dev/shm
      // and the fd links: what the spec's default devices list asks for.
      ops.push({ op: 'dev', target: '/dev' });
      return;
    }
    if (m.type === '') refuse(source, `${where}.type`, 'a mount that is not a bind mount needs a file system type');
    if (m.type === 'cgroup' || m.type === 'cgroup2') {
      if (input.cgroupV2Only) {
        ops.push({ op: 'mount', source: 'cgroup2', target: m.destination, fstype: 'cgroup2', flags: o.flags, propagation: o.propagation, data: '', kind: 'dir' });
      } else {
        // On v1 and hybrid hosts the controllers are separate hierarchies the container cannot be
        // given safely one by one here: it sees an empty read-only directory (docs/oci-runtime.md).
        ops.push({ op: 'mount', source: 'tmpfs', target: m.destination, fstype: 'tmpfs', flags: o.flags | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, propagation: o.propagation, data: 'mode=755,size=4k', kind: 'dir' });
      }
      return;
    }
    ops.push({ op: 'mount', source: m.source || m.type, target: m.destination, fstype: m.type, flags: o.flags, propagation: o.propagation, data: o.data, kind: 'dir' });
  });
  spec.linux.devices.forEach((d, i) => {
    if (d.type !== 'c' && d.type !== 'b' && d.type !== 'u') refuse(source, `linux.devices[${i}].type`, `device type "${d.type}" is not supported (only character and block devices)`);
    ops.push({ op: 'mount', source: d.path, target: d.path, fstype: '', flags: MS.BIND | MS.NOSUID | MS.NOEXEC, propagation: 0n, data: '', kind: 'file' });
  });
  for (const [key, value] of Object.entries(spec.linux.sysctl)) ops.push({ op: 'sysctl', key, value });
  for (const p of spec.linux.maskedPaths) ops.push({ op: 'hide', target: p });
  for (const p of spec.linux.readonlyPaths) ops.push({ op: 'readOnly', target: p });
  return ops;
}

function refuseUnsupported(input: PlanInput): void {
  const { spec, source } = input;
  if (input.mountLabel) {
    // runc passes it as context= to the tmpfs and devpts mounts and labels the mqueue mount; the
    // helper's /dev and mqueue cannot carry it yet, and a label is never dropped where SELinux is.
    refuse(source, 'linux.mountLabel', input.lsm.selinux
      ? 'stockade-runtime does not label mounts (context=) yet; run podman with --security-opt label=disable, or use runc'
      : `${SELINUX_MISSING}: mount label "${input.mountLabel}" cannot be applied; remove it`);
  }
  if (spec.domainname) refuse(source, 'domainname', 'setting a NIS domain name is not supported by stockade-runtime');
  if (spec.linux.unsupported.length > 0) refuse(source, spec.linux.unsupported[0]!, 'is not supported by stockade-runtime');
  const res = spec.linux.resources;
  if (res && res.unsupported.length > 0) refuse(source, res.unsupported[0]!, 'is not enforced by stockade-runtime; remove it, or run with runc');
  const prop = spec.linux.rootfsPropagation;
  if (prop && !['private', 'rprivate', 'slave', 'rslave'].includes(prop)) {
    refuse(source, 'linux.rootfsPropagation', `"${prop}" is not supported (the container's mounts are always private or slave)`);
  }
}

/** The plan of `create` (and `run`): the container's init process. */
export function planForCreate(input: PlanInput): Plan {
  const { spec, source } = input;
  const proc = spec.process;
  if (!proc) throw new StockadeError('input', 'is required to create a container', `${source}: process`);
  refuseUnsupported(input);
  // Checked before anything is made; handed over only with the compiled filter it listens to.
  const listener = seccompListenerOp(spec, source, input.container);
  const withListener = input.seccomp ? listener : undefined;
  const ops: PlanOp[] = [];
  if (input.gateFifo) ops.push({ op: 'startGate', fifo: input.gateFifo });
  if (proc.terminal && input.consoleSocket) ops.push({ op: 'consoleSocket', path: input.consoleSocket });
  if (proc.oomScoreAdj !== undefined) ops.push({ op: 'oomScoreAdj', value: proc.oomScoreAdj });
  if (withListener) ops.push(withListener);
  const ns: Namespaces = { user: false, pid: false, mount: false, net: false, uts: false, ipc: false, cgroup: false };
  const joins: PlanOp[] = [];
  spec.linux.namespaces.forEach((n, i) => {
    const where = `linux.namespaces[${i}]`;
    if (n.type === 'time') refuse(source, where, 'time namespaces are not supported by stockade-runtime');
    if (n.path === undefined) {
      ns[OCI_TO_PLAN_NS[n.type]!] = true;
      return;
    }
    const join = JOIN_NS[n.type];
    if (!join) refuse(source, `${where}.path`, `joining an existing ${n.type} namespace is not supported by stockade-runtime`);
    if (join === 'mount') refuse(source, `${where}.path`, 'a container needs a mount namespace of its own');
    joins.push({ op: 'joinNamespace', type: join, path: n.path });
  });
  if (!ns.mount) refuse(source, 'linux.namespaces', 'a container needs a mount namespace of its own; add {"type": "mount"}');
  ops.push({ op: 'namespaces', ns }, ...joins);
  if (ns.user) {
    const { uidMappings: u, gidMappings: g } = spec.linux;
    if (u.length !== 1 || g.length !== 1) refuse(source, 'linux.uidMappings', 'a user namespace needs exactly one uid and one gid mapping range here');
    ops.push({ op: 'idmap', uidInside: u[0]!.containerID, uidOutside: u[0]!.hostID, uidCount: u[0]!.size, gidInside: g[0]!.containerID, gidOutside: g[0]!.hostID, gidCount: g[0]!.size });
  } else if (spec.linux.uidMappings.length > 0 || spec.linux.gidMappings.length > 0) {
    throw new StockadeError('input', 'id mappings need a user namespace in linux.namespaces', `${source}: linux.uidMappings`);
  }
  ops.push({ op: 'rootfs', source: input.rootfs, readOnly: spec.root.readonly });
  ops.push(...mountOps(input));
  ops.push({ op: 'pivotRoot' });
  if (spec.hostname !== undefined) {
    if (!ns.uts) refuse(source, 'hostname', 'setting the hostname needs a new uts namespace in linux.namespaces');
    ops.push({ op: 'hostname', name: spec.hostname });
  }
  ops.push(...processOps(proc, { ...input, listener: withListener }));
  return { version: 1, ops, wallTimeoutMs: 0, detached: true, workloadIsInit: true };
}

/** The plan of `exec`: a process entering the namespaces of the container whose init is `initPid`. */
export function planForExec(
  proc: OciProcess,
  container: { initPid: number; namespaces: JoinableNamespace[] },
  input: Pick<PlanInput, 'cgroupProcsFiles' | 'seccomp' | 'source' | 'consoleSocket' | 'hardening' | 'listener' | 'lsm'>,
  detached: boolean,
): Plan {
  const ops: PlanOp[] = [];
  if (proc.terminal && input.consoleSocket) ops.push({ op: 'consoleSocket', path: input.consoleSocket });
  if (proc.oomScoreAdj !== undefined) ops.push({ op: 'oomScoreAdj', value: proc.oomScoreAdj });
  const listener = input.seccomp ? input.listener : undefined;
  if (listener) ops.push(listener);
  // The order of joins matters: the mount namespace last, so the others are opened from the host's view.
  const order: JoinableNamespace[] = ['cgroup', 'ipc', 'uts', 'net', 'pid', 'mount'];
  for (const type of order) {
    if (container.namespaces.includes(type)) ops.push({ op: 'joinNamespace', type, path: `/proc/${container.initPid}/ns/${PROC_NS_NAMES[type]}` });
  }
  ops.push(...processOps(proc, { ...input, listener }, 'process'));
  return { version: 1, ops, wallTimeoutMs: 0, detached, workloadIsInit: true };
}
