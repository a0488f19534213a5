/**
 * The seccomp profile a policy asks for, in the forms container platforms read: a Docker/OCI JSON
 * file (docker --security-opt seccomp=, a Kubernetes Localhost profile) and the spec of a Security
 * Profiles Operator SeccompProfile. Pure: a profile file is read by the caller and arrives parsed.
 *
 * Two things are settled here rather than left to the runtime, because the policy fixes them:
 *  - `includes.caps` / `excludes.caps` are evaluated against the policy's capabilities (the same
 *    answer Docker would give with --cap-drop ALL --cap-add ...), and
 *  - `syscalls.onViolation` is applied: `kill` turns the plain denials (EPERM) into
 *    SCMP_ACT_KILL_PROCESS and `log` into SCMP_ACT_LOG, exactly as `stockade run` does
 *    (src/backends/native/seccomp-for-policy.ts); other errnos (ENOSYS for clone3 ...) stay.
 */
import { StockadeError } from '../errors.js';
import type { JsonValue } from '../json-exact.js';
import type { Policy } from '../policy/types.js';
import { DEFAULT_ERRNO, ociActionName, type ActionKind } from '../seccomp/actions.js';
import { parseArch, type Arch } from '../seccomp/arch.js';
import { builtinProfile, isBuiltinName } from '../seccomp/builtin.js';
import { profileFromJson, type Conditions, type SeccompProfile, type SyscallEntry } from '../seccomp/profile.js';

/**
 * The profile the policy names, or undefined for `unconfined`. `stockade:default` is built in;
 * a file must be read and parsed (src/json-exact.ts) by the caller and passed as `fileJson`.
 */
export function policySeccompProfile(policy: Policy, fileJson: JsonValue | undefined): SeccompProfile | undefined {
  const name = policy.syscalls.profile;
  if (name === 'unconfined') return undefined;
  if (isBuiltinName(name)) return builtinProfile(name, `${policy.source}: syscalls.profile`);
  if (fileJson === undefined) {
    throw new StockadeError('input', `the seccomp profile file "${name}" was not read; pass its parsed JSON to the emitter`, `${policy.source}: syscalls.profile`);
  }
  return profileFromJson(fileJson, name);
}

function withoutCaps(c: Conditions): Conditions {
  const out: Conditions = {};
  if (c.arches) out.arches = [...c.arches];
  if (c.minKernel) out.minKernel = c.minKernel;
  return out;
}

function swapDenial(kind: ActionKind, errno: number | undefined, onViolation: Policy['syscalls']['onViolation']): { kind: ActionKind; errno: number | undefined } {
  if (onViolation === 'errno' || kind !== 'ERRNO' || (errno ?? DEFAULT_ERRNO) !== DEFAULT_ERRNO) return { kind, errno };
  return { kind: onViolation === 'kill' ? 'KILL_PROCESS' : 'LOG', errno: undefined };
}

/** The profile with capability conditions settled for `caps` and the violation action applied. */
export function adaptProfile(profile: SeccompProfile, caps: readonly string[], onViolation: Policy['syscalls']['onViolation']): SeccompProfile {
  const has = (c: string) => caps.includes(c);
  const syscalls: SyscallEntry[] = [];
  for (const e of profile.syscalls) {
    if (e.includes.caps && !e.includes.caps.every(has)) continue;
    if (e.excludes.caps && e.excludes.caps.some(has)) continue;
    const { kind, errno } = swapDenial(e.action, e.errnoRet, onViolation);
    const entry: SyscallEntry = { names: [...e.names], action: kind, args: e.args.map((a) => ({ ...a })), includes: withoutCaps(e.includes), excludes: withoutCaps(e.excludes), path: e.path };
    if (errno !== undefined) entry.errnoRet = errno;
    if (e.comment !== undefined) entry.comment = e.comment;
    syscalls.push(entry);
  }
  const d = swapDenial(profile.defaultAction, profile.defaultErrnoRet, onViolation);
  const out: SeccompProfile = {
    defaultAction: d.kind,
    architectures: [...profile.architectures],
    archMap: profile.archMap.map((m) => ({ architecture: m.architecture, subArchitectures: [...m.subArchitectures] })),
    flags: [...profile.flags],
    syscalls,
    source: profile.source,
  };
  if (d.errno !== undefined) out.defaultErrnoRet = d.errno;
  if (profile.listenerPath !== undefined) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined) out.listenerMetadata = profile.listenerMetadata;
  return out;
}

function u64Json(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function conditionsJson(c: Conditions): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (c.caps && c.caps.length > 0) out.caps = [...c.caps];
  if (c.arches && c.arches.length > 0) out.arches = [...c.arches];
  if (c.minKernel) out.minKernel = c.minKernel;
  return Object.keys(out).length > 0 ? out : undefined;
}

function argsJson(e: SyscallEntry): Array<Record<string, unknown>> | undefined {
  if (e.args.length === 0) return undefined;
  return e.args.map((a) => {
    const o: Record<string, unknown> = { index: a.index, value: u64Json(a.value), op: `SCMP_CMP_${a.op}` };
    if (a.op === 'MASKED_EQ' || a.valueTwo !== 0n) o.valueTwo = u64Json(a.valueTwo);
    return o;
  });
}

/** Docker / OCI seccomp JSON (what docker, podman, containerd and CRI-O read from a file). */
export function dockerProfileJson(p: SeccompProfile): Record<string, unknown> {
  const out: Record<string, unknown> = { defaultAction: ociActionName(p.defaultAction) };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  if (p.architectures.length > 0) out.architectures = [...p.architectures];
  if (p.archMap.length > 0) out.archMap = p.archMap.map((m) => ({ architecture: m.architecture, subArchitectures: [...m.subArchitectures] }));
  if (p.flags.length > 0) out.flags = [...p.flags];
  if (p.listenerPath !== undefined) out.listenerPath = p.listenerPath;
  if (p.listenerMetadata !== undefined) out.listenerMetadata = p.listenerMetadata;
  out.syscalls = p.syscalls.map((e) => {
    const o: Record<string, unknown> = { names: [...e.names], action: ociActionName(e.action) };
    if (e.errnoRet !== undefined) o.errnoRet = e.errnoRet;
    const args = argsJson(e);
    if (args) o.args = args;
    if (e.comment !== undefined) o.comment = e.comment;
    const inc = conditionsJson(e.includes);
    if (inc) o.includes = inc;
    const exc = conditionsJson(e.excludes);
    if (exc) o.excludes = exc;
    return o;
  });
  return out;
}

/** Node architectures an SPO profile can be resolved for (the SeccompProfile spec has no archMap). */
export type NodeArch = 'x86_64' | 'aarch64';

const SCMP_ARCH: Readonly<Record<Arch, string>> = { x86_64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32', aarch64: 'SCMP_ARCH_AARCH64' };

function scmpArchName(name: string, where: string): string {
  if (/^scmp_arch_/i.test(name)) return name.toUpperCase();
  const a = parseArch(name, where);
  if (a) return SCMP_ARCH[a];
  return `SCMP_ARCH_${name.toUpperCase()}`;
}

/**
 * The spec of a Security Profiles Operator SeccompProfile (v1beta1). Its schema mirrors the OCI
 * profile without Docker's extensions, so what a runtime would decide per node is decided here for
 * `arch`: the archMap entry of that arch becomes `architectures`, and entries conditional on the
 * arch are kept or left out. `minKernel` and a default errno other than EPERM have no equivalent and
 * are refused rather than approximated.
 */
export function spoSeccompSpec(p: SeccompProfile, arch: NodeArch): Record<string, unknown> {
  const where = (path: string) => `${p.source}: ${path}`;
  const nativeIn = (list: readonly string[], path: string) => list.some((a) => parseArch(a, where(path)) === arch);
  const out: Record<string, unknown> = { defaultAction: ociActionName(p.defaultAction) };
  if (p.defaultErrnoRet !== undefined && p.defaultErrnoRet !== DEFAULT_ERRNO) {
    throw new StockadeError('input', `defaultErrnoRet ${p.defaultErrnoRet} cannot be expressed in a Security Profiles Operator SeccompProfile (it has no defaultErrnoRet; the default action returns EPERM)`, where('defaultErrnoRet'));
  }
  if (p.archMap.length > 0) {
    const entry = p.archMap.find((m) => parseArch(m.architecture, where('archMap')) === arch);
    if (!entry) throw new StockadeError('input', `archMap has no entry for ${arch}, so a Security Profiles Operator SeccompProfile for ${arch} nodes cannot list its architectures`, where('archMap'));
    out.architectures = [entry.architecture, ...entry.subArchitectures].map((a) => scmpArchName(a, where('archMap')));
  } else if (p.architectures.length > 0) {
    out.architectures = p.architectures.map((a) => scmpArchName(a, where('architectures')));
  }
  if (p.flags.length > 0) out.flags = [...p.flags];
  if (p.listenerPath !== undefined) out.listenerPath = p.listenerPath;
  if (p.listenerMetadata !== undefined) out.listenerMetadata = p.listenerMetadata;
  const syscalls: Array<Record<string, unknown>> = [];
  for (const e of p.syscalls) {
    if (e.includes.minKernel || e.excludes.minKernel) {
      throw new StockadeError('input', 'minKernel cannot be expressed in a Security Profiles Operator SeccompProfile (the operator cannot know each node\'s kernel); remove the condition or use --profiles node', where(e.path));
    }
    if (e.includes.arches && !nativeIn(e.includes.arches, `${e.path}.includes.arches`)) continue;
    if (e.excludes.arches && nativeIn(e.excludes.arches, `${e.path}.excludes.arches`)) continue;
    const o: Record<string, unknown> = { names: [...e.names], action: ociActionName(e.action) };
    if (e.errnoRet !== undefined) o.errnoRet = e.errnoRet;
    const args = argsJson(e);
    if (args) o.args = args;
    syscalls.push(o);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}
