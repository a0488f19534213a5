/**
 * The adversarial suite (test/adversarial) inside podman containers, through runc (the anchor)
 * and stockade-runtime (bin/stockade-runtime; skipped, with the reason, until it is built).
 *
 * The probes are built statically (`cc -static`; libc6-dev has libc.a) into
 * native/build/adversarial-static/ and imported, with busybox, as a second image; each probe runs as
 * `podman --runtime R run --rm --network none [resource flags] IMAGE /probes/NAME ARGS` with
 * podman's defaults otherwise: its default seccomp profile, its 14 default capabilities, no
 * no_new_privileges, runc's masked and read-only paths.
 *
 * The placeholders (setupProbeEnv) inside a container:
 *  - {secret}, {marker} and their tokens: host paths that are simply not in the container (the
 *    container's mount namespace is the thing under test: the probes must not reach them);
 *  - {rw_dir} and {ro_dir}: the host directories, mounted at the same paths (-v, and -v ...:ro);
 *  - {mnt}: a tmpfs podman mounts at /mnt (--tmpfs /mnt), the mount the probe tries to detach;
 *  - {outside_pid}: a process on the host, outside the container's pid namespace;
 *  - {port} and {abstract}: listeners on the host's loopback and in its network namespace;
 *  - {suid}: /probes/suid_target.setuid in the image (root-owned, mode 4755);
 *  - {pty}: as in the native suite (ON_STDIN), tiocsti and tioclinux target the sandbox's own stdin
 *    terminal: here the pty podman gives the container with -t (the host pty is not visible).
 * Resource flags mirror the native suite's (--memory 256M --pids 64 --timeout 30s, 3s for
 * cpu_spin): --memory 256m --pids-limit 64 --timeout 30|3.
 * As in the native suite, outside evidence backs the probes' word: the listeners saw no connection,
 * the outside process lives, core_pattern is unchanged.
 *
 * Expectations. stockade-runtime is stockade's sandbox behind podman: every probe must end as the
 * manifest's confined_expect says (blocked, or killed/timeout where listed). runc with podman's
 * defaults is not that sandbox: RUNC_BASELINE records what it really does here, each probe pinned
 * to its observed outcome, so the suite compares the two and fails if runc (or this harness) changes.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CFLAGS, fillArgs, KERNEL_FEATURE_NEEDS, loadManifest, parseReport, probeSourceDir, setupProbeEnv, unmetNeeds,
  type Outcome, type ProbeEnv, type ProbeSpec,
} from './support/adversarial.js';
import {
  buildBusyboxTree, describeResult, findStaticBusybox, hung, podmanSession, repoRoot, RUNC, runtimeUnavailable, STOCKADE_RUNTIME, type Podman, type PodmanResult,
} from './support/podman.js';

const PROBE_IMAGE = 'localhost/stockade-probes:test';
const STATIC_DIR = join(repoRoot, 'native', 'build', 'adversarial-static');
const manifest = loadManifest();
/** Probes aimed at the sandbox's own stdin terminal (podman -t), as in sandbox-adversarial. */
const ON_STDIN = new Set(['tiocsti', 'tioclinux']);

/**
 * What runc 1.1.5 under podman 4.3.1's defaults does with each probe on this project's machine
 * (kernel 6.18, cgroups v1, root), as observed. The escapes are things podman's defaults allow, not
 * bugs in runc: podman's seccomp profile (containers-common 0.50) allows unshare/clone with
 * CLONE_NEWUSER, keyctl, modify_ldt, socket() of any family, ioctl and the int 0x80 i386 table;
 * it sets no no_new_privileges; its device cgroup allows c 1:5 (/dev/zero). stockade's own sandbox
 * blocks all of these (manifest confined_expect), and so must stockade-runtime.
 * Probes the kernel here cannot run at all (x32, AF_ALG, sysrq) report "unsupported" and are
 * skipped with the reason under every runtime; they are listed for completeness.
 */
const sysctl = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
};
/** Host settings some escapes depend on (both are as below on this project's machines). */
const USERNS = (sysctl('/proc/sys/user/max_user_namespaces') ?? '1') !== '0';
const LEGACY_TIOCSTI = sysctl('/proc/sys/dev/tty/legacy_tiocsti') !== '0';
const ifUserns = (why: string) =>
  USERNS ? { outcome: 'escaped' as Outcome, why } : { outcome: 'blocked' as Outcome, why: 'user.max_user_namespaces is 0 on this host' };

const RUNC_BASELINE: Record<string, { outcome: Outcome; why: string }> = {
  mount_tmpfs: { outcome: 'blocked', why: 'mount(2) needs CAP_SYS_ADMIN, which podman drops (EPERM)' },
  umount_detach: { outcome: 'blocked', why: 'umount2 of the --tmpfs /mnt needs CAP_SYS_ADMIN (EPERM)' },
  unshare_user: ifUserns('the profile allows unshare, and CLONE_NEWUSER needs no capability'),
  unshare_mnt: { outcome: 'blocked', why: 'CLONE_NEWNS needs CAP_SYS_ADMIN (EPERM)' },
  setns_mnt: { outcome: 'blocked', why: 'the outside pid is not in the container pid namespace (/proc/PID: ENOENT)' },
  ptrace_attach: { outcome: 'blocked', why: 'the outside pid is invisible in the container pid namespace (ESRCH)' },
  kill_outside: { outcome: 'blocked', why: 'the outside pid is invisible in the container pid namespace (ESRCH)' },
  read_secret: { outcome: 'blocked', why: 'the secret is not in the container mount namespace (ENOENT)' },
  symlink_secret: { outcome: 'blocked', why: 'the link target does not exist in the container (ENOENT)' },
  hardlink_secret: { outcome: 'blocked', why: 'the link source does not exist in the container (ENOENT)' },
  proc_root_secret: { outcome: 'blocked', why: 'the outside pid has no /proc entry in the container (ENOENT)' },
  open_by_handle: { outcome: 'blocked', why: 'open_by_handle_at is denied by the profile and needs CAP_DAC_READ_SEARCH (EPERM)' },
  write_ro: { outcome: 'blocked', why: 'the -v ...:ro volume is a read-only bind mount (EROFS)' },
  i386_unshare: ifUserns('the profile lists SCMP_ARCH_X86: int 0x80 unshare(CLONE_NEWUSER) is allowed'),
  x32_getpid: { outcome: 'error', why: 'no x32 ABI in this kernel (skipped as unsupported)' },
  io_uring_setup: { outcome: 'blocked', why: 'io_uring_setup is not in the profile: default action ENOSYS' },
  keyctl_join: { outcome: 'escaped', why: 'the profile allows keyctl: KEYCTL_JOIN_SESSION_KEYRING works (add_key is denied)' },
  bpf_load: { outcome: 'blocked', why: 'bpf is denied by the profile (EPERM)' },
  perf_event_open: { outcome: 'blocked', why: 'perf_event_open is denied by the profile (EPERM)' },
  userfaultfd_syscall: { outcome: 'blocked', why: 'userfaultfd is denied by the profile (EPERM)' },
  userfaultfd_dev: { outcome: 'blocked', why: 'no /dev/userfaultfd in the container /dev (ENOENT)' },
  tiocsti: LEGACY_TIOCSTI
    ? { outcome: 'escaped', why: 'TIOCSTI on the container pty (-t), its controlling tty: ioctl is allowed and dev.tty.legacy_tiocsti is 1 (the bytes stay in the container terminal)' }
    : { outcome: 'blocked', why: 'dev.tty.legacy_tiocsti is 0: TIOCSTI needs CAP_SYS_ADMIN' },
  tioclinux: { outcome: 'escaped', why: 'ioctl is allowed wholesale: TIOCLINUX reaches the tty layer (ENOTTY on a pty)' },
  tcp_egress: { outcome: 'blocked', why: '--network none: only lo, nothing listens on the port there (ECONNREFUSED)' },
  abstract_unix: { outcome: 'blocked', why: 'abstract sockets are per network namespace (ECONNREFUSED)' },
  fork_bomb: { outcome: 'blocked', why: '--pids-limit 64: fork fails with EAGAIN' },
  memory_bomb: { outcome: 'killed', why: '--memory 256m: the OOM killer (exit 137)' },
  cpu_spin: { outcome: 'timeout', why: '--timeout 3: conmon kills it, podman exits 255' },
  chroot_escape: { outcome: 'blocked', why: 'CAP_SYS_CHROOT is kept, so chroot and the climb work, but the marker is not in the container (ENOENT)' },
  proc_self_exe: { outcome: 'blocked', why: 'the kernel refuses to write a running executable (ETXTBSY)' },
  suid_regain: { outcome: 'escaped', why: 'no no_new_privileges: the setuid-root target in the image runs with euid 0' },
  mknod_dev: { outcome: 'escaped', why: 'CAP_MKNOD is kept and the device cgroup allows c 1:5: the /dev/zero node opens (the disk node does not: EPERM)' },
  core_pattern: { outcome: 'blocked', why: '/proc/sys is read-only in the container (EROFS)' },
  sysrq_trigger: { outcome: 'error', why: 'no magic SysRq in this kernel (skipped as unsupported)' },
  cgroup_release_agent: { outcome: 'blocked', why: 'mounting cgroup needs CAP_SYS_ADMIN (EPERM); /sys/fs/cgroup is read-only' },
  personality_rie: { outcome: 'blocked', why: 'the profile allows personality only for 0, 8, 0x20000, 0x20008, 0xffffffff: default action ENOSYS' },
  clone_newuser: ifUserns('the profile allows clone with CLONE_NEWUSER when no capability rule forbids it'),
  clone3_newuser: ifUserns('the profile allows clone3'),
  socket_vsock: { outcome: 'escaped', why: 'the profile allows socket() of every family' },
  socket_alg: { outcome: 'error', why: 'no AF_ALG in this kernel (skipped as unsupported)' },
  modify_ldt: { outcome: 'escaped', why: 'the profile allows modify_ldt' },
  module_load: { outcome: 'blocked', why: 'init_module/finit_module are denied by the profile (EPERM)' },
  kexec: { outcome: 'blocked', why: 'kexec_load/kexec_file_load are denied by the profile (EPERM)' },
  reboot_magic: { outcome: 'blocked', why: 'reboot needs CAP_SYS_BOOT (EPERM)' },
  process_vm_readv: { outcome: 'blocked', why: 'the outside pid is invisible in the container pid namespace (ESRCH)' },
  syslog_read: { outcome: 'blocked', why: 'syslog needs CAP_SYSLOG (EPERM)' },
};

// ---------------------------------------------------------------------------------------------
// Static probes

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function cc(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('cc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', (e) => resolve({ code: null, err: String(e) }));
    c.on('close', (code) => resolve({ code, err }));
  });
}

/** Build every probe and suid_target with -static; name -> path, or name -> why it did not build. */
async function buildStatic(): Promise<{ bins: Map<string, string>; failed: Map<string, string> }> {
  mkdirSync(STATIC_DIR, { recursive: true, mode: 0o755 });
  const jobs = [...manifest.map((p) => [p.name, p.source] as const), ['suid_target', 'suid_target.c'] as const];
  const bins = new Map<string, string>();
  const failed = new Map<string, string>();
  const common = mtime(join(probeSourceDir, 'probe_common.c'));
  let next = 0;
  await Promise.all(
    [0, 1, 2].map(async () => {
      while (next < jobs.length) {
        const [name, source] = jobs[next++]!;
        const src = join(probeSourceDir, source);
        const out = join(STATIC_DIR, name);
        if (mtime(out) < Math.max(mtime(src), common)) {
          const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
          const r = await cc([...CFLAGS, '-static', '-o', tmp, src]);
          if (r.code !== 0) {
            rmSync(tmp, { force: true });
            failed.set(name, `cc -static ${source} failed: ${r.err.trim().split('\n').slice(-3).join(' | ')}`);
            continue;
          }
          renameSync(tmp, out);
        }
        bins.set(name, out);
      }
    }),
  );
  return { bins, failed };
}

// ---------------------------------------------------------------------------------------------
// Setup

let pm: Podman | { reason: string };
let setupError: Error | undefined;
let env: ProbeEnv | undefined;
let built: { bins: Map<string, string>; failed: Map<string, string> };

before(async () => {
  try {
    pm = await podmanSession();
    if ('reason' in pm) {
      console.log(`# podman adversarial suite skipped: ${pm.reason}`);
      return;
    }
    built = await buildStatic();
    for (const [n, why] of built.failed) console.log(`# ${n}: ${why}`);
    // The image: busybox, and the probes in /probes (suid_target.setuid root-owned, mode 4755).
    const bb = findStaticBusybox();
    if ('reason' in bb) throw new Error(bb.reason); // podmanSession() checked it already
    const tree = buildBusyboxTree(pm.scratch('probes-rootfs'), bb.path);
    mkdirSync(join(tree, 'probes'), { mode: 0o755 });
    for (const [name, path] of built.bins) copyFileSync(path, join(tree, 'probes', name));
    if (built.bins.has('suid_target')) {
      const s = join(tree, 'probes', 'suid_target.setuid');
      copyFileSync(built.bins.get('suid_target')!, s);
      chownSync(s, 0, 0);
      chmodSync(s, 0o4755);
    }
    await pm.importTree(tree, PROBE_IMAGE);
    // Not under /tmp, like the native suite. Only open_by_handle is used (for {secret_handle}).
    env = await setupProbeEnv(built.bins, { baseDir: '/var/tmp' });
  } catch (e) {
    setupError = e as Error;
  }
});
after(async () => {
  await env?.close();
  if (pm && !('reason' in pm)) await pm.close();
});

// ---------------------------------------------------------------------------------------------
// Running one probe

interface Contained {
  outcome: Outcome;
  detail: string;
  r: PodmanResult;
}

async function runContained(p: Podman, e: ProbeEnv, runtime: string, spec: ProbeSpec): Promise<Contained> {
  let args = fillArgs(spec.args, e, { mnt: '/mnt', suid: '/probes/suid_target.setuid' });
  const timeoutS = spec.name === 'cpu_spin' ? 3 : 30;
  const flags = [
    '--memory', '256m', '--pids-limit', '64', '--timeout', String(timeoutS),
    '-v', `${e.rwDir}:${e.rwDir}`, '-v', `${e.roDir}:${e.roDir}:ro`, '--tmpfs', '/mnt',
  ];
  if (ON_STDIN.has(spec.name)) {
    args = ['/proc/self/fd/0', ...args.slice(1)];
    flags.push('-t');
  }
  const r = await p.run(runtime, flags, [`/probes/${spec.name}`, ...args], { image: PROBE_IMAGE, timeoutMs: (timeoutS + 15) * 1000 });
  // Through a pty (-t) lines end in CRLF, and tiocsti's injected bytes are echoed before the report.
  const rep = parseReport(r.stdout.replace(/\r/g, '').replace(/^[^{\n]+(?=\{)/gm, ''));
  let outcome: Outcome;
  if (r.timedOut) outcome = 'timeout';
  else if (rep) outcome = rep.result;
  else if (r.code === 255 && r.ms >= timeoutS * 1000) outcome = 'timeout'; // podman --timeout: conmon killed it
  else if (r.code !== null && r.code > 128 && r.code < 128 + 65) outcome = 'killed'; // 128+signal (137: OOM)
  else outcome = 'unknown'; // 125-127: podman or the runtime failed
  const detail = rep?.detail ?? `exit ${r.code}; ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`;
  return { outcome, detail, r };
}

/** Run the probe, then check the outside evidence as the native suite does. */
async function evidence(t: TestContext, e: ProbeEnv, name: string, check: () => Promise<Contained>): Promise<Contained> {
  const tcp = e.tcpConnections();
  const abstract = e.abstractConnections();
  const pty = e.ptyOutput().length;
  const core = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
  const c = await check();
  t.diagnostic(`${name}: ${c.outcome} (${c.detail})`);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(e.tcpConnections(), tcp, 'the outside TCP listener saw a connection');
  assert.equal(e.abstractConnections(), abstract, 'the outside abstract socket saw a connection');
  assert.ok(!e.ptyOutput().slice(pty).includes(e.ptyInject), 'bytes were injected into the outside terminal');
  assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), core, 'core_pattern changed');
  process.kill(e.outsidePid, 0); // the outside process is alive
  return c;
}

const RUNTIMES = [
  { name: 'runc', path: RUNC },
  { name: 'stockade-runtime', path: STOCKADE_RUNTIME },
];

for (const rt of RUNTIMES) {
  describe(`adversarial probes in podman --runtime ${rt.name}`, { concurrency: 3 }, () => {
    for (const spec of manifest) {
      const want = rt.name === 'runc' ? `${RUNC_BASELINE[spec.name]?.outcome ?? 'no baseline'} (runc baseline)` : spec.confined_expect.join(' or ');
      it(`${spec.name} (${spec.primitive}) -> ${want}`, async (t) => {
        if (setupError) throw setupError;
        if ('reason' in pm) return t.skip(pm.reason);
        const why = runtimeUnavailable(rt.path);
        if (why) return t.skip(why);
        if (built.failed.has(spec.name)) return t.skip(built.failed.get(spec.name)!);
        const h = hung(rt.path);
        if (h) assert.fail(h);
        const p = pm;
        const e = env!;
        const c = await evidence(t, e, spec.name, () => runContained(p, e, rt.path, spec));
        assert.equal(c.r.timedOut, false, `podman itself hung\n${describeResult(c.r)}`);
        const unmet = unmetNeeds(spec.needs).filter((u) => KERNEL_FEATURE_NEEDS.has(u.split(':')[0]!));
        if (c.outcome === 'error' && unmet.length > 0 && /^unsupported/.test(c.detail)) {
          return t.skip(`kernel lacks the feature (${unmet.join('; ')}); the probe reached it: ${c.detail}`);
        }
        if (rt.name === 'runc') {
          const base = RUNC_BASELINE[spec.name];
          assert.ok(base, `no runc baseline for ${spec.name}: observed ${c.outcome} (${c.detail})`);
          assert.equal(c.outcome, base.outcome, `runc ${spec.name}: ${c.outcome} (${c.detail}); baseline ${base.outcome}: ${base.why}\n${describeResult(c.r)}`);
        } else {
          assert.ok(spec.confined_expect.includes(c.outcome as never),
            `${rt.name} ${spec.name}: ${c.outcome} (${c.detail}); expected ${spec.confined_expect.join(' or ')}\n${describeResult(c.r)}`);
        }
      });
    }
  });
}
