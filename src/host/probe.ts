/**
 * What this host can enforce, asked of the kernel (native/build/host-probe) and read from /proc and
 * /sys. Used by `stockade doctor` and by the launcher's preflight.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { release } from 'node:os';
import { cacheKey, readCache, writeCache } from './cache.js';
import { runningKernel } from './kernel.js';

export type CgroupMode = 'v2' | 'hybrid' | 'v1' | 'none';

export interface HostFacts {
  kernel: [number, number];
  uid: number;
  seccomp: boolean;
  /** Linux 5.11+ caches "always allowed" per syscall. */
  seccompActionCache: boolean;
  landlockAbi: number; // 0 when unavailable
  landlockReason?: string;
  userns: { ok: boolean; reason?: string };
  lsm: { apparmor: boolean; selinux: 'enforcing' | 'permissive' | 'off' };
  cgroup: { mode: CgroupMode; v1Controllers: string[]; v2Root?: string; ownV2?: string };
  kvm: { present: boolean; usable: boolean };
  tools: Record<string, string | undefined>;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function which(cmd: string, extra: string[] = ['/usr/sbin', '/sbin']): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extra]) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

interface ProbeOut {
  seccomp: boolean;
  landlock_abi: number;
  userns_errno: number;
}

/**
 * The kernel's answers, cached per boot and user: they cannot change without a reboot, except the
 * user namespace sysctls, whose change the helper then reports as an error of its own.
 */
function kernelProbe(): ProbeOut | undefined {
  const bin = join(root, 'native', 'build', 'host-probe');
  const boot = read('/proc/sys/kernel/random/boot_id')?.trim() ?? 'unknown';
  const name = `host-${cacheKey(boot, String(process.getuid?.()), release())}.json`;
  const cached = readCache(name);
  if (cached) {
    try {
      return JSON.parse(cached.toString('utf8')) as ProbeOut;
    } catch {
      /* rewrite below */
    }
  }
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 5000 });
  try {
    const out = JSON.parse(r.stdout) as ProbeOut;
    writeCache(name, r.stdout);
    return out;
  } catch {
    return undefined;
  }
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 13: 'EACCES', 22: 'EINVAL', 28: 'ENOSPC', 38: 'ENOSYS', 95: 'EOPNOTSUPP' };

function usernsReason(errno: number): string {
  const restrict = read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim();
  if (restrict === '1') return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): add an AppArmor profile allowing userns for stockade-helper, or run as root';
  if (read('/proc/sys/kernel/unprivileged_userns_clone')?.trim() === '0') return 'unprivileged user namespaces are disabled: sysctl -w kernel.unprivileged_userns_clone=1';
  if (read('/proc/sys/user/max_user_namespaces')?.trim() === '0') return 'user namespaces are disabled: sysctl -w user.max_user_namespaces=15000';
  return `creating a user namespace failed with ${ERRNO_NAMES[errno] ?? `errno ${errno}`}`;
}

export function cgroupFacts(): HostFacts['cgroup'] {
  const mounts = read('/proc/self/mountinfo') ?? '';
  let v2Root: string | undefined;
  const v1: string[] = [];
  for (const line of mounts.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4]!;
    const [fstype, , opts] = post.split(' ');
    if (fstype === 'cgroup2' && (v2Root === undefined || mountPoint === '/sys/fs/cgroup')) v2Root = mountPoint;
    if (fstype === 'cgroup') {
      for (const c of ['memory', 'pids', 'cpu']) if (opts?.split(',').includes(c) && !v1.includes(c)) v1.push(c);
    }
  }
  const own = /^0::(.*)$/m.exec(read('/proc/self/cgroup') ?? '')?.[1];
  const mode: CgroupMode = v1.length > 0 ? (v2Root ? 'hybrid' : 'v1') : v2Root ? 'v2' : 'none';
  const out: HostFacts['cgroup'] = { mode, v1Controllers: v1 };
  if (v2Root) out.v2Root = v2Root;
  if (own !== undefined) out.ownV2 = own;
  return out;
}

/** What this host can enforce; `tools` also looks for the programs doctor lists. */
export function probeHost(opts: { tools?: boolean } = { tools: true }): HostFacts {
  const k = kernelProbe();
  const kernel = runningKernel();
  const selinuxEnforce = read('/sys/fs/selinux/enforce')?.trim();
  const facts: HostFacts = {
    kernel,
    uid: process.getuid?.() ?? -1,
    seccomp: k?.seccomp ?? existsSync('/proc/sys/kernel/seccomp/actions_avail'),
    seccompActionCache: kernel[0] > 5 || (kernel[0] === 5 && kernel[1] >= 11),
    landlockAbi: k && k.landlock_abi > 0 ? k.landlock_abi : 0,
    userns: k ? (k.userns_errno === 0 ? { ok: true } : { ok: false, reason: usernsReason(k.userns_errno) }) : { ok: false, reason: 'native/build/host-probe is missing: run npm install' },
    lsm: {
      apparmor: read('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y',
      selinux: selinuxEnforce === '1' ? 'enforcing' : selinuxEnforce === '0' ? 'permissive' : 'off',
    },
    cgroup: cgroupFacts(),
    kvm: { present: existsSync('/dev/kvm'), usable: false },
    tools: {},
  };
  if (k && k.landlock_abi <= 0) {
    facts.landlockReason = k.landlock_abi === -95
      ? 'Landlock is built in but not enabled: add landlock to the lsm= kernel parameter (e.g. lsm=landlock,lockdown,yama,apparmor,bpf)'
      : 'the kernel has no Landlock (Linux 5.13+ with CONFIG_SECURITY_LANDLOCK=y)';
  }
  if (facts.kvm.present) {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      facts.kvm.usable = true;
    } catch {
      /* present but not ours */
    }
  }
  if (opts.tools) {
    for (const t of ['runc', 'crun', 'runsc', 'qemu-system-x86_64', 'bwrap', 'strace', 'podman', 'apparmor_parser', 'secilc', 'firejail']) {
      facts.tools[t] = which(t);
    }
  }
  return facts;
}
