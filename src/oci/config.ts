/**
 * Policy + facts -> an OCI runtime-spec config.json (runtime-spec 1.0.2) for runc or runsc (gVisor).
 * Pure: every file system fact (the host's top-level entries, the hidden paths expanded, the
 * current hard rlimits) arrives in `OciFacts`, gathered by src/backends/oci. The same policy and
 * facts always give the same bytes from `serializeConfig` (keys sorted, u64 values exact).
 *
 * What an OCI config cannot say is listed in `dropped` (best-effort) or refused (required):
 * Landlock has no place in runtime-spec 1.0.2, so a policy that requires it is refused.
 *
 * The seccomp profile it carries is rewritten for libseccomp-based runtimes and gVisor in
 * seccomp.ts (`ociSeccomp`).
 */
import { rootModeIdentity } from '../policy/identity.js';
import { PROC_MASKED, PROC_READ_ONLY } from '../policy/procfs.js';
import { StockadeError } from '../errors.js';
import type { Policy } from '../policy/types.js';

export const OCI_VERSION = '1.0.2';

/** procfs knobs made read-only and hidden: the same lists as the native backend. */
export const OCI_READONLY_PATHS: readonly string[] = PROC_READ_ONLY;
export const OCI_MASKED_PATHS: readonly string[] = PROC_MASKED;

const CPU_PERIOD_US = 100_000;

export type OciRuntime = 'runc' | 'runsc';

// ---------------------------------------------------------------------------------------------
// The runtime-spec subset stockade writes

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciSeccompArg {
  index: number;
  value: bigint;
  valueTwo?: bigint;
  op: string;
}

export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  flags?: string[];
  syscalls: OciSeccompSyscall[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; inheritable: string[]; permitted: string[]; ambient: string[] };
    rlimits: OciRlimit[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: string }>;
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    resources?: {
      memory?: { limit: number; swap: number };
      pids?: { limit: number };
      cpu?: { quota: number; period: number };
    };
    cgroupsPath?: string;
    seccomp?: OciSeccomp;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

// ---------------------------------------------------------------------------------------------
// Facts

export interface HostRootEntry {
  /** A name in the host's / (no slash). */
  name: string;
  kind: 'dir' | 'file' | 'symlink';
  /** The link target, for symlinks. */
  target?: string;
}

export type HardLimit = number | 'unlimited';

export interface OciFacts {
  runtime: OciRuntime;
  /** Real uid/gid of the stockade process. */
  uid: number;
  gid: number;
  /** Working directory inside the sandbox (absolute). */
  cwd: string;
  /** The program resolved inside the sandbox view. */
  program: string;
  env: string[];
  cwdOwner?: { uid: number; gid: number };
  /** Writable paths owned by root (as root, the unprivileged workload cannot write them here). */
  rootOwned?: readonly string[];
  /** Existing host paths to hide, patterns already expanded. */
  hide: ReadonlyArray<{ path: string; dir: boolean }>;
  /** Host paths that exist, of the ones the policy binds (read, write) and the working directory. */
  existing: readonly string[];
  /** The entries of the host's / (for `filesystem.root: host`). */
  hostRoot: readonly HostRootEntry[];
  /** This process's current hard limits: a hard limit is never set above them. */
  hardLimits: Partial<Record<'cpu' | 'nofile' | 'fsize' | 'core' | 'nproc' | 'as', HardLimit>>;
  terminal: boolean;
  /** Bundle files bound over hidden files and directories: empty, mode 0000. */
  hiddenFile: string;
  hiddenDir: string;
  /** Where the runtime puts the sandbox's cgroup (relative to the cgroup mounts). */
  cgroupsPath?: string;
  /** Whether cgroup limits can be set for this run, or why not. */
  cgroupLimits: true | string;
  /** The policy's seccomp profile, already rewritten (`ociSeccomp`); absent for `unconfined`. */
  seccomp?: OciSeccomp;
}

export interface RootfsPlan {
  /** Symlinks to create in the bundle's rootfs (the host's top-level links, e.g. bin -> usr/bin). */
  links: Array<{ name: string; target: string }>;
  /** Directories and files to create in the rootfs as mount points. */
  dirs: string[];
  files: string[];
  /** Mount points of private tmpfs (mode 1777: runc gives a tmpfs the mode of its mount point). */
  tmpfsDirs: string[];
}

export interface OciConfigResult {
  config: OciConfig;
  /** Layers the policy asked for that an OCI config cannot carry (best-effort runs only). */
  dropped: string[];
  /** Differences worth telling that weaken nothing (a lower limit, a path the workload cannot write). */
  notes: string[];
  rootfs: RootfsPlan;
}

// ---------------------------------------------------------------------------------------------
// The config

/** Host top-level entries never bound: the runtime provides them. */
const RUNTIME_PROVIDED = new Set(['proc', 'sys', 'dev']);

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

function writablePaths(policy: Policy, facts: OciFacts): string[] {
  const out = [...policy.filesystem.write];
  if (policy.filesystem.root === 'host' && facts.cwd !== '/' && !out.includes(facts.cwd)) out.push(facts.cwd);
  return out.filter((p) => facts.existing.includes(p));
}

/** Whether a bound path may be read-only recursively: runc 1.1 knows `rro`; gVisor's binds are whole. */
function roOptions(runtime: OciRuntime): string[] {
  return runtime === 'runc' ? ['rbind', 'rro', 'nosuid', 'nodev'] : ['rbind', 'ro', 'nosuid', 'nodev'];
}

function refuseOrDrop(policy: Policy, dropped: string[], layer: string, why: string, alsoBestEffort = false): void {
  if (policy.enforcement === 'best-effort' || alsoBestEffort) dropped.push(`${layer}: ${why}`);
  else throw new StockadeError('unsupported', `${why}; or set enforcement: best-effort to run without it`, layer);
}

export function ociConfig(policy: Policy, facts: OciFacts): OciConfigResult {
  if (policy.command.length === 0) throw new StockadeError('usage', 'no command to run; give one after --, or `command:` in the policy', 'command');
  const dropped: string[] = [];
  const notes: string[] = [];
  const asRoot = facts.uid === 0;
  const runtimeName = facts.runtime === 'runc' ? 'runc' : 'gVisor (runsc)';

  // Landlock: runtime-spec has no field for it, and neither runtime applies one.
  if (policy.landlock !== 'off') {
    const why = `Landlock cannot be expressed in an OCI runtime config (runtime-spec ${OCI_VERSION}); ${runtimeName} would run without it`;
    if (policy.landlock === 'best-effort' || policy.enforcement === 'best-effort') dropped.push(`landlock: ${why}`);
    else throw new StockadeError('unsupported', `${why}; set landlock: off or best-effort in the policy (or pass --best-effort), or use --isolation native`, 'landlock');
  }

  // Identity: as root the workload never runs as root (the owner of the working directory when
  // that is an ordinary user, else nobody); rootless, a user namespace maps it to the caller.
  // Rootless, the runtime's own init must be root in the new user namespace, and an unprivileged
  // caller can map one id only: the caller appears as uid 0 there, with no capabilities (outside,
  // and to every file, it is the caller). Another uid cannot be mapped without newuidmap.
  if (!asRoot && policy.user && (policy.user.uid !== 0 || policy.user.gid !== 0)) {
    throw new StockadeError('unsupported', `a rootless ${runtimeName} can map only the caller, as uid 0 of the sandbox; drop user: or run as root`, 'user');
  }
  const { uid, gid } = asRoot ? rootModeIdentity(policy, facts.cwdOwner) : { uid: policy.user?.uid ?? 0, gid: policy.user?.gid ?? 0 };

  // Mounts.
  const write = writablePaths(policy, facts);
  const tmpfs = policy.filesystem.tmpfs.filter((t) => !write.includes(t));
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  const rootfs: RootfsPlan = { links: [], dirs: ['proc', 'dev', 'sys'], files: [], tmpfsDirs: [] };
  let rootPath: string;
  if (policy.filesystem.root === 'host') {
    // The bundle's rootfs is an empty directory; each top-level entry of the host's / is bound
    // read-only on it (recursively read-only under runc), its symlinks copied as symlinks.
    rootPath = 'rootfs';
    const topTmpfs = new Set(tmpfs.filter((t) => /^\/[^/]+$/.test(t)).map((t) => t.slice(1)));
    for (const e of [...facts.hostRoot].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (RUNTIME_PROVIDED.has(e.name)) continue;
      if (e.kind === 'symlink') {
        rootfs.links.push({ name: e.name, target: e.target ?? '' });
        continue;
      }
      if (topTmpfs.has(e.name)) continue;
      // A hidden top-level entry (/root) is not bound at all: the hiding mount sits on its mount point.
      const hidden = facts.hide.some((h) => h.path === `/${e.name}`);
      if (e.kind === 'dir') rootfs.dirs.push(e.name);
      else rootfs.files.push(e.name);
      if (hidden) continue;
      mounts.push({ destination: `/${e.name}`, type: 'bind', source: `/${e.name}`, options: e.kind === 'dir' ? roOptions(facts.runtime) : ['bind', 'ro', 'nosuid', 'nodev'] });
    }
    rootfs.tmpfsDirs.push(...[...topTmpfs].sort());
  } else {
    rootPath = policy.filesystem.root;
    notes.push(`filesystem.root ${policy.filesystem.root}: the runtime creates missing mount points in it`);
  }
  const hostEntries = new Set(facts.hostRoot.map((e) => e.name));
  for (const t of tmpfs) {
    const top = t.split('/')[1] ?? '';
    if (policy.filesystem.root === 'host' && !/^\/[^/]+$/.test(t) && !hostEntries.has(top)) {
      notes.push(`filesystem.tmpfs ${t}: not under an existing top-level directory, left out`);
      continue;
    }
    mounts.push({ destination: t, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
  }
  const covered = (p: string) => [...tmpfs, ...facts.hide.map((h) => h.path)].some((d) => p === d || p.startsWith(`${d}/`));
  for (const p of policy.filesystem.read) {
    // Already visible read-only in the host view, unless a private tmpfs or a hidden path covers it.
    if (policy.filesystem.root === 'host' && !write.includes(p) && !covered(p)) continue;
    if (!facts.existing.includes(p)) continue;
    mounts.push({ destination: p, type: 'bind', source: p, options: roOptions(facts.runtime) });
  }
  for (const p of write) {
    mounts.push({ destination: p, type: 'bind', source: p, options: ['rbind', 'nosuid', 'nodev'] });
    if (asRoot && uid !== 0 && facts.rootOwned?.includes(p)) {
      notes.push(`filesystem.write ${p}: owned by root, so uid ${uid} cannot write it here (${runtimeName} has no idmapped mounts); chown it, or use --isolation native`);
    }
  }
  // Hidden paths: an empty mode-0000 file or directory bound read-only over each (maskedPaths
  // would leave a readable /dev/null under runc, and gVisor ignores maskedPaths altogether).
  for (const h of facts.hide) {
    if (write.some((w) => isUnder(w, h.path))) continue; // a grant inside: hiddenPaths split it already
    mounts.push({ destination: h.path, type: 'bind', source: h.dir ? facts.hiddenDir : facts.hiddenFile, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  }

  // Namespaces.
  const namespaces: Array<{ type: string }> = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }];
  if (policy.network !== 'host') namespaces.push({ type: 'network' });
  namespaces.push({ type: 'cgroup' });
  const linux: OciConfig['linux'] = { namespaces, maskedPaths: [...OCI_MASKED_PATHS], readonlyPaths: [...OCI_READONLY_PATHS] };
  if (!asRoot) {
    namespaces.push({ type: 'user' });
    linux.uidMappings = [{ containerID: 0, hostID: facts.uid, size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: facts.gid, size: 1 }];
  }

  // rlimits: never a hard limit above the current one (nothing here can raise one).
  const rlimits: OciRlimit[] = [];
  const rlimit = (res: 'cpu' | 'nofile' | 'fsize' | 'core' | 'nproc' | 'as', type: string, want: number) => {
    const cur = facts.hardLimits[res];
    let v = want;
    if (cur !== undefined && cur !== 'unlimited' && want > cur) {
      v = cur;
      notes.push(`${type} ${want} is above this process's hard limit ${cur}; set to ${cur}`);
    }
    rlimits.push({ type, hard: v, soft: v });
  };
  const lim = policy.limits;
  if (lim.cpuTimeSec !== undefined) rlimit('cpu', 'RLIMIT_CPU', lim.cpuTimeSec);
  if (lim.openFiles !== undefined) rlimit('nofile', 'RLIMIT_NOFILE', lim.openFiles);
  if (lim.fileSize !== undefined) rlimit('fsize', 'RLIMIT_FSIZE', lim.fileSize);
  rlimit('core', 'RLIMIT_CORE', 0); // a crashing workload must not write its memory outside

  // cgroup limits, or per-process rlimits standing in for them (best-effort).
  const wantsCgroup = lim.memory !== undefined || lim.pids !== undefined || lim.cpu !== undefined;
  if (wantsCgroup) {
    if (facts.cgroupLimits === true) {
      const resources: NonNullable<OciConfig['linux']['resources']> = {};
      if (lim.memory !== undefined) resources.memory = { limit: lim.memory, swap: lim.memory };
      if (lim.pids !== undefined) resources.pids = { limit: lim.pids };
      if (lim.cpu !== undefined) resources.cpu = { quota: Math.max(1000, Math.round(lim.cpu * CPU_PERIOD_US)), period: CPU_PERIOD_US };
      linux.resources = resources;
      if (facts.runtime === 'runsc') notes.push('limits: under gVisor the cgroup holds the whole sandbox (its kernel and file proxy too), not the workload alone');
    } else {
      const subs: string[] = [];
      if (lim.pids !== undefined) subs.push('pids via RLIMIT_NPROC');
      if (lim.memory !== undefined) subs.push('memory via RLIMIT_AS');
      if (lim.cpu !== undefined) subs.push('cpu share not enforced');
      refuseOrDrop(policy, dropped, 'cgroup', `${facts.cgroupLimits}${subs.length ? `; instead: ${subs.join('; ')}` : ''}`);
      if (lim.pids !== undefined) rlimit('nproc', 'RLIMIT_NPROC', lim.pids);
      if (lim.memory !== undefined) rlimit('as', 'RLIMIT_AS', lim.memory);
    }
  }
  if (facts.cgroupsPath !== undefined) linux.cgroupsPath = facts.cgroupsPath;
  if (facts.seccomp) linux.seccomp = facts.seccomp;

  const caps = [...policy.capabilities].sort();
  const config: OciConfig = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: facts.terminal,
      user: { uid, gid, additionalGids: [] },
      args: [facts.program, ...policy.command.slice(1)],
      env: [...facts.env],
      cwd: facts.cwd,
      capabilities: { bounding: caps, effective: [...caps], inheritable: [...caps], permitted: [...caps], ambient: [...caps] },
      rlimits,
      noNewPrivileges: true,
    },
    root: { path: rootPath, readonly: true },
    mounts,
    linux,
  };
  config.hostname = policy.hostname;
  return { config, dropped, notes, rootfs };
}

/**
 * JSON with object keys sorted at every level and bigints written as exact integers: the same
 * value always gives the same bytes.
 */
export function serializeConfig(value: unknown): string {
  const out: string[] = [];
  const write = (v: unknown, indent: string): void => {
    if (v === null || v === undefined) out.push('null');
    else if (typeof v === 'bigint') out.push(v.toString());
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new StockadeError('internal', `non-finite number ${v} in an OCI config`);
      out.push(JSON.stringify(v));
    } else if (typeof v === 'string' || typeof v === 'boolean') out.push(JSON.stringify(v));
    else if (Array.isArray(v)) {
      if (v.length === 0) {
        out.push('[]');
        return;
      }
      const inner = `${indent}  `;
      out.push('[\n');
      v.forEach((x, i) => {
        out.push(inner);
        write(x, inner);
        out.push(i < v.length - 1 ? ',\n' : '\n');
      });
      out.push(`${indent}]`);
    } else if (typeof v === 'object') {
      const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
      if (keys.length === 0) {
        out.push('{}');
        return;
      }
      const inner = `${indent}  `;
      out.push('{\n');
      keys.forEach((k, i) => {
        out.push(`${inner}${JSON.stringify(k)}: `);
        write((v as Record<string, unknown>)[k], inner);
        out.push(i < keys.length - 1 ? ',\n' : '\n');
      });
      out.push(`${indent}}`);
    } else throw new StockadeError('internal', `cannot serialize a ${typeof v} in an OCI config`);
  };
  write(value, '');
  return `${out.join('')}\n`;
}

export { ociSeccomp, resolvedForPolicy, libseccompAmbiguities, type SeccompTarget, type OciSeccompResult } from './seccomp.js';
