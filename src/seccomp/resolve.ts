/**
 * Resolving a profile for a target: which arches the filter serves, which entries apply given the
 * capability set, the native arch and the kernel version (Docker's includes/excludes), and the
 * syscall numbers of each name on each arch.
 */
import { StockadeError } from '../errors.js';
import { actionValue, DEFAULT_ERRNO, type ActionKind } from './actions.js';
import { companionArches, parseArch, type Arch } from './arch.js';
import type { Conditions, SeccompProfile } from './profile.js';
import { U64, type Cond, type Rule, type SeccompFilter } from './rules.js';
import { syscallNumber } from './syscalls.js';

/** Docker's default capability set (what a container gets without --cap-add / --cap-drop). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

export interface Target {
  /** The native arch (the one includes.arches is compared with, as Docker does). */
  native: Arch;
  /** Explicit filter arches (--arch); when empty, the profile's own list for the native arch. */
  arches?: Arch[];
  /** Capabilities the workload keeps. */
  caps: readonly string[];
  /** Kernel version as [major, minor], for minKernel. */
  kernel: readonly [number, number];
}

export function parseKernelVersion(text: string, where: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  if (!m) throw new StockadeError('input', `"${text}" is not a kernel version like 6.1`, where);
  return [Number(m[1]), Number(m[2])];
}

function kernelAtLeast(kernel: readonly [number, number], min: string): boolean {
  const [maj, min2] = parseKernelVersion(min, 'minKernel');
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= min2);
}

function archNames(list: readonly string[], where: string): Arch[] {
  return list.map((a) => parseArch(a, where)).filter((a): a is Arch => a !== undefined);
}

/** The arches the compiled filter lets through, native first. */
export function filterArches(profile: SeccompProfile, target: Target): Arch[] {
  if (target.arches && target.arches.length > 0) return [...new Set(target.arches)];
  let listed: Arch[];
  if (profile.archMap.length > 0) {
    const entry = profile.archMap.find((m) => parseArch(m.architecture, `${profile.source}: archMap`) === target.native);
    if (!entry) {
      throw new StockadeError('unsupported', `archMap has no entry for ${target.native}; add one or pass --arch`, profile.source);
    }
    listed = [target.native, ...archNames(entry.subArchitectures, `${profile.source}: archMap`)];
  } else if (profile.architectures.length > 0) {
    listed = archNames(profile.architectures, `${profile.source}: architectures`);
    if (!listed.includes(target.native)) {
      throw new StockadeError('unsupported', `architectures does not list ${target.native}, so every native syscall would be killed; add it or pass --arch`, profile.source);
    }
  } else {
    return [target.native];
  }
  const reachable = companionArches(target.native);
  return [target.native, ...listed.filter((a) => a !== target.native && reachable.includes(a))].filter((a, i, all) => all.indexOf(a) === i);
}

/** Docker's rule: every included cap must be held, no excluded cap may be held, arches match the native arch. */
function applies(inc: Conditions, exc: Conditions, target: Target, where: string): boolean {
  const has = (c: string) => target.caps.includes(c);
  const nativeIn = (list: readonly string[]) => list.some((a) => parseArch(a, where) === target.native);
  if (inc.caps && !inc.caps.every(has)) return false;
  if (inc.arches && !nativeIn(inc.arches)) return false;
  if (inc.minKernel && !kernelAtLeast(target.kernel, inc.minKernel)) return false;
  if (exc.caps && exc.caps.some(has)) return false;
  if (exc.arches && nativeIn(exc.arches)) return false;
  if (exc.minKernel && kernelAtLeast(target.kernel, exc.minKernel)) return false;
  return true;
}

function actionOf(kind: ActionKind, errnoRet: number | undefined): number {
  return kind === 'ERRNO' || kind === 'TRACE' ? actionValue(kind, errnoRet ?? DEFAULT_ERRNO) : actionValue(kind);
}

/** Resolves a profile into per-arch rules with syscall numbers. */
export function resolveProfile(profile: SeccompProfile, target: Target): SeccompFilter {
  const arches = filterArches(profile, target);
  const rules: Partial<Record<Arch, Rule[]>> = {};
  for (const a of arches) rules[a] = [];
  profile.syscalls.forEach((entry, order) => {
    if (!applies(entry.includes, entry.excludes, target, `${profile.source}: ${entry.path}`)) return;
    const action = actionOf(entry.action, entry.errnoRet);
    const conds: Cond[] = entry.args.map((a) =>
      a.op === 'MASKED_EQ'
        ? { index: a.index, op: a.op, mask: a.value, value: a.valueTwo & a.value }
        : { index: a.index, op: a.op, mask: U64, value: a.value });
    for (const arch of arches) {
      for (const name of entry.names) {
        const nr = syscallNumber(arch, name);
        if (nr === undefined) continue; // this arch has no such syscall (e.g. i386's socketcall on x86_64)
        rules[arch]!.push({ nr, name, action, conds, order, source: `${profile.source}: ${entry.path}` });
      }
    }
  });
  const filter: SeccompFilter = {
    arches,
    defaultAction: actionOf(profile.defaultAction, profile.defaultErrnoRet),
    rules,
    flags: [...profile.flags],
  };
  if (profile.listenerPath !== undefined) filter.listenerPath = profile.listenerPath;
  return filter;
}
