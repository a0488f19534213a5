/**
 * An OCI runtime-spec config.json (1.0.0 up to 1.3.x), read and validated with JSON paths in every
 * message. Unknown properties are ignored, as the spec requires of runtimes; a known property whose
 * value is malformed is an error. Pure: the caller reads the file.
 */
import { StockadeError } from '../errors.js';
import { parseJsonExact, type JsonValue } from '../json-exact.js';
import { profileFromJson, type SeccompProfile } from '../seccomp/profile.js';

export const SUPPORTED_OCI_VERSION = '1.3.0';

export interface OciMount { destination: string; type: string; source: string; options: string[] }
export interface OciHook { path: string; args: string[]; env: string[]; timeout?: number }
export type HookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';
export const HOOK_NAMES: readonly HookName[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
export interface OciIdMapping { containerID: number; hostID: number; size: number }
export interface OciNamespace { type: string; path?: string }
export interface OciDeviceRule { allow: boolean; type: 'a' | 'c' | 'b'; major?: number; minor?: number; access: string }
export interface OciDevice { path: string; type: string; major: number; minor: number; fileMode?: number; uid?: number; gid?: number }
export interface OciRlimit { type: string; soft: bigint; hard: bigint }
export interface OciCapabilities { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] }

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; umask?: number; additionalGids: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface OciResources {
  memory?: { limit?: bigint; reservation?: bigint; swap?: bigint; swappiness?: bigint; disableOOMKiller?: boolean };
  cpu?: { shares?: bigint; quota?: bigint; period?: bigint; cpus?: string; mems?: string };
  pids?: { limit?: bigint };
  devices: OciDeviceRule[];
  /** Fields present that stockade-runtime does not enforce (blockIO, hugepageLimits, ...): refused. */
  unsupported: string[];
}

export interface OciSpec {
  ociVersion: string;
  root: { path: string; readonly: boolean };
  mounts: OciMount[];
  process?: OciProcess;
  hostname?: string;
  domainname?: string;
  hooks: Record<HookName, OciHook[]>;
  annotations: Record<string, string>;
  linux: {
    namespaces: OciNamespace[];
    uidMappings: OciIdMapping[];
    gidMappings: OciIdMapping[];
    devices: OciDevice[];
    cgroupsPath?: string;
    resources?: OciResources;
    rootfsPropagation?: string;
    seccomp?: SeccompProfile;
    sysctl: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
    /** Known fields set to something stockade-runtime cannot apply (refused by the planner). */
    unsupported: string[];
  };
}

type Obj = { [key: string]: JsonValue };
const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

class Reader {
  constructor(readonly source: string) {}
  fail(path: string, msg: string): never {
    throw new StockadeError('input', msg, `${this.source}: ${path}`);
  }
  obj(v: JsonValue | undefined, path: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'must be an object');
    return v as Obj;
  }
  optObj(v: JsonValue | undefined, path: string): Obj | undefined {
    return v === undefined || v === null ? undefined : this.obj(v, path);
  }
  arr(v: JsonValue | undefined, path: string): JsonValue[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, 'must be an array');
    return v as JsonValue[];
  }
  str(v: JsonValue | undefined, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'must be a string');
    return v as string;
  }
  optStr(v: JsonValue | undefined, path: string): string | undefined {
    return v === undefined || v === null ? undefined : this.str(v, path);
  }
  strs(v: JsonValue | undefined, path: string): string[] {
    return this.arr(v, path).map((x, i) => this.str(x, `${path}[${i}]`));
  }
  bool(v: JsonValue | undefined, path: string): boolean {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v as boolean;
  }
  int(v: JsonValue | undefined, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `must be an integer from ${min} to ${max}`);
    return v as number;
  }
  optInt(v: JsonValue | undefined, path: string, min: number, max: number): number | undefined {
    return v === undefined || v === null ? undefined : this.int(v, path, min, max);
  }
  /** A signed or unsigned 64-bit integer (memory limits use -1 for unlimited). */
  big(v: JsonValue | undefined, path: string): bigint | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    return this.fail(path, 'must be an integer');
  }
  abs(v: JsonValue | undefined, path: string): string {
    const s = this.str(v, path);
    if (!s.startsWith('/')) this.fail(path, `"${s}" must be an absolute path`);
    return s;
  }
}

const U32 = 0xffffffff;

function idMappings(r: Reader, v: JsonValue | undefined, path: string): OciIdMapping[] {
  return r.arr(v, path).map((m, i) => {
    const o = r.obj(m, `${path}[${i}]`);
    return {
      containerID: r.int(o.containerID, `${path}[${i}].containerID`, 0, U32),
      hostID: r.int(o.hostID, `${path}[${i}].hostID`, 0, U32),
      size: r.int(o.size, `${path}[${i}].size`, 1, U32),
    };
  });
}

function readProcess(r: Reader, v: JsonValue | undefined): OciProcess | undefined {
  const o = r.optObj(v, 'process');
  if (!o) return undefined;
  const u = r.obj(o.user, 'process.user');
  const args = r.strs(o.args, 'process.args');
  if (args.length === 0) r.fail('process.args', 'must name the program to run (at least one element)');
  const p: OciProcess = {
    terminal: r.bool(o.terminal, 'process.terminal'),
    user: {
      uid: r.int(u.uid, 'process.user.uid', 0, U32),
      gid: r.int(u.gid, 'process.user.gid', 0, U32),
      additionalGids: r.arr(u.additionalGids, 'process.user.additionalGids').map((g, i) => r.int(g, `process.user.additionalGids[${i}]`, 0, U32)),
    },
    args,
    env: r.strs(o.env, 'process.env'),
    cwd: r.abs(o.cwd, 'process.cwd'),
    rlimits: r.arr(o.rlimits, 'process.rlimits').map((x, i) => {
      const l = r.obj(x, `process.rlimits[${i}]`);
      const type = r.str(l.type, `process.rlimits[${i}].type`);
      if (!/^RLIMIT_[A-Z]+$/.test(type)) r.fail(`process.rlimits[${i}].type`, `"${type}" is not an rlimit name like RLIMIT_NOFILE`);
      const soft = r.big(l.soft, `process.rlimits[${i}].soft`) ?? r.fail(`process.rlimits[${i}].soft`, 'is required');
      const hard = r.big(l.hard, `process.rlimits[${i}].hard`) ?? r.fail(`process.rlimits[${i}].hard`, 'is required');
      return { type, soft, hard };
    }),
    noNewPrivileges: r.bool(o.noNewPrivileges, 'process.noNewPrivileges'),
  };
  const umask = r.optInt(u.umask, 'process.user.umask', 0, 0o777);
  if (umask !== undefined) p.user.umask = umask;
  const oom = r.optInt(o.oomScoreAdj, 'process.oomScoreAdj', -1000, 1000);
  if (oom !== undefined) p.oomScoreAdj = oom;
  const aa = r.optStr(o.apparmorProfile, 'process.apparmorProfile');
  if (aa) p.apparmorProfile = aa;
  const se = r.optStr(o.selinuxLabel, 'process.selinuxLabel');
  if (se) p.selinuxLabel = se;
  const caps = r.optObj(o.capabilities, 'process.capabilities');
  if (caps) {
    const set = (k: keyof OciCapabilities) => r.strs(caps[k], `process.capabilities.${k}`).map((c, i) => {
      if (!/^CAP_[A-Z_]+$/.test(c)) r.fail(`process.capabilities.${k}[${i}]`, `"${c}" is not a capability name like CAP_CHOWN`);
      return c;
    });
    p.capabilities = { bounding: set('bounding'), effective: set('effective'), permitted: set('permitted'), inheritable: set('inheritable'), ambient: set('ambient') };
  }
  return p;
}

function readResources(r: Reader, v: JsonValue | undefined): OciResources | undefined {
  const o = r.optObj(v, 'linux.resources');
  if (!o) return undefined;
  const res: OciResources = { devices: [], unsupported: [] };
  res.devices = r.arr(o.devices, 'linux.resources.devices').map((d, i) => {
    const p = `linux.resources.devices[${i}]`;
    const e = r.obj(d, p);
    const type = e.type === undefined || e.type === null ? 'a' : r.str(e.type, `${p}.type`);
    if (type !== 'a' && type !== 'b' && type !== 'c') r.fail(`${p}.type`, `"${type}" must be "a", "b" or "c"`);
    const access = e.access === undefined || e.access === null ? 'rwm' : r.str(e.access, `${p}.access`);
    if (!/^[rwm]{0,3}$/.test(access)) r.fail(`${p}.access`, `"${access}" must be a combination of r, w and m`);
    const rule: OciDeviceRule = { allow: r.bool(e.allow, `${p}.allow`), type, access };
    const major = r.optInt(e.major, `${p}.major`, -1, U32);
    const minor = r.optInt(e.minor, `${p}.minor`, -1, U32);
    if (major !== undefined && major >= 0) rule.major = major;
    if (minor !== undefined && minor >= 0) rule.minor = minor;
    return rule;
  });
  const mem = r.optObj(o.memory, 'linux.resources.memory');
  if (mem) {
    res.memory = {};
    for (const k of ['limit', 'reservation', 'swap', 'swappiness'] as const) {
      const b = r.big(mem[k], `linux.resources.memory.${k}`);
      if (b !== undefined) res.memory[k] = b;
    }
    if (mem.disableOOMKiller !== undefined) res.memory.disableOOMKiller = r.bool(mem.disableOOMKiller, 'linux.resources.memory.disableOOMKiller');
    for (const k of ['kernel', 'kernelTCP']) if (mem[k] !== undefined && mem[k] !== null) res.unsupported.push(`linux.resources.memory.${k}`);
  }
  const cpu = r.optObj(o.cpu, 'linux.resources.cpu');
  if (cpu) {
    res.cpu = {};
    for (const k of ['shares', 'quota', 'period'] as const) {
      const b = r.big(cpu[k], `linux.resources.cpu.${k}`);
      if (b !== undefined) res.cpu[k] = b;
    }
    const cpus = r.optStr(cpu.cpus, 'linux.resources.cpu.cpus');
    if (cpus) res.cpu.cpus = cpus;
    const mems = r.optStr(cpu.mems, 'linux.resources.cpu.mems');
    if (mems) res.cpu.mems = mems;
    for (const k of ['realtimeRuntime', 'realtimePeriod', 'idle', 'burst']) if (cpu[k] !== undefined && cpu[k] !== null && cpu[k] !== 0) res.unsupported.push(`linux.resources.cpu.${k}`);
  }
  const pids = r.optObj(o.pids, 'linux.resources.pids');
  if (pids) {
    const limit = r.big(pids.limit, 'linux.resources.pids.limit');
    res.pids = limit === undefined ? {} : { limit };
  }
  for (const k of ['blockIO', 'hugepageLimits', 'network', 'rdma', 'unified']) {
    const x = o[k];
    const empty = x === undefined || x === null || (Array.isArray(x) && x.length === 0) || (typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0);
    if (!empty) res.unsupported.push(`linux.resources.${k}`);
  }
  return res;
}

function readLinux(r: Reader, v: JsonValue | undefined): OciSpec['linux'] {
  const o = r.optObj(v, 'linux') ?? {};
  const linux: OciSpec['linux'] = {
    namespaces: r.arr(o.namespaces, 'linux.namespaces').map((n, i) => {
      const e = r.obj(n, `linux.namespaces[${i}]`);
      const type = r.str(e.type, `linux.namespaces[${i}].type`);
      if (!NAMESPACE_TYPES.includes(type)) r.fail(`linux.namespaces[${i}].type`, `unknown namespace type "${type}"; expected one of ${NAMESPACE_TYPES.join(', ')}`);
      const path = r.optStr(e.path, `linux.namespaces[${i}].path`);
      return path ? { type, path } : { type };
    }),
    uidMappings: idMappings(r, o.uidMappings, 'linux.uidMappings'),
    gidMappings: idMappings(r, o.gidMappings, 'linux.gidMappings'),
    devices: r.arr(o.devices, 'linux.devices').map((d, i) => {
      const e = r.obj(d, `linux.devices[${i}]`);
      const dev: OciDevice = {
        path: r.abs(e.path, `linux.devices[${i}].path`),
        type: r.str(e.type, `linux.devices[${i}].type`),
        major: r.optInt(e.major, `linux.devices[${i}].major`, 0, U32) ?? 0,
        minor: r.optInt(e.minor, `linux.devices[${i}].minor`, 0, U32) ?? 0,
      };
      const mode = r.optInt(e.fileMode, `linux.devices[${i}].fileMode`, 0, 0o7777);
      if (mode !== undefined) dev.fileMode = mode;
      return dev;
    }),
    sysctl: {},
    maskedPaths: r.strs(o.maskedPaths, 'linux.maskedPaths'),
    readonlyPaths: r.strs(o.readonlyPaths, 'linux.readonlyPaths'),
    unsupported: [],
  };
  const seen = new Set<string>();
  linux.namespaces.forEach((n, i) => {
    if (seen.has(n.type)) r.fail(`linux.namespaces[${i}].type`, `namespace "${n.type}" is listed twice`);
    seen.add(n.type);
  });
  const cg = r.optStr(o.cgroupsPath, 'linux.cgroupsPath');
  if (cg) linux.cgroupsPath = cg;
  const res = readResources(r, o.resources);
  if (res) linux.resources = res;
  const prop = r.optStr(o.rootfsPropagation, 'linux.rootfsPropagation');
  if (prop) linux.rootfsPropagation = prop;
  const sc = r.optObj(o.seccomp, 'linux.seccomp');
  if (sc) linux.seccomp = profileFromJson(sc, `${r.source}: linux.seccomp`, { unknownSyscalls: 'skip' });
  const sysctl = r.optObj(o.sysctl, 'linux.sysctl') ?? {};
  for (const [k, val] of Object.entries(sysctl)) {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_*-]+)*$/.test(k)) r.fail(`linux.sysctl.${k}`, 'is not a sysctl name like net.ipv4.ip_forward');
    linux.sysctl[k] = r.str(val, `linux.sysctl.${k}`);
  }
  for (const k of ['timeOffsets', 'intelRdt', 'personality', 'memoryPolicy', 'netDevices']) {
    if (o[k] !== undefined && o[k] !== null) linux.unsupported.push(`linux.${k}`);
  }
  return linux;
}

function readHooks(r: Reader, v: JsonValue | undefined): Record<HookName, OciHook[]> {
  const o = r.optObj(v, 'hooks') ?? {};
  const out = Object.fromEntries(HOOK_NAMES.map((n) => [n, [] as OciHook[]])) as Record<HookName, OciHook[]>;
  for (const name of HOOK_NAMES) {
    out[name] = r.arr(o[name], `hooks.${name}`).map((h, i) => {
      const p = `hooks.${name}[${i}]`;
      const e = r.obj(h, p);
      const hook: OciHook = { path: r.abs(e.path, `${p}.path`), args: r.strs(e.args, `${p}.args`), env: r.strs(e.env, `${p}.env`) };
      const t = r.optInt(e.timeout, `${p}.timeout`, 1, 86400);
      if (t !== undefined) hook.timeout = t;
      return hook;
    });
  }
  return out;
}

/** Parses and validates config.json text; `source` names the file in messages. */
export function parseOciSpec(text: string, source: string): OciSpec {
  const r = new Reader(source);
  const o = r.obj(parseJsonExact(text, source), '(top level)');
  const ociVersion = r.str(o.ociVersion, 'ociVersion');
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.+-]+)?$/.exec(ociVersion);
  if (!m) r.fail('ociVersion', `"${ociVersion}" is not a version like ${SUPPORTED_OCI_VERSION}`);
  if (m![1] !== '1') r.fail('ociVersion', `major version ${m![1]} is not supported; stockade-runtime reads 1.0.0 up to ${SUPPORTED_OCI_VERSION}`);
  const root = r.obj(o.root, 'root');
  const spec: OciSpec = {
    ociVersion,
    root: { path: r.str(root.path, 'root.path'), readonly: r.bool(root.readonly, 'root.readonly') },
    mounts: r.arr(o.mounts, 'mounts').map((x, i) => {
      const e = r.obj(x, `mounts[${i}]`);
      return {
        destination: r.abs(e.destination, `mounts[${i}].destination`),
        type: r.optStr(e.type, `mounts[${i}].type`) ?? '',
        source: r.optStr(e.source, `mounts[${i}].source`) ?? '',
        options: r.strs(e.options, `mounts[${i}].options`),
      };
    }),
    hooks: readHooks(r, o.hooks),
    annotations: {},
    linux: readLinux(r, o.linux),
  };
  if (spec.root.path === '') r.fail('root.path', 'must name the container\'s root file system');
  const proc = readProcess(r, o.process);
  if (proc) spec.process = proc;
  const hostname = r.optStr(o.hostname, 'hostname');
  if (hostname) spec.hostname = hostname;
  const domainname = r.optStr(o.domainname, 'domainname');
  if (domainname) spec.domainname = domainname;
  const ann = r.optObj(o.annotations, 'annotations') ?? {};
  for (const [k, val] of Object.entries(ann)) spec.annotations[k] = r.str(val, `annotations.${k}`);
  return spec;
}

/** The OCI process object as `exec --process FILE` gives it (the same fields as config.json's). */
export function parseOciProcess(text: string, source: string): OciProcess {
  const r = new Reader(source);
  return readProcess(r, r.obj(parseJsonExact(text, source), '(top level)'))!;
}
