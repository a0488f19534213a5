/**
 * The seccomp profile rewritten for libseccomp-based runtimes (runc) and gVisor. runc hands
 * libseccomp one rule per entry, skips every rule whose action equals the default action, lets an
 * argument-free rule wipe out the argument rules of the same syscall, and turns two conditions on
 * one argument into two ORed rules. stockade's meaning (the most specific rule wins) survives that
 * only when, per syscall, the emitted rules never overlap with different actions; the rewrite
 * makes it so by cutting each rule's argument space into disjoint masked-equality cubes.
 */
import { applyViolationAction } from '../seccomp/violation.js';
import { StockadeError } from '../errors.js';
import { actionKind, ociActionName, RET } from '../seccomp/actions.js';
import type { Arch } from '../seccomp/arch.js';
import type { SeccompProfile } from '../seccomp/profile.js';
import { resolveProfile } from '../seccomp/resolve.js';
import { sortBySpecificity, U64, type Cond, type Rule, type SeccompFilter } from '../seccomp/rules.js';
import type { SyscallPolicy } from '../policy/types.js';
import { serializeConfig, type OciRuntime, type OciSeccomp, type OciSeccompArg, type OciSeccompSyscall } from './config.js';


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

export interface SeccompTarget {
  native: Arch;
  caps: readonly string[];
  kernel: readonly [number, number];
}

/** The resolved meaning of a profile for a target, with the violation action applied. */
export function resolvedForPolicy(profile: SeccompProfile, target: SeccompTarget, onViolation: SyscallPolicy['onViolation']): SeccompFilter {
  return applyViolationAction(resolveProfile(profile, { native: target.native, caps: target.caps, kernel: target.kernel }), onViolation);
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
