/**
 * Policy + facts -> an OCI runtime-spec config.json (runtime-spec 1.0.2) for runc or runsc (gVisor).
 * Pure: every file system fact (the host's top-level entries, the hidden paths expanded, the
 * current hard rlimits) arrives in `OciFacts`, gathered by src/backends/oci. The same policy and
 * facts always give the same bytes from `serializeConfig` (keys sorted, u64 values exact).
 *
 * What an OCI config cannot say is listed in `dropped` (best-effort) or refused (required):
 * Landlock has no place in runtime-spec 1.0.2, so a policy that requires it is refused.
 *
 * The seccomp profile is rewritten for libseccomp-based runtimes (`ociSeccomp`): runc hands
 * libseccomp one rule per entry, skips every rule whose action equals the default action, lets an
 * argument-free rule wipe out the argument rules of the same syscall, and turns two conditions on
 * one argument into two ORed rules. stockade's meaning (the most specific rule wins) survives that
 * only when, per syscall, the emitted rules never overlap with different actions; the rewrite
 * makes it so by cutting each rule's argument space into disjoint masked-equality cubes.
 */
import { rootModeIdentity } from '../policy/identity.js';
import { PROC_MASKED, PROC_READ_ONLY } from '../policy/procfs.js';
import { StockadeError } from '../errors.js';
import { actionKind, ociActionName, RET } from '../seccomp/actions.js';
import type { Arch } from '../seccomp/arch.js';
import type { SeccompProfile } from '../seccomp/profile.js';
import { resolveProfile } from '../seccomp/resolve.js';
import { sortBySpecificity, U64, type Cond, type Rule, type SeccompFilter } from '../seccomp/rules.js';
import type { Policy, SyscallPolicy } from '../policy/types.js';

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
  for (const p of policy.filesystem.read) {
    if (policy.filesystem.root === 'host' && !write.includes(p)) continue; // already visible read-only
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

// ---------------------------------------------------------------------------------------------
// seccomp for libseccomp-based runtimes

/** A ternary cube over one 64-bit argument: the values x with (x & mask) == value. */
interface Cube {
  mask: bigint;
  value: bigint;
}
/** A product of cubes over the six arguments. */
type HCube = Cube[];

const ANY: Cube = { mask: 0n, value: 0n };
const anyH = (): HCube => [ANY, ANY, ANY, ANY, ANY, ANY];

function cubeMeet(a: Cube, b: Cube): Cube | undefined {
  if (((a.value ^ b.value) & a.mask & b.mask) !== 0n) return undefined;
  return { mask: a.mask | b.mask, value: a.value | b.value };
}

/** a minus b as disjoint cubes (at most one per bit b fixes and a leaves free), high bits first. */
function cubeMinus(a: Cube, b: Cube): Cube[] {
  if (!cubeMeet(a, b)) return [a];
  const out: Cube[] = [];
  let cur = a;
  for (let bit = 63n; bit >= 0n; bit--) {
    const m = 1n << bit;
    if ((b.mask & m) === 0n || (a.mask & m) !== 0n) continue;
    out.push({ mask: cur.mask | m, value: cur.value | ((b.value & m) ^ m) });
    cur = { mask: cur.mask | m, value: cur.value | (b.value & m) };
  }
  return out;
}

function minusAll(list: Cube[], sub: readonly Cube[]): Cube[] {
  let cur = list;
  for (const s of sub) cur = cur.flatMap((c) => cubeMinus(c, s));
  return cur;
}

/** Values below v as disjoint prefix cubes. */
function below(v: bigint): Cube[] {
  const out: Cube[] = [];
  for (let bit = 63n; bit >= 0n; bit--) {
    const m = 1n << bit;
    if ((v & m) === 0n) continue;
    const mask = U64 & ~(m - 1n);
    out.push({ mask, value: (v & mask) ^ m });
  }
  return out;
}

/** The values of one argument a condition admits, as disjoint cubes. */
function condCubes(c: Cond): Cube[] {
  const point = (v: bigint): Cube => ({ mask: U64, value: v });
  switch (c.op) {
    case 'EQ': return [point(c.value)];
    case 'NE': return minusAll([ANY], [point(c.value)]);
    case 'MASKED_EQ': return (c.value & ~c.mask) !== 0n ? [] : [{ mask: c.mask, value: c.value }];
    case 'LT': return below(c.value);
    case 'LE': return c.value === U64 ? [ANY] : below(c.value + 1n);
    case 'GT': return c.value === U64 ? [] : minusAll([ANY], below(c.value + 1n));
    case 'GE': return minusAll([ANY], below(c.value));
  }
}

/** Most cubes one syscall may turn into before the rewrite gives up (4096 BPF instructions bound it anyway). */
const MAX_CUBES = 2048;

/** The argument tuples a rule matches, as disjoint products of cubes. */
function ruleCubes(r: Rule): HCube[] {
  const perArg: Cube[][] = [[ANY], [ANY], [ANY], [ANY], [ANY], [ANY]];
  for (const c of r.conds) {
    const mine = condCubes(c);
    perArg[c.index] = perArg[c.index]!.flatMap((a) => mine.map((b) => cubeMeet(a, b)).filter((x): x is Cube => x !== undefined));
  }
  let out: HCube[] = [anyH()];
  for (let i = 0; i < 6; i++) {
    const list = perArg[i]!;
    if (list.length === 1 && list[0] === ANY) continue;
    out = out.flatMap((h) => list.map((c) => h.map((x, j) => (j === i ? c : x))));
    if (out.length > MAX_CUBES) {
      throw new StockadeError('unsupported', `the argument conditions of ${r.name} expand to more than ${MAX_CUBES} disjoint rules; simplify them for a libseccomp-based runtime`, r.source);
    }
  }
  return out;
}

function hMeet(h: HCube, g: HCube): HCube | undefined {
  const out: Cube[] = [];
  for (let i = 0; i < 6; i++) {
    const m = cubeMeet(h[i]!, g[i]!);
    if (!m) return undefined;
    out.push(m);
  }
  return out;
}

function hMinus(h: HCube, g: HCube): HCube[] {
  const meet = hMeet(h, g);
  if (!meet) return [h];
  const out: HCube[] = [];
  for (let i = 0; i < 6; i++) {
    for (const p of cubeMinus(h[i]!, g[i]!)) out.push(h.map((x, j) => (j < i ? meet[j]! : j === i ? p : x)));
  }
  return out;
}

function ruleOverlaps(a: HCube[], b: HCube[]): boolean {
  return a.some((x) => b.some((y) => hMeet(x, y) !== undefined));
}

/** An emitted rule: an action and the OCI arguments (ANDed), for one group of syscall names. */
interface Piece {
  action: number;
  args: OciSeccompArg[];
}

function condArg(c: Cond): OciSeccompArg {
  if (c.op === 'MASKED_EQ') return { index: c.index, value: c.mask, valueTwo: c.value, op: 'SCMP_CMP_MASKED_EQ' };
  return { index: c.index, value: c.value, op: `SCMP_CMP_${c.op}` };
}

function cubeArgs(h: HCube): OciSeccompArg[] {
  const out: OciSeccompArg[] = [];
  h.forEach((c, index) => {
    if (c.mask === 0n) return;
    if (c.mask === U64) out.push({ index, value: c.value, op: 'SCMP_CMP_EQ' });
    else out.push({ index, value: c.mask, valueTwo: c.value, op: 'SCMP_CMP_MASKED_EQ' });
  });
  return out;
}

/**
 * The rules of one syscall for libseccomp: where the rules as written are already unambiguous
 * (every two that overlap agree, at most one condition per argument) they are kept, less those
 * returning the default action; otherwise each rule's region (what it matches and no more specific
 * rule does) is cut into disjoint cubes, and the regions not returning the default are emitted.
 */
function syscallPieces(rules: readonly Rule[], defaultAction: number): Piece[] {
  const sorted = sortBySpecificity(rules);
  const cubes = sorted.map(ruleCubes);
  const onePerArg = sorted.every((r) => new Set(r.conds.map((c) => c.index)).size === r.conds.length);
  // libseccomp 2.5.4 mis-merges a range comparison (NE, LT, LE, GT, GE) with another rule of the
  // same syscall: such syscalls are always rewritten into masked equalities.
  const ranges = sorted.length > 1 && sorted.some((r) => r.conds.some((c) => c.op !== 'EQ' && c.op !== 'MASKED_EQ'));
  let agree = onePerArg && !ranges;
  for (let i = 0; agree && i < sorted.length; i++) {
    for (let j = i + 1; agree && j < sorted.length; j++) {
      if (sorted[i]!.action !== sorted[j]!.action && ruleOverlaps(cubes[i]!, cubes[j]!)) agree = false;
    }
  }
  if (agree) {
    return sorted.filter((r) => r.action !== defaultAction).map((r) => ({ action: r.action, args: r.conds.map(condArg) }));
  }
  const out: Piece[] = [];
  const taken: HCube[] = [];
  let total = 0;
  sorted.forEach((r, i) => {
    let region = cubes[i]!;
    for (const t of taken) region = region.flatMap((h) => hMinus(h, t));
    taken.push(...cubes[i]!);
    total += region.length;
    if (total > MAX_CUBES) {
      throw new StockadeError('unsupported', `the rules of ${r.name} expand to more than ${MAX_CUBES} disjoint rules; simplify them for a libseccomp-based runtime`, r.source);
    }
    if (r.action !== defaultAction) for (const h of region) out.push({ action: r.action, args: cubeArgs(h) });
  });
  return out;
}

const OCI_ARCH: Readonly<Record<Arch, string>> = { x86_64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32', aarch64: 'SCMP_ARCH_AARCH64' };

function ociAction(value: number): { action: string; errnoRet?: number } {
  const kind = actionKind(value);
  if (!kind) throw new StockadeError('internal', `unknown seccomp action 0x${value.toString(16)}`);
  if (kind === 'USER_NOTIF') throw new StockadeError('unsupported', 'SCMP_ACT_NOTIFY needs a listener the OCI backend does not run', 'syscalls.profile');
  const out: { action: string; errnoRet?: number } = { action: ociActionName(kind) };
  if (kind === 'ERRNO' || kind === 'TRACE') out.errnoRet = value & 0xffff;
  return out;
}

/**
 * `kill` turns the profile's plain denials (EPERM) into KILL_PROCESS and `log` into LOG, as
 * applyViolationAction does for the native backend (kept here so this module stays pure).
 */
function withViolationAction(filter: SeccompFilter, onViolation: SyscallPolicy['onViolation']): SeccompFilter {
  if (onViolation === 'errno') return filter;
  const eperm = (RET.ERRNO | 1) >>> 0;
  const to = onViolation === 'kill' ? RET.KILL_PROCESS : RET.LOG;
  const swap = (a: number) => (a === eperm ? to : a);
  const rules: SeccompFilter['rules'] = {};
  for (const [arch, list] of Object.entries(filter.rules)) rules[arch as Arch] = list!.map((r) => ({ ...r, action: swap(r.action) }));
  return { ...filter, defaultAction: swap(filter.defaultAction), rules };
}

export interface SeccompTarget {
  native: Arch;
  caps: readonly string[];
  kernel: readonly [number, number];
}

/** The resolved meaning of a profile for a target, with the violation action applied. */
export function resolvedForPolicy(profile: SeccompProfile, target: SeccompTarget, onViolation: SyscallPolicy['onViolation']): SeccompFilter {
  return withViolationAction(resolveProfile(profile, { native: target.native, caps: target.caps, kernel: target.kernel }), onViolation);
}

/**
 * Syscalls that libseccomp, on i386, also rewrites into the socketcall(2) and ipc(2) multiplexers,
 * where their arguments sit in memory: it drops the argument conditions there, so two rules with
 * different actions for one of them collide (runc fails with "file exists") and one rule would
 * lose its conditions.
 */
const I386_MULTIPLEXED = new Set([
  'socket', 'bind', 'connect', 'listen', 'accept', 'getsockname', 'getpeername', 'socketpair', 'send', 'recv',
  'sendto', 'recvfrom', 'shutdown', 'setsockopt', 'getsockopt', 'sendmsg', 'recvmsg', 'accept4', 'recvmmsg', 'sendmmsg',
  'semop', 'semget', 'semctl', 'semtimedop', 'msgsnd', 'msgrcv', 'msgget', 'msgctl', 'shmat', 'shmdt', 'shmget', 'shmctl',
]);

export interface OciSeccompResult {
  seccomp: OciSeccomp;
  /** What differs from the native backend's filter (always stricter), for the run's notes. */
  notes: string[];
}

/**
 * The policy's profile as an OCI seccomp object that runc (libseccomp) and runsc read the way
 * stockade means it: resolved for the target (includes/excludes applied, so none remain), the
 * violation action applied, and each syscall's rules made unambiguous (see `syscallPieces`).
 * A 32-bit compat ABI whose socket calls carry argument rules is left out of the arches (its calls
 * are then killed as a foreign ABI): libseccomp cannot filter their arguments there.
 */
export function ociSeccomp(profile: SeccompProfile, target: SeccompTarget, onViolation: SyscallPolicy['onViolation'], runtime: OciRuntime = 'runc'): OciSeccompResult {
  let filter = resolvedForPolicy(profile, target, onViolation);
  const notes: string[] = [];
  if (runtime === 'runsc') filter = forGvisor(filter, notes);
  // Per arch: name -> the serialized pieces of its syscall number.
  const perArch = new Map<Arch, Map<string, { key: string; pieces: Piece[] }>>();
  for (const arch of filter.arches) {
    const groups = new Map<number, Rule[]>();
    for (const r of filter.rules[arch] ?? []) {
      const n = r.nr >>> 0;
      if (!groups.has(n)) groups.set(n, []);
      groups.get(n)!.push(r);
    }
    const names = new Map<string, { key: string; pieces: Piece[] }>();
    for (const rules of groups.values()) {
      const pieces = syscallPieces(rules, filter.defaultAction);
      const key = serializeConfig(pieces);
      for (const name of new Set(rules.map((r) => r.name))) names.set(name, { key, pieces });
    }
    perArch.set(arch, names);
  }
  const arches = filter.arches.filter((arch, i) => {
    if (i === 0 || arch !== 'x86') return true;
    const clash = [...perArch.get(arch)!].filter(([name, v]) => I386_MULTIPLEXED.has(name) && v.pieces.some((p) => p.args.length > 0)).map(([n]) => n);
    if (clash.length === 0) return true;
    notes.push(`seccomp: i386 (x86) syscalls are killed: libseccomp cannot check the arguments of ${clash.sort().join(', ')} there`);
    return false;
  });
  const chosen = new Map<string, { key: string; pieces: Piece[] }>();
  for (const arch of arches) {
    for (const [name, v] of perArch.get(arch)!) {
      const seen = chosen.get(name);
      if (!seen) chosen.set(name, v);
      else if (seen.key !== v.key) {
        throw new StockadeError('unsupported', `${name} would need different rules on different arches, which an OCI profile cannot say`, profile.source);
      }
    }
  }
  // Group names whose pieces are identical, in the order the profile first names them.
  const entries = new Map<string, OciSeccompSyscall>();
  const nameOrder = [...chosen.keys()].sort((a, b) => firstOrder(filter, a) - firstOrder(filter, b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const name of nameOrder) {
    for (const p of chosen.get(name)!.pieces) {
      const act = ociAction(p.action);
      const key = serializeConfig({ ...act, args: p.args });
      const e = entries.get(key);
      if (e) e.names.push(name);
      else {
        const entry: OciSeccompSyscall = { names: [name], action: act.action };
        if (act.errnoRet !== undefined) entry.errnoRet = act.errnoRet;
        if (p.args.length > 0) entry.args = p.args;
        entries.set(key, entry);
      }
    }
  }
  const def = ociAction(filter.defaultAction);
  const out: OciSeccomp = { defaultAction: def.action, architectures: arches.map((a) => OCI_ARCH[a]), syscalls: [...entries.values()] };
  if (def.errnoRet !== undefined) out.defaultErrnoRet = def.errnoRet;
  if (filter.flags.length > 0) out.flags = [...filter.flags];
  return { seccomp: out, notes };
}

const ENOSYS = 38;
const EPERM_ACTION = (RET.ERRNO | 1) >>> 0;

/**
 * gVisor (Debian's 2022 runsc) ignores errnoRet: every SCMP_ACT_ERRNO fails the call with EPERM.
 * A denial with ENOSYS (clone3, so that libc falls back to clone; without it no thread can start)
 * becomes SCMP_ACT_TRACE, which fails the call with ENOSYS when no tracer is attached, as on Linux
 * (the sandbox cannot attach one: ptrace is refused unless the profile allows it). Any other errno
 * becomes EPERM, what gVisor would return anyway. Its OCI seccomp has no kill and no log action:
 * a kill becomes SCMP_ACT_TRAP (SIGSYS; the call never runs), and a log action is refused.
 */
function forGvisor(filter: SeccompFilter, notes: string[]): SeccompFilter {
  const others = new Set<number>();
  let kills = false;
  const swap = (a: number): number => {
    const kind = actionKind(a);
    if (kind === 'LOG') {
      throw new StockadeError('unsupported', 'gVisor cannot log seccomp violations (its OCI seccomp has no SCMP_ACT_LOG); audit with --isolation runc or native', 'syscalls.onViolation');
    }
    if (kind === 'KILL_PROCESS' || kind === 'KILL_THREAD') {
      kills = true;
      return RET.TRAP;
    }
    if (kind !== 'ERRNO') return a;
    const errno = a & 0xffff;
    if (errno === ENOSYS) return (RET.TRACE | ENOSYS) >>> 0;
    if (errno !== 1) others.add(errno);
    return EPERM_ACTION;
  };
  const rules: SeccompFilter['rules'] = {};
  let traced = false;
  for (const [arch, list] of Object.entries(filter.rules)) {
    rules[arch as Arch] = list!.map((r) => {
      const action = swap(r.action);
      if (actionKind(action) === 'TRACE' && actionKind(r.action) === 'ERRNO') traced = true;
      return { ...r, action };
    });
  }
  if (kills) notes.push('seccomp: under gVisor kills are SCMP_ACT_TRAP (SIGSYS, which ends the process unless it handles it; the call never runs): gVisor has no kill action');
  if (traced) notes.push('seccomp: under gVisor ENOSYS denials are SCMP_ACT_TRACE (ENOSYS without a tracer): gVisor ignores errnoRet');
  if (others.size > 0) notes.push(`seccomp: under gVisor denials with errno ${[...others].sort((a, b) => a - b).join(', ')} return EPERM: gVisor ignores errnoRet`);
  return { ...filter, defaultAction: swap(filter.defaultAction), rules };
}

function firstOrder(filter: SeccompFilter, name: string): number {
  let best = Number.MAX_SAFE_INTEGER;
  for (const list of Object.values(filter.rules)) for (const r of list ?? []) if (r.name === name && r.order < best) best = r.order;
  return best;
}

/**
 * Checks that an OCI seccomp object means the same to libseccomp (through runc) as to stockade:
 * no rule returns the default action, no rule tests one argument twice, and per syscall name any
 * two rules that can match the same call return the same action. Returns the problems found.
 */
export function libseccompAmbiguities(sc: OciSeccomp): string[] {
  const problems: string[] = [];
  const key = (action: string, errnoRet: number | undefined) => `${action}(${errnoRet ?? ''})`;
  const def = key(sc.defaultAction, sc.defaultAction === 'SCMP_ACT_ERRNO' || sc.defaultAction === 'SCMP_ACT_TRACE' ? sc.defaultErrnoRet ?? 1 : undefined);
  const perName = new Map<string, Array<{ act: string; cubes: HCube[]; ranged: boolean }>>();
  sc.syscalls.forEach((e, i) => {
    const act = key(e.action, e.action === 'SCMP_ACT_ERRNO' || e.action === 'SCMP_ACT_TRACE' ? e.errnoRet ?? 1 : undefined);
    if (act === def) problems.push(`syscalls[${i}] (${e.names.join(', ')}) returns the default action: runc drops it`);
    const args = e.args ?? [];
    if (new Set(args.map((a) => a.index)).size !== args.length) problems.push(`syscalls[${i}] (${e.names.join(', ')}) tests one argument twice: runc ORs such conditions`);
    const conds: Cond[] = args.map((a) => {
      const op = a.op.replace(/^SCMP_CMP_/, '') as Cond['op'];
      return op === 'MASKED_EQ' ? { index: a.index, op, mask: a.value, value: (a.valueTwo ?? 0n) & a.value } : { index: a.index, op, mask: U64, value: a.value };
    });
    const cubes = ruleCubes({ nr: 0, name: e.names[0] ?? '', action: 0, conds, order: i, source: `syscalls[${i}]` });
    const ranged = conds.some((c) => c.op !== 'EQ' && c.op !== 'MASKED_EQ');
    for (const n of e.names) {
      if (!perName.has(n)) perName.set(n, []);
      perName.get(n)!.push({ act, cubes, ranged });
    }
  });
  for (const [name, list] of perName) {
    if (list.length > 1 && list.some((x) => x.ranged)) problems.push(`${name}: a range comparison beside another rule, which libseccomp 2.5.4 mis-merges`);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (list[i]!.act !== list[j]!.act && ruleOverlaps(list[i]!.cubes, list[j]!.cubes)) {
          problems.push(`${name}: rules returning ${list[i]!.act} and ${list[j]!.act} overlap`);
        }
      }
    }
  }
  return problems;
}
