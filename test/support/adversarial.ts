/**
 * The adversarial probes (test/adversarial/): build them, set up what their placeholders name
 * (a secret, an outside process, listeners, a pty...), and run one, directly or under a wrapper
 * such as `stockade run --`. Used by the unconfined self-test of the probes and by sandbox suites.
 *
 *   const bins = await buildProbes();
 *   const env = await setupProbeEnv(bins);
 *   const r = await runProbe('mount_tmpfs', ['node', 'dist/src/cli/main.js', 'run', '--'], { bins, env });
 *   // r.outcome: 'blocked' | 'escaped' | 'error' | 'killed' | 'timeout' | 'unknown'
 *   await env.close();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithTimeout } from './spawn-timeout.js';

/** The repository root (this file is compiled to dist/test/support/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const probeSourceDir = join(repoRoot, 'test', 'adversarial');
export const probeBuildDir = join(repoRoot, 'native', 'build', 'adversarial');
export const CFLAGS = ['-O2', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE'];

export type ProbeResult = 'blocked' | 'escaped' | 'error';
export type Outcome = ProbeResult | 'killed' | 'timeout' | 'unknown';

export interface ProbeSpec {
  name: string;
  source: string;
  primitive: string;
  args: string[];
  confined_expect: Array<'blocked' | 'killed' | 'timeout'>;
  unconfined_expect: 'escaped' | 'blocked-by-kernel' | 'varies';
  needs: string[];
  note?: string;
}

/** Every placeholder a manifest entry may use. */
export const PLACEHOLDERS = [
  'secret',
  'secret_token',
  'secret_handle',
  'marker',
  'marker_token',
  'ro_dir',
  'rw_dir',
  'mnt',
  'outside_pid',
  'abstract',
  'port',
  'pty',
  'pty_inject',
  'suid',
] as const;

let manifestCache: ProbeSpec[] | undefined;

export function loadManifest(): ProbeSpec[] {
  manifestCache ??= JSON.parse(readFileSync(join(probeSourceDir, 'manifest.json'), 'utf8')) as ProbeSpec[];
  return manifestCache;
}

export function probeSpec(name: string): ProbeSpec {
  const spec = loadManifest().find((p) => p.name === name);
  if (!spec) throw new Error(`no probe named ${name} in test/adversarial/manifest.json`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Building

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

async function compile(source: string, out: string): Promise<void> {
  const common = join(probeSourceDir, 'probe_common.c');
  if (mtime(out) >= Math.max(mtime(source), mtime(common))) return;
  // Build to a private name and rename into place: concurrent test files may build the same probe,
  // and a rename never leaves a half-written binary behind the final name.
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const r = await run('cc', [...CFLAGS, '-o', tmp, source]);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`cc ${source} failed:\n${r.err}`);
  }
  renameSync(tmp, out);
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

let buildPromise: Promise<Map<string, string>> | undefined;

/**
 * Build every probe of the manifest, and suid_target, into native/build/adversarial/ (kept
 * between runs; a probe is rebuilt when its source is newer). Returns name -> binary path, with
 * two extra keys: 'suid_target' (the plain build) and, when running as root, 'suid_target_setuid'
 * (a root-owned mode-4755 copy, the {suid} placeholder).
 */
export function buildProbes(): Promise<Map<string, string>> {
  buildPromise ??= (async () => {
    mkdirSync(probeBuildDir, { recursive: true, mode: 0o755 });
    chmodSync(probeBuildDir, 0o755);
    const jobs: Array<[string, string]> = loadManifest().map((p) => [p.name, join(probeSourceDir, p.source)]);
    jobs.push(['suid_target', join(probeSourceDir, 'suid_target.c')]);
    const bins = new Map<string, string>();
    await pool(jobs, Math.max(1, availableParallelism()), async ([name, source]) => {
      const out = join(probeBuildDir, name);
      await compile(source, out);
      bins.set(name, out);
    });
    if (process.getuid?.() === 0) {
      const plain = bins.get('suid_target') as string;
      const setuid = join(probeBuildDir, 'suid_target.setuid');
      const tmp = `${setuid}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      copyFileSync(plain, tmp);
      chownSync(tmp, 0, 0);
      chmodSync(tmp, 0o4755);
      renameSync(tmp, setuid);
      bins.set('suid_target_setuid', setuid);
    }
    return bins;
  })();
  buildPromise.catch(() => (buildPromise = undefined));
  return buildPromise;
}

// ---------------------------------------------------------------------------------------------
// What the probes need from the host

let kallsymsCache: Map<string, string> | null | undefined;

/** name -> type letter of /proc/kallsyms (only the letters T/t/W/w kept), or null if unreadable. */
function kallsyms(): Map<string, string> | null {
  if (kallsymsCache !== undefined) return kallsymsCache;
  try {
    const m = new Map<string, string>();
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const f = line.split(/\s+/);
      const type = f[1];
      const name = f[2];
      if (name && type && /^[TtWw]$/.test(type) && !m.has(name)) m.set(name, type);
    }
    kallsymsCache = m.size > 0 ? m : null;
  } catch {
    kallsymsCache = null;
  }
  return kallsymsCache;
}

/** true if a name (a trailing * makes it a prefix) is a real function; null if unknown. */
function kernelHas(...names: string[]): boolean | null {
  const k = kallsyms();
  if (!k) return null;
  for (const n of names) {
    if (n.endsWith('*')) {
      const prefix = n.slice(0, -1);
      for (const [name, type] of k) if (name.startsWith(prefix) && /[Tt]/.test(type)) return true;
    } else if (/^[Tt]$/.test(k.get(n) ?? '')) {
      return true;
    }
  }
  return false;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function feature(has: boolean | null, what: string): string | null {
  return has === false ? `this kernel lacks ${what}` : null;
}

/** The mount options of the mount holding path (from /proc/self/mountinfo). */
function mountOptions(path: string): string[] {
  let best = '';
  let opts: string[] = [];
  for (const line of (readText('/proc/self/mountinfo') ?? '').split('\n')) {
    const f = line.split(' ');
    const mp = (f[4] ?? '').replace(/\\040/g, ' ');
    if (!mp || !(path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`))) continue;
    if (mp.length >= best.length) {
      best = mp;
      opts = (f[5] ?? '').split(',');
    }
  }
  return opts;
}

let python3Cache: boolean | undefined;
function hasPython3(): boolean {
  python3Cache ??= spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;
  return python3Cache;
}

const NEEDS: Record<string, () => string | null> = {
  root: () => (process.getuid?.() === 0 ? null : 'needs root'),
  x86_64: () => (process.arch === 'x64' ? null : `x86_64 only (this is ${process.arch})`),
  ia32: () =>
    /\bia32_emulation=(0|false|n)\b/.test(readText('/proc/cmdline') ?? '')
      ? 'ia32 emulation is disabled on the kernel command line'
      : feature(kernelHas('ia32_sys_call', '__ia32_sys_getpid', 'ia32_sys_call_table'), 'ia32 emulation'),
  x32: () => feature(kernelHas('x32_sys_call', '__x32_compat_sys_*', 'x32_sys_call_table'), 'the x32 ABI (CONFIG_X86_X32_ABI)'),
  modules: () => feature(kernelHas('__x64_sys_init_module', '__arm64_sys_init_module'), 'module loading (CONFIG_MODULES)'),
  kexec: () =>
    feature(
      kernelHas('__x64_sys_kexec_load', '__x64_sys_kexec_file_load', '__arm64_sys_kexec_load', '__arm64_sys_kexec_file_load'),
      'kexec (CONFIG_KEXEC / CONFIG_KEXEC_FILE)',
    ),
  sysrq: () => (existsSync('/proc/sysrq-trigger') ? null : 'this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)'),
  af_alg: () => feature(kernelHas('alg_create', 'af_alg_register_type'), 'AF_ALG (CONFIG_CRYPTO_USER_API)'),
  af_vsock: () => feature(kernelHas('vsock_create'), 'AF_VSOCK'),
  io_uring: () =>
    (readText('/proc/sys/kernel/io_uring_disabled') ?? '0').trim() === '2'
      ? 'io_uring is disabled (kernel.io_uring_disabled = 2)'
      : feature(kernelHas('__x64_sys_io_uring_setup', '__arm64_sys_io_uring_setup'), 'io_uring'),
  keys: () => feature(kernelHas('__x64_sys_keyctl', '__arm64_sys_keyctl'), 'keyrings (CONFIG_KEYS)'),
  bpf: () => feature(kernelHas('__x64_sys_bpf', '__arm64_sys_bpf'), 'bpf (CONFIG_BPF_SYSCALL)'),
  perf: () => feature(kernelHas('__x64_sys_perf_event_open', '__arm64_sys_perf_event_open'), 'perf events'),
  userfaultfd: () => feature(kernelHas('__x64_sys_userfaultfd', '__arm64_sys_userfaultfd'), 'userfaultfd'),
  userfaultfd_dev: () => (existsSync('/dev/userfaultfd') ? null : 'no /dev/userfaultfd on this host'),
  modify_ldt: () => feature(kernelHas('__x64_sys_modify_ldt'), 'modify_ldt (CONFIG_MODIFY_LDT_SYSCALL)'),
  cgroup_v1: () =>
    /\tcgroup\n/.test(readText('/proc/filesystems') ?? '\tcgroup\n') ? null : 'this kernel has no cgroup v1 filesystem',
  pty: () => (hasPython3() ? null : 'python3 (which holds the pty) is not installed'),
  setuid: () =>
    process.getuid?.() !== 0
      ? 'making a setuid-root binary needs root'
      : mountOptions(probeBuildDir).includes('nosuid')
        ? `${probeBuildDir} is on a nosuid mount`
        : null,
};

/**
 * Needs the kernel answers for itself: where one is missing, the probe must say "error"
 * (unsupported) rather than "blocked", and the unconfined test checks that it does.
 */
export const KERNEL_FEATURE_NEEDS = new Set(['ia32', 'x32', 'modules', 'kexec', 'sysrq', 'af_alg', 'af_vsock', 'modify_ldt']);

/** Why each unmet need is unmet (empty if all are met; unknown needs count as unmet). */
export function unmetNeeds(needs: string[]): string[] {
  const out: string[] = [];
  for (const n of needs) {
    const check = NEEDS[n];
    const why = check ? check() : `unknown need '${n}'`;
    if (why) out.push(`${n}: ${why}`);
  }
  return out;
}

export const KNOWN_NEEDS = Object.keys(NEEDS);

// ---------------------------------------------------------------------------------------------
// The placeholders' world

export interface ProbeEnv {
  /** The temp dir holding everything below. */
  base: string;
  secret: string;
  secretToken: string;
  /** "TYPE:HEX" file handle of the secret, or "-" when the filesystem gives none. */
  secretHandle: string;
  marker: string;
  markerToken: string;
  roDir: string;
  rwDir: string;
  /** Where {mnt} runs get a fresh throwaway tmpfs (when root). */
  mntDir: string;
  outsidePid: number;
  abstract: string;
  port: number;
  /** The pty slave path, or null without python3. */
  pty: string | null;
  ptyInject: string;
  /** The setuid-root target, or null when not root. */
  suid: string | null;
  /** Static placeholder values ({mnt} is handled by runProbe). */
  placeholders: Record<string, string>;
  /** Everything read from the pty master so far. */
  ptyOutput(): string;
  tcpConnections(): number;
  abstractConnections(): number;
  /** Mount a fresh tmpfs on mntDir (root only); true if mounted. */
  freshMount(): boolean;
  isMounted(path: string): boolean;
  close(): Promise<void>;
}

const PTY_HOLDER = `
import os, sys, select
m, s = os.openpty()
sys.stdout.write(os.ttyname(s) + "\\n"); sys.stdout.flush()
while True:
    r, _, _ = select.select([m, 0], [], [])
    if 0 in r and not os.read(0, 100):
        break
    if m in r:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        sys.stdout.write(d.hex() + "\\n"); sys.stdout.flush()
`;

function listen(server: Server, arg: { port: number; host: string } | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (typeof arg === 'string') server.listen(arg, done);
    else server.listen(arg.port, arg.host, done);
  });
}

function isMounted(path: string): boolean {
  return (readText('/proc/self/mountinfo') ?? '').split('\n').some((l) => l.split(' ')[4] === path);
}

/**
 * Create everything the placeholders name, in a fresh temp dir (under opts.baseDir, default the
 * OS temp dir). Call close() when done: it stops the outside process, the listeners and the pty
 * holder, unmounts {mnt} and removes the temp dir.
 */
export async function setupProbeEnv(bins: Map<string, string>, opts: { baseDir?: string } = {}): Promise<ProbeEnv> {
  const base = mkdtempSync(join(opts.baseDir ?? tmpdir(), 'stockade-adversarial-'));
  chmodSync(base, 0o755);
  const hex = () => randomBytes(8).toString('hex');

  const secretDir = join(base, 'secret');
  mkdirSync(secretDir, { mode: 0o700 });
  const secret = join(secretDir, 'secret.txt');
  const secretToken = `stockade-secret-${hex()}`;
  writeFileSync(secret, `${secretToken}\n`, { mode: 0o600 });

  const markerDir = join(base, 'marker');
  mkdirSync(markerDir, { mode: 0o700 });
  const marker = join(markerDir, 'marker.txt');
  const markerToken = `stockade-marker-${hex()}`;
  writeFileSync(marker, `${markerToken}\n`, { mode: 0o600 });

  const roDir = join(base, 'ro');
  mkdirSync(roDir);
  writeFileSync(join(roDir, 'file.txt'), 'read-only\n');
  chmodSync(roDir, 0o555);
  const rwDir = join(base, 'rw');
  mkdirSync(rwDir);
  chmodSync(rwDir, 0o777);
  const mntDir = join(base, 'mnt');
  mkdirSync(mntDir);

  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const cleanup = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (let i = 0; i < 16 && isMounted(mntDir); i++) spawnSync('umount', ['-l', mntDir], { stdio: 'ignore' });
    try {
      chmodSync(roDir, 0o755);
    } catch {
      /* already gone */
    }
    rmSync(base, { recursive: true, force: true });
  };

  try {
    const outside = spawn('sleep', ['3600'], { stdio: 'ignore' });
    children.push(outside);
    if (!outside.pid) throw new Error('could not start the outside process (sleep)');

    let tcpCount = 0;
    const tcp = createServer((s) => {
      tcpCount++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.end('stockade-outside-tcp\n');
    });
    servers.push(tcp);
    await listen(tcp, { port: 0, host: '127.0.0.1' });
    const addr = tcp.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;

    let abstractCount = 0;
    const abstract = `stockade-probe-${hex()}`;
    const unix = createServer((s) => {
      abstractCount++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.end('stockade-outside-abstract\n');
    });
    servers.push(unix);
    await listen(unix, `\0${abstract}`);

    let pty: string | null = null;
    let ptyBytes = '';
    if (hasPython3()) {
      const holder = spawn('python3', ['-c', PTY_HOLDER], { stdio: ['pipe', 'pipe', 'ignore'] });
      children.push(holder);
      pty = await new Promise<string | null>((resolve) => {
        let buf = '';
        let first: string | null = null;
        holder.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (first === null) {
              first = line;
              resolve(line);
            } else {
              ptyBytes += Buffer.from(line, 'hex').toString('latin1');
            }
          }
        });
        holder.on('close', () => resolve(first));
      });
    }

    const handle = spawnSync(bins.get('open_by_handle') ?? 'false', ['--print-handle', secret], { encoding: 'utf8' });
    const secretHandle = handle.status === 0 && handle.stdout.trim() ? handle.stdout.trim() : '-';
    const ptyInject = `Zq${randomBytes(3).toString('hex')}`;
    const suid = bins.get('suid_target_setuid') ?? null;

    const placeholders: Record<string, string> = {
      secret,
      secret_token: secretToken,
      secret_handle: secretHandle,
      marker,
      marker_token: markerToken,
      ro_dir: roDir,
      rw_dir: rwDir,
      outside_pid: String(outside.pid),
      abstract,
      port: String(port),
      pty: pty ?? '',
      pty_inject: ptyInject,
      suid: suid ?? '',
    };

    return {
      base,
      secret,
      secretToken,
      secretHandle,
      marker,
      markerToken,
      roDir,
      rwDir,
      mntDir,
      outsidePid: outside.pid,
      abstract,
      port,
      pty,
      ptyInject,
      suid,
      placeholders,
      ptyOutput: () => ptyBytes,
      tcpConnections: () => tcpCount,
      abstractConnections: () => abstractCount,
      freshMount: () => {
        if (process.getuid?.() !== 0) return false;
        const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=755', 'stockade-probe-mnt', mntDir], {
          stdio: 'ignore',
        });
        return r.status === 0;
      },
      isMounted,
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Running

export interface RunOptions {
  bins: Map<string, string>;
  env: ProbeEnv;
  /** Replace the manifest's args (placeholders are still filled). */
  args?: string[];
  /** Override or add placeholder values. */
  placeholders?: Record<string, string>;
  /** Kill the whole process group after this long (default 30 s). */
  timeoutMs?: number;
  cwd?: string;
  /** Environment of the command (default: this process's). */
  spawnEnv?: NodeJS.ProcessEnv;
}

export interface ProbeRun {
  name: string;
  argv: string[];
  /** The probe's own verdict, from its JSON line (null if it printed none). */
  result: ProbeResult | null;
  detail: string | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** result if there is one, else killed (by a signal, or a wrapper's 128+N exit), timeout or unknown. */
  outcome: Outcome;
  stdout: string;
  stderr: string;
}

/** Fill a manifest argument's {placeholders}. */
export function fillArgs(args: string[], env: ProbeEnv, extra: Record<string, string> = {}): string[] {
  let mounted = false;
  return args.map((a) =>
    a.replace(/\{([a-z_]+)\}/g, (_, key: string) => {
      if (key in extra) return extra[key] as string;
      if (key === 'mnt') {
        if (!mounted) env.freshMount();
        mounted = true;
        return env.mntDir;
      }
      const v = env.placeholders[key];
      if (v === undefined) throw new Error(`unknown placeholder {${key}}`);
      return v;
    }),
  );
}

/** Parse a probe's stdout: the last line that is a probe report. */
export function parseReport(stdout: string): { probe: string; result: ProbeResult; detail: string } | null {
  const lines = stdout.split('\n').filter((l) => l.trim().startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const j = JSON.parse(lines[i] as string) as { probe?: unknown; result?: unknown; detail?: unknown };
      if (
        typeof j.probe === 'string' &&
        (j.result === 'blocked' || j.result === 'escaped' || j.result === 'error') &&
        typeof j.detail === 'string'
      )
        return { probe: j.probe, result: j.result, detail: j.detail };
    } catch {
      /* not JSON */
    }
  }
  return null;
}

/**
 * Run one probe with its placeholders filled, under an optional wrapper command (argvPrefix, e.g.
 * ['node', 'dist/src/cli/main.js', 'run', '--']; [] runs the probe directly).
 */
export function runProbe(name: string, argvPrefix: string[], opts: RunOptions): Promise<ProbeRun> {
  const spec = probeSpec(name);
  const bin = opts.bins.get(name);
  if (!bin) return Promise.reject(new Error(`probe ${name} is not built`));
  const args = fillArgs(opts.args ?? spec.args, opts.env, opts.placeholders);
  const argv = [...argvPrefix, bin, ...args];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // Its own process group (runWithTimeout), so a timeout kills the wrapper and everything under it.
  return runWithTimeout(argv, { ...(opts.cwd ? { cwd: opts.cwd } : {}), env: opts.spawnEnv ?? process.env, timeoutMs }).then(({ code, signal, stdout, stderr, timedOut }) => {
    const rep = parseReport(stdout);
    let outcome: Outcome;
    if (timedOut) outcome = 'timeout';
    else if (rep) outcome = rep.result;
    else if (signal) outcome = 'killed';
    else if (code !== null && code > 128 && argvPrefix.length > 0) outcome = 'killed';
    else outcome = 'unknown';
    return {
      name,
      argv,
      result: rep?.result ?? null,
      detail: rep?.detail ?? null,
      exitCode: code,
      signal,
      timedOut,
      outcome,
      stdout,
      stderr,
    };
  });
}

/** The probe sources in test/adversarial/ (every .c but the shared file and the setuid target). */
export function probeSources(): string[] {
  return readdirSync(probeSourceDir)
    .filter((f) => f.endsWith('.c') && f !== 'probe_common.c' && f !== 'suid_target.c')
    .sort();
}
