/**
 * Policy -> `docker run` / `podman run` flags. Pure: Policy and options in, argv and text out; the
 * seccomp profile file is returned for the caller to write. Mappings: docs/kubernetes.md, "Docker
 * and podman".
 */
import type { JsonValue } from '../json-exact.js';
import type { Policy } from '../policy/types.js';
import { capabilityNames, envEntries, hiddenInsideMounts, identity, readPaths, settle, tmpfsPaths, writePaths, type Shortfall } from '../k8s/fidelity.js';
import { checkWorkloadName, profileNames } from '../k8s/names.js';
import type { Lsm } from '../k8s/pod.js';
import { adaptProfile, dockerProfileJson, policySeccompProfile } from '../k8s/seccomp.js';
import { stableJson } from '../k8s/yaml.js';

export type Engine = 'docker' | 'podman';
export const ENGINES: readonly Engine[] = ['docker', 'podman'];

export interface DockerOptions {
  name: string;
  /** Image to run; default the placeholder `IMAGE` (podman with a rootfs policy needs none). */
  image?: string;
  engine?: Engine;
  lsm?: Lsm;
  allowWeaker?: boolean;
  /** The path printed in `--security-opt seccomp=`; default `stockade-<name>.seccomp.json`. */
  seccompFile?: string;
  /** The parsed seccomp profile file, when policy.syscalls.profile names one. */
  seccompProfile?: JsonValue;
}

export interface DockerRun {
  engine: Engine;
  /** One entry per output line: a flag and its value, then the image, then the command. */
  groups: string[][];
  /** The profile file to write at `seccompFile` (absent for unconfined). */
  seccomp?: { path: string; content: string };
  dropped: string[];
}

/** docker's smallest memory limit (daemon/daemon_unix.go: linuxMinMemory). */
export const DOCKER_MIN_MEMORY = 6 * 1024 * 1024;

/** Bytes -> docker's size syntax, exactly (`512m`, `1536k`, `1000000b`). */
export function dockerSize(bytes: number): string {
  for (const [unit, size] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}b`;
}

export function dockerRun(policy: Policy, opts: DockerOptions): DockerRun {
  checkWorkloadName(opts.name);
  const engine = opts.engine ?? 'docker';
  const names = profileNames(opts.name, 'node');
  const lsm = opts.lsm ?? 'both';
  const lim = policy.limits;
  const read = readPaths(policy);
  const write = writePaths(policy);
  const rootfs = policy.filesystem.root !== 'host' && engine === 'podman' ? policy.filesystem.root : undefined;

  const short: Shortfall[] = [];
  if (policy.ports) short.push({ rule: 'ports', reason: `${engine} has no flag that limits the TCP ports a container binds or connects to` });
  let memory = lim.memory;
  if (memory !== undefined && memory < DOCKER_MIN_MEMORY && engine === 'docker') {
    short.push({ rule: 'limits.memory', reason: `docker's smallest memory limit is 6MiB, above the policy's ${memory} bytes` });
    memory = DOCKER_MIN_MEMORY;
  }
  if (lim.wallTimeMs !== undefined) {
    if (engine === 'docker') short.push({ rule: 'limits.wallTime', reason: 'docker run has no run-time limit (podman has --timeout: use --engine podman)' });
    else if (lim.wallTimeMs % 1000 !== 0) short.push({ rule: 'limits.wallTime', reason: `podman --timeout counts whole seconds; ${lim.wallTimeMs}ms would become ${Math.ceil(lim.wallTimeMs / 1000)}s` });
  }
  for (const h of hiddenInsideMounts(policy.filesystem.hide, [...read, ...write])) {
    short.push({ rule: `filesystem.hide[${h.index}]`, reason: `"${h.pattern}" lies inside the bind mount of ${h.mount}, and ${engine} cannot mask a path inside a bind mount without knowing what is there` });
  }
  const dropped = settle(policy, engine === 'podman' ? 'podman' : 'docker', short, opts.allowWeaker ?? false);

  const base = policySeccompProfile(policy, opts.seccompProfile);
  const seccompPath = opts.seccompFile ?? `stockade-${opts.name}.seccomp.json`;
  const { uid, gid } = identity(policy);
  const g: string[][] = [['--rm'], ['--read-only'], ['--user', `${uid}:${gid}`]];
  if (policy.cwd !== undefined) g.push(['--workdir', policy.cwd]);
  // Docker's none network is a private namespace with only lo, which is stockade's loopback.
  g.push(['--network', policy.network === 'host' ? 'host' : 'none']);
  if (policy.network !== 'host') g.push(['--hostname', policy.hostname]);
  g.push(['--ipc', 'private'], ['--cgroupns', 'private']);
  g.push(['--cap-drop', 'ALL']);
  for (const c of capabilityNames(policy)) g.push(['--cap-add', c]);
  g.push(['--security-opt', 'no-new-privileges']);
  g.push(['--security-opt', base ? `seccomp=${seccompPath}` : 'seccomp=unconfined']);
  if (lsm !== 'selinux') g.push(['--security-opt', `apparmor=${names.apparmor}`]);
  if (lsm !== 'apparmor') g.push(['--security-opt', `label=type:${names.selinuxType}`]);
  if (memory !== undefined) g.push(['--memory', dockerSize(memory)], ['--memory-swap', dockerSize(memory)]);
  if (lim.cpu !== undefined) g.push(['--cpus', String(lim.cpu)]);
  if (lim.pids !== undefined) g.push(['--pids-limit', String(lim.pids)]);
  g.push(['--ulimit', 'core=0:0']);
  if (lim.cpuTimeSec !== undefined) g.push(['--ulimit', `cpu=${lim.cpuTimeSec}:${lim.cpuTimeSec}`]);
  if (lim.fileSize !== undefined) g.push(['--ulimit', `fsize=${lim.fileSize}:${lim.fileSize}`]);
  if (lim.openFiles !== undefined) g.push(['--ulimit', `nofile=${lim.openFiles}:${lim.openFiles}`]);
  if (lim.wallTimeMs !== undefined && engine === 'podman') g.push(['--timeout', String(Math.ceil(lim.wallTimeMs / 1000))]);
  for (const t of tmpfsPaths(policy)) g.push(['--tmpfs', `${t}:rw,exec,nosuid,nodev,mode=1777`]);
  for (const r of read) g.push(['--volume', `${r}:${r}:ro`]);
  for (const w of write) g.push(['--volume', `${w}:${w}:rw`]);
  const set = envEntries(policy);
  const setNames = new Set(set.map(([k]) => k));
  for (const name of [...new Set(policy.env.inherit)].sort()) if (!setNames.has(name)) g.push(['--env', name]);
  for (const [k, v] of set) g.push(['--env', `${k}=${v}`]);
  if (policy.terminal === true) g.push(['--interactive'], ['--tty']);
  if (rootfs !== undefined) g.push(['--rootfs', rootfs]);
  else g.push([opts.image ?? 'IMAGE']);
  if (policy.command.length > 0) g.push([...policy.command]);

  const out: DockerRun = { engine, groups: g, dropped };
  if (base) out.seccomp = { path: seccompPath, content: stableJson(dockerProfileJson(adaptProfile(base, policy.capabilities, policy.syscalls.onViolation))) };
  return out;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting: bare when safe, else single quotes. */
export function shellQuote(s: string): string {
  if (s.length > 0 && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function header(r: DockerRun): string {
  return r.dropped.map((d) => `# dropped (--allow-weaker): ${d}\n`).join('');
}

/** One flag per line, continued with backslashes, ready to paste into a shell. */
export function renderLines(r: DockerRun): string {
  const lines = [`${r.engine} run`, ...r.groups.map((grp) => `  ${grp.map(shellQuote).join(' ')}`)];
  return `${header(r)}${lines.join(' \\\n')}\n`;
}

/** The whole command on one line. */
export function renderShell(r: DockerRun): string {
  return `${header(r)}${[`${r.engine} run`, ...r.groups.map((grp) => grp.map(shellQuote).join(' '))].join(' ')}\n`;
}

/** The argv (`docker`, `run`, flags..., image, command...). */
export function dockerArgv(r: DockerRun): string[] {
  return [r.engine, 'run', ...r.groups.flat()];
}
