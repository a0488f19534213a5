/**
 * The bundle for one run: the facts of this host and run (gathered here, the only effects before
 * the spawn), the pure config (src/oci/config.ts), and the directory runc or runsc reads: a private
 * 0700 directory holding config.json, the rootfs skeleton (the host's top-level symlinks and the
 * mount points), and the empty mode-0000 file and directory bound over hidden paths.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheKey, readCache, writeCache } from '../../host/cache.js';
import { parseJsonExact } from '../../json-exact.js';
import { StockadeError } from '../../errors.js';
import type { HostFacts } from '../../host/probe.js';
import { ociConfig, ociSeccomp, serializeConfig, type HardLimit, type HostRootEntry, type OciConfigResult, type OciFacts, type OciRuntime, type OciSeccompResult } from '../../oci/config.js';
import type { Policy, SyscallPolicy } from '../../policy/types.js';
import { hostArch } from '../../seccomp/arch.js';
import { loadPolicyProfile } from '../../policy/seccomp-profile.js';
import { isBuiltinName } from '../../seccomp/builtin.js';
import { cgroupBases, neededControllers } from '../native/cgroup.js';
import { buildEnv, existingPaths, hiddenPaths, resolveProgram, ownerOf } from '../native/view.js';
import type { RuntimeInfo } from './runtime.js';

export interface Bundle {
  id: string;
  dir: string;
  log: string;
  result: OciConfigResult;
  /** Layers dropped before the config (seccomp or namespaces this host lacks) and by it. */
  dropped: string[];
  notes: string[];
}

let counter = 0;

/** The entries of the host's /, for the read-only view. */
export function hostRootEntries(): HostRootEntry[] {
  const out: HostRootEntry[] = [];
  for (const d of readdirSync('/', { withFileTypes: true })) {
    if (d.isSymbolicLink()) {
      try {
        out.push({ name: d.name, kind: 'symlink', target: readlinkSync(join('/', d.name)) });
      } catch {
        /* vanished */
      }
    } else if (d.isDirectory()) out.push({ name: d.name, kind: 'dir' });
    else if (d.isFile()) out.push({ name: d.name, kind: 'file' });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const LIMIT_ROWS: Record<string, 'cpu' | 'nofile' | 'fsize' | 'core' | 'nproc' | 'as'> = {
  'Max cpu time': 'cpu', 'Max open files': 'nofile', 'Max file size': 'fsize', 'Max core file size': 'core',
  'Max processes': 'nproc', 'Max address space': 'as',
};

/** This process's hard limits, from /proc/self/limits. */
export function currentHardLimits(): OciFacts['hardLimits'] {
  const out: OciFacts['hardLimits'] = {};
  let text = '';
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    for (const [label, res] of Object.entries(LIMIT_ROWS)) {
      if (!line.startsWith(label)) continue;
      const cols = line.slice(label.length).trim().split(/\s+/);
      const hard = cols[1];
      if (hard === undefined) continue;
      out[res] = (hard === 'unlimited' ? 'unlimited' : Number(hard)) as HardLimit;
    }
  }
  return out;
}

const seccompCache = new Map<string, OciSeccompResult>();
let stamp: string | undefined;

/** Changes whenever the rewrite (src/oci/config.js) or any seccomp module changes. */
function moduleStamp(): string {
  if (stamp) return stamp;
  const here = dirname(fileURLToPath(import.meta.url));
  const files = [join(here, '..', '..', 'oci', 'config.js')];
  const sdir = join(here, '..', '..', 'seccomp');
  try {
    for (const f of readdirSync(sdir).sort()) if (f.endsWith('.js')) files.push(join(sdir, f));
  } catch {
    /* compiled elsewhere */
  }
  stamp = files.map((f) => {
    try {
      const st = statSync(f);
      return `${f}:${st.size}:${st.mtimeMs}`;
    } catch {
      return `${f}:-`;
    }
  }).join('\n');
  return stamp;
}

/** The policy's profile rewritten for OCI runtimes, cached per process. */
export function ociSeccompFor(sc: SyscallPolicy, caps: readonly string[], kernel: [number, number], runtime: OciRuntime): OciSeccompResult | undefined {
  if (sc.profile === 'unconfined') return undefined;
  const stamp = isBuiltinName(sc.profile) ? '' : (() => {
    try {
      const st = statSync(sc.profile);
      return `${st.size}:${st.mtimeMs}`;
    } catch {
      return '';
    }
  })();
  const key = `${runtime}|${sc.profile}|${stamp}|${sc.onViolation}|${[...caps].sort().join(',')}|${kernel.join('.')}`;
  const hit = seccompCache.get(key);
  if (hit) return hit;
  const fileKey = `oci-seccomp-${cacheKey(moduleStamp(), key, process.arch)}.json`;
  const cached = readCache(fileKey);
  if (cached) {
    try {
      const v = parseJsonExact(cached.toString('utf8'), fileKey) as unknown as OciSeccompResult;
      for (const e of v.seccomp.syscalls) for (const a of e.args ?? []) {
        a.value = BigInt(a.value);
        if (a.valueTwo !== undefined) a.valueTwo = BigInt(a.valueTwo);
      }
      seccompCache.set(key, v);
      return v;
    } catch {
      /* rewrite below */
    }
  }
  const out = ociSeccomp(loadPolicyProfile(sc.profile), { native: hostArch(), caps, kernel }, sc.onViolation, runtime);
  seccompCache.set(key, out);
  writeCache(fileKey, serializeConfig(out));
  return out;
}

function cgroupLimits(policy: Policy, host: HostFacts, info: RuntimeInfo): true | string {
  const controllers = neededControllers(policy.limits);
  if (controllers.length === 0) return true;
  if (host.uid !== 0) return `a rootless ${info.runtime} sets no cgroup limits on this host (cgroup ${host.cgroup.mode})`;
  const where = cgroupBases(host, controllers);
  return 'missing' in where ? where.missing : true;
}

export interface BundleOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  terminal: boolean;
}

/** Gathers the facts, builds the config and writes the bundle; nothing is left behind on error. */
export function createBundle(policy: Policy, host: HostFacts, info: RuntimeInfo, opts: BundleOptions): Bundle {
  const dropped: string[] = [];
  const bestEffort = policy.enforcement === 'best-effort';
  const refuse = (layer: string, why: string) => {
    if (bestEffort) dropped.push(`${layer}: ${why}`);
    else throw new StockadeError('unsupported', `${why}; or set enforcement: best-effort to run without it`, layer);
  };
  // gVisor implements seccomp and namespaces in its own kernel; runc needs the host's.
  if (info.runtime === 'runc' && policy.syscalls.profile !== 'unconfined' && !host.seccomp) refuse('seccomp', 'this kernel has no seccomp filtering (CONFIG_SECCOMP_FILTER)');
  if (info.runtime === 'runc' && host.uid !== 0 && !host.userns.ok) refuse('namespaces', host.userns.reason ?? 'user namespaces are unavailable');

  const callerCwd = opts.cwd ?? process.cwd();
  const cwd = policy.cwd ?? callerCwd;
  const env = buildEnv(policy, opts.env ?? process.env);
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5);
  const hostRoot = policy.filesystem.root === 'host';
  const program = resolveProgram(policy.command, pathVar, hostRoot ? '/' : policy.filesystem.root);
  const existing = existingPaths(policy, cwd);
  const granted = [...policy.filesystem.write, ...policy.filesystem.read, cwd];
  const hide = hiddenPaths(policy.filesystem.hide, granted);
  // The runtimes' state and the bundles (configs with environments) are not the workload's to read.
  if (hostRoot && !granted.some((g) => g.startsWith(info.base))) hide.push({ path: info.base, dir: true });
  const rootOwned = [...existing].filter((p) => ownerOf(p)?.uid === 0);
  const cwdOwner = ownerOf(cwd);
  const seccomp = host.seccomp || info.runtime === 'runsc' ? ociSeccompFor(policy.syscalls, policy.capabilities, host.kernel, info.runtime) : undefined;

  const id = `stockade-${process.pid}-${counter++}-${randomBytes(4).toString('hex')}`;
  const dir = join(info.bundles, id);
  const facts: OciFacts = {
    runtime: info.runtime,
    uid: host.uid,
    gid: process.getgid?.() ?? host.uid,
    cwd,
    program,
    env,
    ...(cwdOwner ? { cwdOwner } : {}),
    rootOwned,
    hide,
    existing: [...existing],
    hostRoot: hostRoot ? hostRootEntries() : [],
    hardLimits: currentHardLimits(),
    terminal: opts.terminal,
    hiddenFile: join(dir, 'hidden-file'),
    hiddenDir: join(dir, 'hidden-dir'),
    cgroupLimits: cgroupLimits(policy, host, info),
    ...(seccomp ? { seccomp: seccomp.seccomp } : {}),
  };
  if (host.uid === 0 && (info.runtime === 'runc' || !info.global.includes('--ignore-cgroups'))) facts.cgroupsPath = `/stockade-oci/${id}`;
  const result = ociConfig(policy, facts);

  mkdirSync(dir, { mode: 0o700 });
  try {
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs, { mode: 0o755 });
    chmodSync(rootfs, 0o755);
    for (const l of result.rootfs.links) symlinkSync(l.target, join(rootfs, l.name));
    for (const d of result.rootfs.dirs) mkdirSync(join(rootfs, d), { recursive: true, mode: 0o755 });
    for (const d of result.rootfs.tmpfsDirs) {
      mkdirSync(join(rootfs, d), { recursive: true });
      chmodSync(join(rootfs, d), 0o1777);
    }
    for (const f of result.rootfs.files) writeFileSync(join(rootfs, f), '', { mode: 0o644 });
    writeFileSync(facts.hiddenFile, '', { mode: 0 });
    chmodSync(facts.hiddenFile, 0);
    mkdirSync(facts.hiddenDir, { mode: 0 });
    chmodSync(facts.hiddenDir, 0);
    writeFileSync(join(dir, 'config.json'), serializeConfig(result.config), { mode: 0o600 });
  } catch (e) {
    removeBundle(dir);
    throw new StockadeError('io', `cannot write the OCI bundle: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, dir);
  }
  return { id, dir, log: join(dir, 'runtime.log'), result, dropped: [...dropped, ...result.dropped], notes: [...(seccomp?.notes ?? []), ...result.notes] };
}

export function removeBundle(dir: string): void {
  try {
    chmodSync(join(dir, 'hidden-dir'), 0o700);
  } catch {
    /* absent */
  }
  rmSync(dir, { recursive: true, force: true });
}
