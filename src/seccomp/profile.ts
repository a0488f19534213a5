/**
 * The Docker / OCI runtime-spec seccomp profile, as users have it, validated with exact JSON paths.
 * Nothing here depends on the target: resolve.ts turns a profile into rules for an arch and cap set.
 */
import { StockadeError } from '../errors.js';
import { parseJsonExact, type JsonValue } from '../json-exact.js';
import { ociActionKind, type ActionKind } from './actions.js';
import { parseArch } from './arch.js';
import { errnoByName } from './errno.js';
import { isKnownSyscall, suggestSyscall } from './syscalls.js';

export type CmpOp = 'EQ' | 'NE' | 'LT' | 'LE' | 'GT' | 'GE' | 'MASKED_EQ';
export const CMP_OPS: readonly CmpOp[] = ['EQ', 'NE', 'LT', 'LE', 'GT', 'GE', 'MASKED_EQ'];

export interface ArgCondition {
  index: number; // 0..5
  /** For MASKED_EQ this is the mask (OCI / libseccomp convention); otherwise the datum. */
  value: bigint;
  /** For MASKED_EQ the datum compared with (arg & value); unused otherwise. */
  valueTwo: bigint;
  op: CmpOp;
}

export interface Conditions {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SyscallEntry {
  names: string[];
  action: ActionKind;
  errnoRet?: number;
  args: ArgCondition[];
  comment?: string;
  includes: Conditions;
  excludes: Conditions;
  /** JSON path of this entry, for messages (`syscalls[4]`). */
  path: string;
}

export interface SeccompProfile {
  defaultAction: ActionKind;
  defaultErrnoRet?: number;
  architectures: string[];
  archMap: Array<{ architecture: string; subArchitectures: string[] }>;
  flags: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls: SyscallEntry[];
  /** Where the profile came from (file path or `stockade:default`). */
  source: string;
  /** Names dropped by profileFromJson's skip mode. */
  skippedSyscalls?: string[];
}

export const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];

const U64_MAX = (1n << 64n) - 1n;

type Obj = { [key: string]: JsonValue };

class Reader {
  /** Unknown syscall names met in skip mode, as `syscalls[i].names[j]: name`. */
  readonly skipped: string[] = [];
  constructor(readonly source: string, readonly skipUnknown = false) {}
  fail(path: string, msg: string): never {
    throw new StockadeError('input', msg, `${this.source}: ${path}`);
  }
  obj(v: JsonValue | undefined, path: string, allowed: readonly string[]): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'must be an object');
    for (const k of Object.keys(v as Obj)) {
      if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
    }
    return v as Obj;
  }
  str(v: JsonValue | undefined, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'must be a string');
    return v as string;
  }
  strs(v: JsonValue | undefined, path: string): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, 'must be an array of strings');
    return (v as JsonValue[]).map((x, i) => this.str(x, `${path}[${i}]`));
  }
  u64(v: JsonValue | undefined, path: string): bigint {
    if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
    return this.fail(path, 'must be an unsigned 64-bit integer');
  }
  errno(v: JsonValue | undefined, path: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) this.fail(path, 'must be an integer from 0 to 65535');
    return v as number;
  }
  /**
   * An errno given as a number (`errnoRet`, OCI) and/or a name (`errno`, containers/common's
   * extension, e.g. "ENOSYS"); when both are given they must agree.
   */
  errnoPair(num: JsonValue | undefined, name: JsonValue | undefined, numPath: string, namePath: string): number | undefined {
    const n = this.errno(num, numPath);
    if (name === undefined || name === null) return n;
    const text = this.str(name, namePath);
    const byName = errnoByName(text);
    if (byName === undefined) this.fail(namePath, `unknown errno name "${text}" (expected a name like EPERM or ENOSYS)`);
    if (n !== undefined && n !== byName) this.fail(namePath, `"${text}" is ${byName} but ${numPath.split('.').pop()} says ${n}`);
    return byName;
  }
}

function conditions(r: Reader, v: JsonValue | undefined, path: string): Conditions {
  if (v === undefined || v === null) return {};
  const o = r.obj(v, path, ['caps', 'arches', 'minKernel']);
  const out: Conditions = {};
  if (o.caps !== undefined && o.caps !== null) {
    out.caps = r.strs(o.caps, `${path}.caps`).map((c, i) => {
      if (!/^CAP_[A-Z_]+$/.test(c)) r.fail(`${path}.caps[${i}]`, `"${c}" is not a capability name like CAP_SYS_ADMIN`);
      return c;
    });
  }
  if (o.arches !== undefined && o.arches !== null) {
    out.arches = r.strs(o.arches, `${path}.arches`);
    out.arches.forEach((a, i) => parseArch(a, `${r.source}: ${path}.arches[${i}]`));
  }
  if (o.minKernel !== undefined && o.minKernel !== null) {
    const k = r.str(o.minKernel, `${path}.minKernel`);
    if (!/^\d+\.\d+(\.\d+)?$/.test(k)) r.fail(`${path}.minKernel`, `"${k}" is not a kernel version like 5.11`);
    out.minKernel = k;
  }
  return out;
}

function argCondition(r: Reader, v: JsonValue | undefined, path: string): ArgCondition {
  const o = r.obj(v, path, ['index', 'value', 'valueTwo', 'op']);
  const idx = o.index;
  if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx > 5) {
    r.fail(`${path}.index`, 'must be an argument index from 0 to 5 (a syscall has at most 6 arguments)');
  }
  const opName = r.str(o.op, `${path}.op`);
  const op = opName.replace(/^SCMP_CMP_/, '') as CmpOp;
  if (!opName.startsWith('SCMP_CMP_') || !CMP_OPS.includes(op)) {
    r.fail(`${path}.op`, `unknown operator "${opName}"; use one of ${CMP_OPS.map((c) => `SCMP_CMP_${c}`).join(', ')}`);
  }
  return {
    index: idx as number,
    value: r.u64(o.value, `${path}.value`),
    valueTwo: o.valueTwo === undefined ? 0n : r.u64(o.valueTwo, `${path}.valueTwo`),
    op,
  };
}

function syscallEntry(r: Reader, v: JsonValue | undefined, path: string): SyscallEntry {
  const o = r.obj(v, path, ['names', 'name', 'action', 'errnoRet', 'errno', 'args', 'comment', 'includes', 'excludes']);
  let names: string[];
  if (o.names !== undefined && o.names !== null) {
    if (o.name !== undefined) r.fail(`${path}.name`, 'give either "names" or the old single "name", not both');
    names = r.strs(o.names, `${path}.names`);
    if (names.length === 0) r.fail(`${path}.names`, 'must name at least one syscall');
  } else if (o.name !== undefined) {
    names = [r.str(o.name, `${path}.name`)];
  } else {
    return r.fail(path, 'needs "names" (an array of syscall names)');
  }
  names = names.filter((n, i) => {
    if (isKnownSyscall(n)) return true;
    if (r.skipUnknown) {
      r.skipped.push(`${path}.names[${i}]: ${n}`);
      return false;
    }
    {
      const hint = suggestSyscall(n);
      r.fail(o.name !== undefined && o.names === undefined ? `${path}.name` : `${path}.names[${i}]`,
        `unknown syscall "${n}"${hint ? `; did you mean "${hint}"?` : ''}`);
    }
  });
  const action = ociActionKind(r.str(o.action, `${path}.action`), `${r.source}: ${path}.action`);
  const args = o.args === undefined || o.args === null ? [] : o.args;
  if (!Array.isArray(args)) r.fail(`${path}.args`, 'must be an array of {index, value, valueTwo, op}');
  const entry: SyscallEntry = {
    names,
    action,
    args: (args as JsonValue[]).map((a, i) => argCondition(r, a, `${path}.args[${i}]`)),
    includes: conditions(r, o.includes, `${path}.includes`),
    excludes: conditions(r, o.excludes, `${path}.excludes`),
    path,
  };
  const errnoRet = r.errnoPair(o.errnoRet, o.errno, `${path}.errnoRet`, `${path}.errno`);
  if (errnoRet !== undefined) {
    if (action !== 'ERRNO' && action !== 'TRACE') r.fail(`${path}.errnoRet`, `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take errnoRet`);
    entry.errnoRet = errnoRet;
  }
  if (o.comment !== undefined) entry.comment = r.str(o.comment, `${path}.comment`);
  return entry;
}

/**
 * Validates a parsed JSON value as a seccomp profile. `unknownSyscalls: 'skip'` (what OCI runtimes
 * do with engines' profiles, which name syscalls of other kernels) drops names no kernel this
 * project knows has, and lists them in `skippedSyscalls`; it still refuses one in a rule that
 * denies when the default allows, where skipping would open what the profile closes.
 */
export function profileFromJson(v: JsonValue, source: string, opts: { unknownSyscalls?: 'reject' | 'skip' } = {}): SeccompProfile {
  const r = new Reader(source, opts.unknownSyscalls === 'skip');
  const o = r.obj(v, '', ['defaultAction', 'defaultErrnoRet', 'defaultErrno', 'architectures', 'archMap', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls']);
  if (o.defaultAction === undefined) r.fail('defaultAction', 'is required (for example "SCMP_ACT_ERRNO")');
  const defaultAction = ociActionKind(r.str(o.defaultAction, 'defaultAction'), `${source}: defaultAction`);
  const architectures = r.strs(o.architectures, 'architectures');
  architectures.forEach((a, i) => parseArch(a, `${source}: architectures[${i}]`));
  const archMap: SeccompProfile['archMap'] = [];
  if (o.archMap !== undefined && o.archMap !== null) {
    if (!Array.isArray(o.archMap)) r.fail('archMap', 'must be an array of {architecture, subArchitectures}');
    (o.archMap as JsonValue[]).forEach((m, i) => {
      const e = r.obj(m, `archMap[${i}]`, ['architecture', 'subArchitectures']);
      const architecture = r.str(e.architecture, `archMap[${i}].architecture`);
      parseArch(architecture, `${source}: archMap[${i}].architecture`);
      const subArchitectures = r.strs(e.subArchitectures, `archMap[${i}].subArchitectures`);
      subArchitectures.forEach((a, j) => parseArch(a, `${source}: archMap[${i}].subArchitectures[${j}]`));
      archMap.push({ architecture, subArchitectures });
    });
  }
  if (architectures.length > 0 && archMap.length > 0) {
    r.fail('archMap', 'conflicts with "architectures"; give one of the two');
  }
  const flags = r.strs(o.flags, 'flags');
  flags.forEach((f, i) => {
    if (!SECCOMP_FLAGS.includes(f)) r.fail(`flags[${i}]`, `unknown flag "${f}"; use one of ${SECCOMP_FLAGS.join(', ')}`);
  });
  const syscalls = o.syscalls === undefined || o.syscalls === null ? [] : o.syscalls;
  if (!Array.isArray(syscalls)) r.fail('syscalls', 'must be an array');
  const profile: SeccompProfile = {
    defaultAction,
    architectures,
    archMap,
    flags,
    syscalls: (syscalls as JsonValue[]).map((s, i) => syscallEntry(r, s, `syscalls[${i}]`)),
    source,
  };
  if (r.skipped.length > 0) {
    profile.skippedSyscalls = [...r.skipped];
    profile.syscalls.forEach((e) => {
      const dropped = r.skipped.find((s) => s.startsWith(`${e.path}.`));
      if (dropped && e.action !== 'ALLOW' && defaultAction === 'ALLOW') r.fail(dropped.split(':')[0]!, `unknown syscall "${dropped.split(': ')[1]}" in a rule that denies while the default allows`);
    });
    profile.syscalls = profile.syscalls.filter((e) => e.names.length > 0);
  }
  const der = r.errnoPair(o.defaultErrnoRet, o.defaultErrno, 'defaultErrnoRet', 'defaultErrno');
  if (der !== undefined) profile.defaultErrnoRet = der;
  if (o.listenerPath !== undefined) profile.listenerPath = r.str(o.listenerPath, 'listenerPath');
  if (o.listenerMetadata !== undefined) profile.listenerMetadata = r.str(o.listenerMetadata, 'listenerMetadata');
  return profile;
}

/** Parses profile text (JSON). `source` names the file in error messages. */
export function parseProfile(text: string, source: string): SeccompProfile {
  return profileFromJson(parseJsonExact(text, source), source);
}
