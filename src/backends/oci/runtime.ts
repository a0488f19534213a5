/**
 * The OCI runtimes stockade drives (runc, and runsc for gVisor): where they are, the private
 * directories their state and the bundles live in, the global flags each needs on this host, and
 * the sweep that removes what a killed stockade left behind. The only code that spawns runc or runsc
 * is in this folder.
 */
import { processAlive } from '../../host/processes.js';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StockadeError } from '../../errors.js';
import { which } from '../../host/probe.js';
import type { OciRuntime } from '../../oci/config.js';
import type { Policy } from '../../policy/types.js';

export type Isolation = 'runc' | 'gvisor';

export interface RuntimeInfo {
  isolation: Isolation;
  runtime: OciRuntime;
  /** The binary. */
  bin: string;
  /** Global flags before the subcommand (state root, log, and for runsc the platform and network). */
  global: string[];
  /** The private directory holding state/, bundles/. */
  base: string;
  state: string;
  bundles: string;
  /** Human name for messages. */
  name: string;
}

const INSTALL_HINT: Record<Isolation, string> = {
  runc: 'install runc (apt-get install runc)',
  gvisor: 'install gVisor (apt-get install runsc)',
};

/** Makes a private directory (mode 0700, ours, not a symlink), or refuses. */
export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = lstatSync(path);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid) {
    throw new StockadeError('io', `${path} is not a directory owned by uid ${uid}; remove it`, 'isolation');
  }
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o700);
  return path;
}

/** The private base directory: /run/stockade-oci as root, else under $XDG_RUNTIME_DIR or the temp dir. */
export function ociBaseDir(): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/stockade-oci';
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg ? join(xdg, 'stockade-oci') : join(tmpdir(), `stockade-oci-${uid}`);
}

/**
 * Finds the runtime and the flags this host needs: runc as it is; runsc on the ptrace platform
 * (KVM here serves only PVM guests, and runsc --platform=kvm hangs), with its network stack off
 * (--network=none) unless the policy shares the host's, with --oci-seccomp so the profile applies
 * inside the sandbox, --rootless when not root, and --ignore-cgroups when no limit needs a cgroup.
 */
export function runtimeInfo(isolation: Isolation, policy: Policy): RuntimeInfo {
  const runtime: OciRuntime = isolation === 'gvisor' ? 'runsc' : 'runc';
  const bin = which(runtime, ['/usr/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin']);
  if (!bin) throw new StockadeError('unsupported', `${runtime} is not installed; ${INSTALL_HINT[isolation]}, or use --isolation native`, 'isolation');
  if (runtime === 'runsc' && (process.getuid?.() ?? 0) !== 0) {
    // Debian's runsc 0.0~20221219 with --rootless fails to start its gofer in a user namespace
    // ("gofer: fork/exec /proc/self/exe: operation not permitted").
    throw new StockadeError('unsupported', 'gVisor (runsc) runs only as root on this host: its rootless mode cannot start its file proxy; run as root, or use --isolation runc or native', 'isolation');
  }
  const base = privateDir(ociBaseDir());
  const state = privateDir(join(base, runtime));
  const bundles = privateDir(join(base, 'bundles'));
  const global = ['--root', state];
  if (runtime === 'runsc') {
    global.push('--platform=ptrace', `--network=${policy.network === 'host' ? 'host' : 'none'}`);
    if (policy.syscalls.profile !== 'unconfined') global.push('--oci-seccomp');
    const uid = process.getuid?.() ?? 0;
    if (uid !== 0) global.push('--rootless');
    const lim = policy.limits;
    if (uid !== 0 || (lim.memory === undefined && lim.pids === undefined && lim.cpu === undefined)) global.push('--ignore-cgroups');
  }
  return { isolation, runtime, bin, global, base, state, bundles, name: runtime === 'runsc' ? 'gVisor (runsc)' : 'runc' };
}


/** Container ids are stockade-<pid>-<n>-<hex>: the pid of the stockade process that owns it. */
export const ID_PATTERN = /^stockade-(\d+)-\d+-[0-9a-f]+$/;

/** The ids named in a runtime's state dir (runc: one dir per id; runsc: files named after it). */
function idsIn(state: string): Set<string> {
  const out = new Set<string>();
  let names: string[] = [];
  try {
    names = readdirSync(state);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = /stockade-\d+-\d+-[0-9a-f]+/.exec(n);
    if (m) out.add(m[0]);
  }
  return out;
}

/** Whether the runtime still holds state for a container id. */
export function hasState(info: RuntimeInfo, id: string): boolean {
  return idsIn(info.state).has(id);
}

/** Force-deletes a container (kills what is left of it, removes its cgroups and state). */
export function forceDelete(info: RuntimeInfo, id: string): void {
  spawnSync(info.bin, [...info.global, 'delete', '--force', id], { stdio: 'ignore', timeout: 20_000 });
}

/**
 * Removes containers and bundles whose stockade process is gone (one killed with SIGKILL whose
 * watchdog was killed too): force-deletes them in this runtime and removes the bundle directory.
 */
export function sweep(info: RuntimeInfo): number {
  let removed = 0;
  const stale = (id: string) => {
    const m = ID_PATTERN.exec(id);
    return m !== null && Number(m[1]) !== process.pid && !processAlive(Number(m[1]));
  };
  for (const id of idsIn(info.state)) {
    if (!stale(id)) continue;
    forceDelete(info, id);
    removed++;
  }
  let bundles: string[] = [];
  try {
    bundles = readdirSync(info.bundles);
  } catch {
    /* none */
  }
  for (const id of bundles) {
    if (!stale(id)) continue;
    rmSync(join(info.bundles, id), { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * A watchdog that outlives stockade: a detached shell reading a pipe stockade holds. When stockade
 * ends the run it writes `done` and the shell exits; when stockade dies (even by SIGKILL) the pipe
 * closes, and the shell force-deletes the container and removes the bundle.
 */
export function startWatchdog(info: RuntimeInfo, id: string, bundle: string): { done(): void } {
  const script = 'read -r line; [ "$line" = done ] && exit 0; "$@" delete --force "$STOCKADE_ID" >/dev/null 2>&1; rm -rf "$STOCKADE_BUNDLE"';
  let child;
  try {
    child = spawn('/bin/sh', ['-c', script, 'stockade-watchdog', info.bin, ...info.global], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', STOCKADE_ID: id, STOCKADE_BUNDLE: bundle },
    });
  } catch {
    return { done() {} };
  }
  child.on('error', () => { /* no shell: the sweep of the next run cleans up */ });
  child.stdin?.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let finished = false;
  return {
    done() {
      if (finished) return;
      finished = true;
      try {
        child.stdin?.end('done\n');
      } catch {
        /* already gone */
      }
    },
  };
}
