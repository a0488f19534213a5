/**
 * Policy -> AppArmor 3.0 profile text. PURE: no file system, no processes, no clock, no
 * environment; the same policy gives the same bytes on any machine (rules are sorted, nothing
 * machine-specific is written).
 *
 * The profile describes the workload as `stockade run` shows it the world: paths are the paths the
 * workload sees (after stockade's pivot_root into the host root view or into a root file system
 * directory), which is also how AppArmor names objects (relative to the mount namespace's root).
 * A policy rule the profile cannot express faithfully is refused with StockadeError('input'),
 * never written as a weaker rule. Limits of the format that apply to every policy (no private
 * /tmp, no loopback-only addresses, ...) are stated in the profile's comments and docs/mac.md.
 */
import { StockadeError } from '../errors.js';
import { PROC_MASKED, PROC_READ_ONLY } from '../policy/procfs.js';
import type { Policy } from '../policy/types.js';
import { APPARMOR_FORMAT, checkPath, complementOf, componentMatches, components, quote, refuse, withTree, type PathSource } from './paths.js';

export type AppArmorMode = 'enforce' | 'complain';

export interface AppArmorOptions {
  /** Profile name suffix (`stockade-<name>`); default: the command's basename, else `sandbox`. */
  name?: string;
  mode?: AppArmorMode;
}

/** What stockade run's /dev holds (native/helper/mounts.c dev_op): devices, directories, links. */
export const RUN_DEV_DEVICES = ['full', 'null', 'random', 'tty', 'urandom', 'zero'] as const;
export const RUN_DEV_ENTRIES = [...RUN_DEV_DEVICES, 'fd', 'ptmx', 'pts', 'shm', 'stderr', 'stdin', 'stdout'] as const;

/** Every file permission, for deny rules (read, write, append via w, link, lock, mmap exec, exec). */
const ALL_FILE = 'mrwlkx';

/**
 * The name part of a profile or module name. An explicit name must already be lower-case letters,
 * digits, `_` and `-`; a name taken from the command is folded into that alphabet.
 */
export function sandboxName(policy: Policy, name?: string): string {
  if (name !== undefined) {
    if (!/^[a-z0-9_-]{1,64}$/.test(name)) throw new StockadeError('usage', `"${name}" is not a valid name: use 1 to 64 lower-case letters, digits, _ and -`, '--name');
    return name;
  }
  const cmd = policy.command[0];
  const base = cmd === undefined ? '' : cmd.slice(cmd.lastIndexOf('/') + 1);
  const folded = base.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64).replace(/-+$/, '');
  return folded === '' ? 'sandbox' : folded;
}

export function appArmorProfileName(policy: Policy, name?: string): string {
  return `stockade-${sandboxName(policy, name)}`;
}

interface Grant {
  comps: string[];
  src: PathSource;
  path: string;
}

function sortedUnique(lines: Iterable<string>): string[] {
  return [...new Set(lines)].sort();
}

/**
 * Deny-rule path expressions that hide `pattern` while leaving the granted paths inside it (and
 * the directories leading to them) reachable, as stockade run does ("hidden entry by entry").
 * Deny rules beat allow rules in AppArmor, so the exceptions are carved out of the deny side: at
 * each directory on the way to a grant, every other name is denied, via complementOf().
 */
function hideExpressions(pattern: string[], patternSrc: PathSource, grants: readonly Grant[]): string[] {
  const n = pattern.length;
  const inside = grants.filter((g) => g.comps.length >= n && pattern.every((p, i) => componentMatches(p, g.comps[i]!)));
  if (inside.length === 0) return [withTree(pattern)];
  const out: string[] = [];
  const walk = (k: number, prefix: string[], here: Grant[]) => {
    if (here.some((g) => g.comps.length === k)) return; // this path is granted: nothing below it is hidden
    const names = sortedUnique(here.map((g) => g.comps[k]!));
    if (k < n && !pattern[k]!.includes('*')) {
      walk(k + 1, [...prefix, pattern[k]!], here);
      return;
    }
    if (k < n && pattern[k] !== '*') {
      const g = here[0]!;
      refuse(g.src, g.path, `it lies inside ${patternSrc.rule} ${JSON.stringify(`/${pattern.join('/')}`)}, and AppArmor cannot deny the other matches of "${pattern[k]}" while allowing "${g.comps[k]}"`);
    }
    const globs = complementOf(names);
    if (!globs) {
      const g = here.find((x) => !/^[\x20-\x7e]+$/.test(x.comps[k]!))!;
      refuse(g.src, g.path, `it lies inside ${patternSrc.rule} ${JSON.stringify(`/${pattern.join('/')}`)}, and the name "${g.comps[k]}" is not plain ASCII, which AppArmor character classes need to deny its neighbours`);
    }
    const rest = k < n ? pattern.slice(k + 1) : [];
    for (const glob of globs) out.push(withTree([...prefix, glob, ...rest]));
    for (const name of names) walk(k + 1, [...prefix, name], here.filter((g) => g.comps[k] === name));
  };
  walk(0, [], inside);
  return out;
}

function denyLines(exprs: readonly string[], perms: string): string[] {
  return sortedUnique(exprs).map((e) => `  deny ${quote(e)} ${perms},`);
}

export function generateAppArmor(policy: Policy, opts: AppArmorOptions = {}): string {
  if (policy.ports) {
    throw new StockadeError('input', `TCP port rules cannot be expressed in ${APPARMOR_FORMAT}: its network rules name families and types, not ports`, `${policy.source}: ports`);
  }
  const name = appArmorProfileName(policy, opts.name);
  const mode = opts.mode ?? 'enforce';
  const fs = policy.filesystem;
  const src = (rule: string): PathSource => ({ rule, source: policy.source });
  const hostRoot = fs.root === 'host';

  const write = fs.write.map((p, i) => ({ path: p, src: src(`filesystem.write[${i}]`), norm: checkPath(p, src(`filesystem.write[${i}]`)) }));
  const read = fs.read.map((p, i) => ({ path: p, src: src(`filesystem.read[${i}]`), norm: checkPath(p, src(`filesystem.read[${i}]`)) }));
  const tmpfs = fs.tmpfs.map((p, i) => ({ path: p, src: src(`filesystem.tmpfs[${i}]`), norm: checkPath(p, src(`filesystem.tmpfs[${i}]`)) }));
  const hide = fs.hide.map((p, i) => ({ path: p, src: src(`filesystem.hide[${i}]`), norm: checkPath(p, src(`filesystem.hide[${i}]`), true) }));
  // stockade run makes an explicit working directory writable when the root is the host's
  // (plan-builder.ts writablePaths); the caller's directory is a run-time fact a profile cannot know.
  const cwd = policy.cwd !== undefined ? checkPath(policy.cwd, src('cwd')) : undefined;
  const cwdWritable = hostRoot && cwd !== undefined && cwd !== '/';

  // What stockade run treats as granted when hiding (run.ts: write, read and the working directory).
  const grants: Grant[] = [...write, ...read].map((g) => ({ comps: components(g.norm), src: g.src, path: g.path }));
  if (cwd !== undefined) grants.push({ comps: components(cwd), src: src('cwd'), path: policy.cwd! });

  const L: string[] = [];
  const line = (s = '') => L.push(s);
  line(`# AppArmor profile ${name}, generated by stockade from a policy. Regenerate, do not edit:`);
  line('#   stockade apparmor generate POLICY');
  line('# Paths are the paths the workload sees inside stockade\'s view of the file system.');
  line('# Not in this profile (other layers of stockade run enforce them): seccomp, Landlock, namespaces,');
  line('# cgroup limits (memory, pids, cpu), the wall-clock limit, user and environment. See docs/mac.md.');
  line('');
  line('abi <abi/3.0>,');
  line('');
  const flags = ['attach_disconnected', 'mediate_deleted', ...(mode === 'complain' ? ['complain'] : [])];
  line(`profile ${name} flags=(${flags.join(',')}) {`);

  line('  # File system: the read-only view. Reading, mapping, locking and executing (in this profile).');
  line(hostRoot ? '  # filesystem.root: host' : `  # filesystem.root: ${JSON.stringify(fs.root)} (the workload sees it as /)`);
  line('  /** rmkix,');
  for (const r of [...read].sort((a, b) => (a.norm < b.norm ? -1 : a.norm > b.norm ? 1 : 0))) {
    line(`  # ${r.src.rule}: ${JSON.stringify(r.norm)} is inside the read-only view`);
  }
  line('');

  line('  # File system: writable paths (filesystem.write).');
  const writeExprs = write.map((w) => withTree(components(w.norm)));
  if (cwdWritable) writeExprs.push(withTree(components(cwd!)));
  if (writeExprs.length === 0) line('  # none');
  for (const e of sortedUnique(writeExprs)) line(`  ${quote(e)} rwlk,`);
  if (cwdWritable) line(`  # cwd ${JSON.stringify(cwd)} is writable: stockade run makes the working directory writable.`);
  else if (hostRoot) {
    line('  # The working directory: stockade run makes the caller\'s directory writable, which a profile');
    line('  # cannot know; only the paths above are writable (set cwd in the policy to grant it).');
  } else line('  # The working directory is not writable with a root file system directory, as in stockade run.');
  line('');

  line('  # File system: private tmpfs paths (filesystem.tmpfs). AppArmor cannot mount a private, empty');
  line('  # file system; it grants read-write on the path, and only on files the workload owns.');
  if (tmpfs.length === 0) line('  # none');
  for (const e of sortedUnique(tmpfs.map((t) => components(t.norm)).map((c) => (c.length === 0 ? '/**' : `/${c.join('/')}/**`)))) {
    line(`  owner ${quote(e)} rwlk,`);
  }
  line('');

  line('  # /dev: only what stockade run provides (null, zero, full, random, urandom, tty, a pty, /dev/shm).');
  line(`  /dev/{${RUN_DEV_DEVICES.join(',')}} rw,`);
  line('  /dev/ptmx rw,');
  line('  /dev/pts/* rw,');
  line('  owner /dev/shm/** rwlk,');
  const devGrants: Grant[] = [...RUN_DEV_ENTRIES.map((e) => ({ comps: ['dev', e], src: src('/dev'), path: `/dev/${e}` })), ...grants];
  L.push(...denyLines(hideExpressions(['dev'], src('/dev'), devGrants), ALL_FILE));
  line('');

  line('  # Hidden paths (filesystem.hide): no access at all. A granted path inside a hidden directory stays');
  line('  # reachable, with everything beside it denied, as stockade run hides such a directory entry by entry.');
  if (hide.length === 0) line('  # none');
  const hideExprs: string[] = [];
  for (const h of hide) hideExprs.push(...hideExpressions(components(h.norm), h.src, grants));
  L.push(...denyLines(hideExprs, ALL_FILE));
  line('');

  line('  # Kernel interfaces: read-only or hidden as in stockade run, plus what container profiles also deny.');
  L.push(...denyLines(PROC_READ_ONLY.map((p) => withTree(components(p))), 'wl'));
  L.push(...denyLines([...PROC_MASKED, '/proc/*/mem', '/dev/mem', '/dev/kmem', '/dev/port', '/sys/firmware', '/sys/kernel/security']
    .map((p) => withTree(components(p))), ALL_FILE));
  line('  deny /sys/** wl,');
  line('');

  line('  # Capabilities kept (everything else is denied).');
  const caps = sortedUnique(policy.capabilities.map((c) => c.replace(/^CAP_/, '').toLowerCase()));
  if (caps.length === 0) line('  # none');
  for (const c of caps) line(`  capability ${c},`);
  line('');

  line(`  # Network: ${policy.network}.`);
  if (policy.network === 'none') {
    line('  network unix,');
    line('  deny network inet,');
    line('  deny network inet6,');
    line('  deny network packet,');
  } else if (policy.network === 'loopback') {
    line('  # AppArmor cannot restrict addresses: these rules allow TCP and UDP to any address. stockade run');
    line('  # confines them to loopback with a network namespace; this profile alone does not.');
    line('  network unix,');
    line('  network inet stream,');
    line('  network inet dgram,');
    line('  network inet6 stream,');
    line('  network inet6 dgram,');
    line('  network netlink raw,');
    line('  deny network packet,');
  } else {
    line('  network,');
  }
  line('  unix,');
  if (policy.network !== 'host') {
    line('  # Abstract unix sockets outside the sandbox (stockade run\'s network namespace isolates them).');
    line('  # Enforced only on kernels with AppArmor unix socket mediation.');
    line('  deny unix (connect) peer=(addr=@**),');
  }
  line('');

  line('  # Processes: no mounts, signals and ptrace only within this profile.');
  line('  deny mount,');
  line('  deny umount,');
  line('  deny pivot_root,');
  line(`  signal (send, receive) peer=${name},`);
  line('  signal (receive) peer=unconfined,');
  line(`  ptrace (trace, read, tracedby, readby) peer=${name},`);
  line('  # Nothing grants ptrace of, or signals to, any other process: AppArmor denies them.');

  const lim = policy.limits;
  const rl: string[] = [];
  if (lim.cpuTimeSec !== undefined) rl.push(`  set rlimit cpu <= ${lim.cpuTimeSec},`);
  if (lim.fileSize !== undefined) rl.push(`  set rlimit fsize <= ${lim.fileSize},`);
  if (lim.openFiles !== undefined) rl.push(`  set rlimit nofile <= ${lim.openFiles},`);
  rl.push('  set rlimit core <= 0,');
  line('');
  line('  # Resource limits (limits.cpuTime, fileSize, openFiles; no core dumps, as in stockade run).');
  L.push(...rl);
  line('}');
  return `${L.join('\n')}\n`;
}

export { APPARMOR_FORMAT };
