/**
 * From what a recording saw to the smallest policy that still runs the workload: a seccomp
 * profile of the syscalls made (with conditions where the use was narrow), the file system paths
 * collapsed to directories (the rule is in docs/recording.md), and the network use.
 */
import { posix } from 'node:path';
import type { Policy } from '../policy/types.js';
import { CAPABILITY_NAMES, CAPABILITY_NUMBERS } from '../policy/capabilities.js';
import { NARROW_FIRST_ARG, type Observation } from './observation.js';

/** Trees a program reads as a whole (libraries, binaries, configuration): granted as a whole. */
const SYSTEM_TREES = ['/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin', '/etc', '/opt', '/snap', '/nix'];
/** What the sandbox provides itself: never granted from the host. */
const PROVIDED = ['/proc', '/dev', '/sys', '/tmp'];

/** Syscalls every recorded program needs to start and end, whether or not the trace shows them. */
export const ESSENTIAL_SYSCALLS: readonly string[] = ['execve', 'exit', 'exit_group', 'rt_sigreturn'];

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** `path` and every directory above it ('/a/b' -> '/a/b', '/a', '/'). */
function selfAndAncestors(path: string): string[] {
  const out = [path];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) out.push(path.slice(0, i));
  if (path !== '/') out.push('/');
  return out;
}

/** The paths not inside another of them (linear in the number of paths times their depth). */
function topmost(paths: Iterable<string>): string[] {
  const all = new Set(paths);
  return [...all].filter((p) => !selfAndAncestors(p).slice(1).some((a) => all.has(a))).sort();
}

/**
 * The collapsing rule: paths the sandbox provides are dropped; a path in a system tree becomes the
 * tree; any other path becomes its directory (a directory stays itself); then paths inside another
 * kept path are dropped.
 */
export function collapse(paths: Iterable<string>, isDir: (p: string) => boolean, provided: readonly string[] = PROVIDED): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (provided.some((d) => under(p, d)) || p === '/') continue;
    const tree = SYSTEM_TREES.find((t) => under(p, t));
    if (tree) out.push(tree === '/opt' || tree === '/snap' || tree === '/nix' ? p.split('/').slice(0, 3).join('/') : tree);
    else out.push(isDir(p) ? p : posix.dirname(p));
  }
  return topmost(out.filter((p) => p !== '/'));
}

export interface RecordedOutput {
  /** The policy document (what the YAML file holds). */
  policy: Record<string, unknown>;
  /** The Docker / OCI seccomp profile the policy references. */
  profile: Record<string, unknown>;
}

/**
 * @param base the policy the recording ran under (its limits, hidden paths, env carry over)
 * @param profileRef how the policy names the profile file (a path relative to the policy file)
 */
export function recordedPolicy(o: Observation, base: Policy, cwd: string, profileRef: string, isDir: (p: string) => boolean): RecordedOutput {
  const provided = [...PROVIDED, ...base.filesystem.tmpfs];
  const content = [...o.files.read, ...o.files.write, ...o.files.exec];
  // A directory only looked at on the way to a file (realpath's lstat of /var, /var/tmp...) needs
  // no grant of its own: binding the file's directory makes it exist.
  const onTheWay = new Set(content.flatMap(selfAndAncestors));
  const stats = [...o.files.stat].filter((s) => !(onTheWay.has(s) && isDir(s)));
  const write = collapse(o.files.write, isDir, provided);
  const read = collapse([...o.files.read, ...o.files.exec, ...stats], isDir, provided).filter((r) => !write.some((w) => under(r, w)));
  const loopbackOnly = [...o.network.connect, ...o.network.bind].every((e) => e.address === '127.0.0.1' || e.address === '::1' || e.address === '0.0.0.0' || e.address === '::');
  const usesInet = o.network.connect.length > 0 || o.network.bind.length > 0;
  const network = !usesInet ? 'none' : loopbackOnly ? 'loopback' : 'host';
  const ports = network === 'none' ? undefined : recordedPorts(o);
  const policy: Record<string, unknown> = {
    command: base.command,
    cwd,
    env: { inherit: base.env.inherit, set: base.env.set },
    filesystem: { root: 'empty', read, write, tmpfs: base.filesystem.tmpfs, hide: base.filesystem.hide },
    network,
    ...(ports ? { ports } : {}),
    syscalls: { profile: profileRef, onViolation: base.syscalls.onViolation },
    capabilities: recordedCapabilities(o, base),
    landlock: base.landlock,
  };
  const limits: Record<string, unknown> = {};
  const l = base.limits;
  if (l.memory !== undefined) limits.memory = l.memory;
  if (l.pids !== undefined) limits.pids = l.pids;
  if (l.cpu !== undefined) limits.cpu = l.cpu;
  if (l.wallTimeMs !== undefined) limits.wallTime = `${l.wallTimeMs}ms`;
  if (l.cpuTimeSec !== undefined) limits.cpuTime = `${l.cpuTimeSec}s`;
  if (l.openFiles !== undefined) limits.openFiles = l.openFiles;
  if (l.fileSize !== undefined) limits.fileSize = l.fileSize;
  if (Object.keys(limits).length > 0) policy.limits = limits;
  return { policy, profile: recordedProfile(o) };
}

/**
 * The capabilities to keep: of those BASE keeps, the ones the workload was granted when the kernel
 * checked (a recording never adds one BASE did not grant). Unobserved (strace), BASE's stay.
 */
export function recordedCapabilities(o: Observation, base: Policy): string[] {
  if (!o.capabilities) return [...base.capabilities];
  return base.capabilities.filter((c) => o.capabilities!.granted.has(CAPABILITY_NUMBERS[c]!));
}

/** The header line saying what the recording saw of capabilities. */
export function capabilitiesHeader(o: Observation, base: Policy, recorder: string): string {
  const kept = base.capabilities.length ? base.capabilities.join(', ') : 'none';
  if (!o.capabilities) return `capabilities: not observable ${recorder === 'strace' ? 'under strace' : 'on this kernel (no capability:cap_capable tracepoint)'}; kept as BASE grants them (${kept})`;
  const name = (n: number) => CAPABILITY_NAMES.find((c) => CAPABILITY_NUMBERS[c] === n) ?? `capability ${n}`;
  const used = [...o.capabilities.granted].sort((a, b) => a - b).map(name);
  const denied = [...o.capabilities.denied].filter((n) => !o.capabilities!.granted.has(n)).sort((a, b) => a - b).map(name);
  return `capabilities: used ${used.length ? used.join(', ') : 'none'}${denied.length ? `; checked but not held: ${denied.join(', ')}` : ''}`;
}

/**
 * TCP ports from what the workload bound and connected to. A connect to a port the workload got
 * from bind(0) (a server and its client in one workload) cannot be named ahead of time: then
 * connects stay open and only binds are restricted.
 */
export function recordedPorts(o: Observation): { bind: number[]; connect?: number[] } {
  const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
  const bind = uniq(o.network.bind.map((e) => e.port));
  const ephemeral = new Set(bind.includes(0) ? o.network.bound.map((e) => e.port).filter((p) => p !== 0) : []);
  const connect = uniq(o.network.connect.map((e) => e.port));
  return connect.some((p) => ephemeral.has(p)) ? { bind } : { bind, connect };
}

/** The seccomp profile: the syscalls seen per arch, narrow first arguments as conditions. */
export function recordedProfile(o: Observation): Record<string, unknown> {
  const arches = (['x86_64', 'x86'] as const).filter((a) => o.syscalls[a]?.size);
  const names = new Set<string>(ESSENTIAL_SYSCALLS);
  for (const a of arches) for (const n of o.syscalls[a]!) names.add(n);
  const plain = [...names].filter((n) => !(NARROW_FIRST_ARG.includes(n) && o.firstArgs.has(n))).sort();
  const syscalls: Array<Record<string, unknown>> = [
    { names: plain, action: 'SCMP_ACT_ALLOW', comment: 'made by the workload while it was recorded' },
  ];
  for (const n of NARROW_FIRST_ARG) {
    const values = o.firstArgs.get(n);
    if (!names.has(n) || !values) continue;
    for (const v of [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      // The low 32 bits: these arguments are ints, and the kernel reads only those.
      syscalls.push({ names: [n], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, valueTwo: Number(v & 0xffffffffn), op: 'SCMP_CMP_MASKED_EQ' }], comment: `${n} was only called with ${v} as its first argument` });
    }
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: arches.map((a) => (a === 'x86_64' ? 'SCMP_ARCH_X86_64' : 'SCMP_ARCH_X86')),
    syscalls,
  };
}
