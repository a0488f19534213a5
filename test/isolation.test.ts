/**
 * `--isolation runc` and `--isolation gvisor` (src/backends/oci): the same policy run by runc and by
 * gVisor's runsc. With each runtime: exit codes and signals, stdio, env and cwd, a read-only root,
 * the working directory writable, a hidden secret, no network, no capabilities, seccomp active;
 * nothing left behind, even when stockade is killed. Then the adversarial suite
 * (test/adversarial) inside gVisor: every escape probe must be blocked.
 *
 * Skips, with the reason printed, when a runtime is not installed or the test does not run as root.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIsolated, type Isolation } from '../src/backends/oci/run.js';
import { ociBaseDir } from '../src/backends/oci/runtime.js';
import { which } from '../src/host/probe.js';
import { defaultPolicy } from '../src/policy/defaults.js';
import type { Policy } from '../src/policy/types.js';
import type { RunResult } from '../src/backends/native/run.js';
import {
  buildProbes, fillArgs, KERNEL_FEATURE_NEEDS, loadManifest, parseReport, probeBuildDir, setupProbeEnv, unmetNeeds, type Outcome, type ProbeEnv,
} from './support/adversarial.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const RUNTIMES: Array<{ isolation: Isolation; bin: string }> = [
  { isolation: 'runc', bin: 'runc' },
  { isolation: 'gvisor', bin: 'runsc' },
];

// Not under /tmp: the sandbox has a private /tmp.
const work = mkdtempSync('/var/tmp/stockade-isolation-');
chownSync(work, NOBODY, NOBODY);
const secretDir = mkdtempSync('/var/tmp/stockade-isolation-secret-');
const secretToken = `stockade-secret-${randomBytes(8).toString('hex')}`;
const secretFile = join(secretDir, 'token');
writeFileSync(secretFile, `${secretToken}\n`, { mode: 0o644 });
process.on('exit', () => {
  rmSync(work, { recursive: true, force: true });
  rmSync(secretDir, { recursive: true, force: true });
});

function skipReason(bin: string): string | undefined {
  if (!isRoot) return 'the OCI runtimes are tested as root (rootless runc needs cgroup delegation this host lacks)';
  if (!which(bin)) return `${bin} is not installed (apt-get install ${bin})`;
  return undefined;
}

function policy(command: string[], over: Partial<Policy> = {}): Policy {
  const p: Policy = { ...defaultPolicy(), command, landlock: 'off', terminal: false, ...over };
  // The probes' binaries are named explicitly: a checkout under /tmp is hidden by the private /tmp.
  return { ...p, filesystem: { ...p.filesystem, read: [...p.filesystem.read, probeBuildDir] } };
}

interface Ran {
  result: RunResult;
  out: string;
  err: string;
}

async function runIn(isolation: Isolation, p: Policy, opts: { input?: string; cwd?: string; onStdout?: (s: string, kill: (sig: NodeJS.Signals) => void) => void; stdin?: number | 'ignore' } = {}): Promise<Ran> {
  const s = startIsolated(p, { isolation, stdio: [opts.stdin ?? (opts.input !== undefined ? 'pipe' : 'ignore'), 'pipe', 'pipe'], cwd: opts.cwd ?? work });
  let out = '';
  let err = '';
  s.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    opts.onStdout?.(out, (sig) => s.kill(sig));
  });
  s.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  if (s.stdin) s.stdin.end(opts.input ?? '');
  const result = await s.result;
  await new Promise((r) => setImmediate(r));
  return { result, out, err };
}

function sh(script: string, over: Partial<Policy> = {}): Policy {
  return policy(['sh', '-c', script], over);
}

/** Our containers still known to a runtime, bundles on disk, cgroups: what a run may leave behind. */
function leftovers(): string[] {
  const out: string[] = [];
  const base = ociBaseDir();
  for (const sub of ['runc', 'runsc', 'bundles']) {
    try {
      for (const n of readdirSync(join(base, sub))) if (n.includes(`stockade-${process.pid}-`)) out.push(join(base, sub, n));
    } catch {
      /* none */
    }
  }
  for (const ctrl of ['memory', 'pids', 'cpu', 'freezer', 'devices']) {
    try {
      for (const n of readdirSync(join('/sys/fs/cgroup', ctrl, 'stockade-oci'))) if (n.includes(`stockade-${process.pid}-`)) out.push(join(ctrl, n));
    } catch {
      /* none */
    }
  }
  return out;
}

let bins: Map<string, string> | undefined;
let env: ProbeEnv | undefined;
let listener: Server | undefined;
let listenerPort = 0;
let listenerHits = 0;

before(async () => {
  if (!isRoot || !RUNTIMES.some((r) => which(r.bin))) return;
  bins = await buildProbes();
  env = await setupProbeEnv(bins, { baseDir: '/var/tmp' });
  chownSync(env.rwDir, NOBODY, NOBODY);
  listener = createServer((s) => {
    listenerHits++;
    s.end('outside\n');
  });
  await new Promise<void>((r) => listener!.listen(0, '127.0.0.1', () => r()));
  const a = listener.address();
  listenerPort = typeof a === 'object' && a ? a.port : 0;
});
after(async () => {
  await env?.close();
  await new Promise<void>((r) => (listener ? listener.close(() => r()) : r()));
});

for (const { isolation, bin } of RUNTIMES) {
  const name = (what: string) => `${isolation}: ${what}`;

  test(name('exit codes, signals and the wall-time limit'), async (t) => {
    const why = skipReason(bin);
    if (why) return t.skip(why);
    const seven = await runIn(isolation, sh('exit 7'));
    assert.equal(seven.result.exitCode, 7, seven.err);
    assert.equal(seven.result.signal, null);
    assert.ok(seven.result.events.some((e) => e.kind === 'started' && e.layer === 'sandbox'));
    assert.ok(seven.result.events.some((e) => e.kind === 'exited'));
    assert.equal((await runIn(isolation, policy(['true']))).result.exitCode, 0);
    // A signal the workload handles reaches it (the workload is pid 1 of its namespace, as in any
    // OCI container: a signal it has no handler for, other than SIGKILL, does not end it).
    const trapped = await runIn(isolation, sh('trap "exit 42" TERM; echo ready; sleep 30 & wait'), {
      onStdout: (s, kill) => {
        if (s === 'ready\n') kill('SIGTERM');
      },
    });
    assert.equal(trapped.result.exitCode, 42, trapped.err);
    const killed = await runIn(isolation, sh('echo ready; sleep 30'), {
      onStdout: (s, kill) => {
        if (s === 'ready\n') kill('SIGKILL');
      },
    });
    assert.equal(killed.result.exitCode, null);
    assert.equal(killed.result.signal, 'SIGKILL');
    // A child killed by a signal: its status reaches the caller as the signal (128 + N, as a shell reports it).
    const child = await runIn(isolation, sh('sh -c \'kill -SEGV $$\'; exit $?'));
    assert.equal(child.result.signal, 'SIGSEGV');
    const began = Date.now();
    const slow = await runIn(isolation, policy(['sleep', '30'], { limits: { wallTimeMs: 1500 } }));
    assert.equal(slow.result.timedOut, true);
    assert.equal(slow.result.signal, 'SIGKILL');
    assert.ok(Date.now() - began < 15_000);
    assert.ok(slow.result.events.some((e) => e.layer === 'timeout' && e.kind === 'limit'));
  });

  test(name('stdin, stdout and stderr are piped; env and cwd are the policy\'s'), async (t) => {
    const why = skipReason(bin);
    if (why) return t.skip(why);
    const cat = await runIn(isolation, sh('cat; echo to-err >&2'), { input: 'hello sandbox\n' });
    assert.equal(cat.result.exitCode, 0, cat.err);
    assert.equal(cat.out, 'hello sandbox\n');
    assert.match(cat.err, /to-err/);
    const e = await runIn(isolation, sh('echo "$STOCKADE_T:$HOME"; pwd; hostname', { env: { inherit: ['HOME'], set: { STOCKADE_T: 'x=1 y' } } }));
    assert.equal(e.out, `x=1 y:${process.env.HOME ?? ''}\n${work}\nstockade\n`, e.err);
  });

  test(name('read-only root, writable working directory, private /tmp, hidden secret'), async (t) => {
    const why = skipReason(bin);
    if (why) return t.skip(why);
    const marker = `stockade-iso-${randomBytes(4).toString('hex')}`;
    const r = await runIn(isolation, sh(`touch /usr/${marker} && echo usr-writable; touch /etc/${marker} && echo etc-writable; echo ok > out.txt && echo cwd-ok; echo t > /tmp/t && echo tmp-ok; cat ${secretFile}; id -u`, {
      filesystem: { ...defaultPolicy().filesystem, hide: [...defaultPolicy().filesystem.hide, secretFile] },
    }));
    assert.ok(!existsSync(`/usr/${marker}`) && !existsSync(`/etc/${marker}`), 'the host root was written');
    assert.doesNotMatch(r.out, /usr-writable|etc-writable/);
    assert.match(r.out, /cwd-ok/);
    assert.match(r.out, /tmp-ok/);
    assert.equal(readFileSync(join(work, 'out.txt'), 'utf8'), 'ok\n');
    assert.ok(!existsSync('/tmp/t') || readFileSync('/tmp/t', 'utf8') !== 't\n', 'the private /tmp leaked to the host');
    assert.ok(!r.out.includes(secretToken) && !r.err.includes(secretToken), 'the hidden secret was read');
    assert.match(r.out, new RegExp(`^${NOBODY}$`, 'm'), 'as root the workload runs as the working directory\'s owner');
    // /etc/shadow and /root are hidden by default.
    const s = await runIn(isolation, sh('cat /etc/shadow; cat /root/.bashrc; echo done'));
    assert.doesNotMatch(s.out, /root:/);
    assert.match(s.out, /done/);
  });

  test(name('no network, no capabilities, seccomp active'), async (t) => {
    const why = skipReason(bin);
    if (why) return t.skip(why);
    const hits = listenerHits;
    const r = await runIn(isolation, sh('tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; grep -E "^(CapEff|Seccomp):" /proc/self/status'));
    const ifaces = r.out.split('\n').filter((l) => l && !l.includes(':'));
    assert.ok(ifaces.every((i) => i === 'lo'), `interfaces besides lo: ${ifaces.join(', ')}`);
    assert.match(r.out, /^CapEff:\s+0000000000000000$/m);
    assert.match(r.out, /^Seccomp:\s+2$/m, 'a seccomp filter is active');
    // A host listener on 127.0.0.1 is out of reach (the probe reports blocked; the listener saw nothing).
    const tcp = await runIn(isolation, policy([bins!.get('tcp_egress')!, String(listenerPort)]));
    assert.equal(parseReport(tcp.out)?.result, 'blocked', tcp.out + tcp.err);
    assert.equal(listenerHits, hits, 'the host listener saw a connection');
    // The profile's denials: unshare is refused; TIOCSTI is EPERM while other ioctls pass (the
    // rewrite keeps stockade's "allow ioctl except TIOCSTI"); socket families outside the list are EAFNOSUPPORT.
    const perl = [
      'unshare(0x10000000) ? print "unshare-ok\\n" : print "unshare: $!\\n";',
      'open(my $f, "<", "/dev/null"); my $c = "x"; ioctl($f, 0x5412, $c) ? print "tiocsti-ok\\n" : print "tiocsti: $!\\n";',
      'my $w = "\\0" x 8; ioctl($f, 0x5413, $w) ? print "winsz-ok\\n" : print "winsz: $!\\n";',
      'socket(my $s, 17, 3, 0) ? print "packet-ok\\n" : print "packet: $!\\n";',
      'socket(my $u, 1, 1, 0) ? print "unix-ok\\n" : print "unix: $!\\n";',
    ].join(' ');
    const d = await runIn(isolation, policy(['perl', '-e', `sub unshare { syscall(272, $_[0]) == 0 } ${perl}`]));
    assert.match(d.out, /^unshare: Operation not permitted$/m, d.out + d.err);
    assert.match(d.out, /^tiocsti: Operation not permitted$/m, d.out);
    assert.match(d.out, /^winsz: Inappropriate ioctl for device$/m, d.out);
    // gVisor ignores errnoRet: its denials are all EPERM (src/oci/config.ts, forGvisor).
    assert.match(d.out, isolation === 'gvisor' ? /^packet: Operation not permitted$/m : /^packet: Address family not supported by protocol$/m, d.out);
    // onViolation kill: the denied call ends the workload with SIGSYS (under gVisor through SCMP_ACT_TRAP).
    const k = await runIn(isolation, policy(['perl', '-e', 'syscall(272, 0x10000000); print "survived\\n"'], { syscalls: { profile: 'stockade:default', onViolation: 'kill' } }));
    assert.equal(k.result.signal, 'SIGSYS', k.out + k.err);
    assert.ok(k.result.events.some((e) => e.layer === 'seccomp' && e.kind === 'blocked'));
    // Threads start: clone3's ENOSYS denial sends libc back to clone (under gVisor through SCMP_ACT_TRACE).
    const th = await runIn(isolation, policy(['/usr/bin/python3', '-c', 'import threading; t = threading.Thread(target=print, args=("thread",)); t.start(); t.join()']));
    if (existsSync('/usr/bin/python3')) assert.equal(th.out, 'thread\n', th.err);
    assert.match(d.out, /^unix-ok$/m, d.out);
  });

  test(name('nothing is left behind, even when stockade is killed'), async (t) => {
    const why = skipReason(bin);
    if (why) return t.skip(why);
    assert.deepEqual(leftovers(), [], 'after the runs above');
    // A stockade process killed with SIGKILL while its sandbox runs: its watchdog removes the container.
    const script = `
      import { startIsolated } from ${JSON.stringify(join(root, 'dist', 'src', 'backends', 'oci', 'run.js'))};
      import { defaultPolicy } from ${JSON.stringify(join(root, 'dist', 'src', 'policy', 'defaults.js'))};
      const p = { ...defaultPolicy(), command: ['sleep', '300'], landlock: 'off', terminal: false };
      const s = startIsolated(p, { isolation: ${JSON.stringify(isolation)}, stdio: ['ignore', 'ignore', 'ignore'], cwd: ${JSON.stringify(work)},
        onEvent: (e) => { if (e.kind === 'started') console.log('started ' + e.detail); } });
      await s.result;`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /started \S+ run (stockade-\S+)/.exec(buf) ?? /started .* run (stockade-\S+)/.exec(buf);
        if (m) resolve(m[1]!);
      });
      child.on('close', () => reject(new Error(`the child ended first: ${buf}`)));
    });
    // Let the container come up, then kill stockade outright.
    const stateDir = join(ociBaseDir(), isolation === 'gvisor' ? 'runsc' : 'runc');
    for (let i = 0; i < 100 && !readdirSync(stateDir).some((n) => n.includes(id)); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = [
        ...readdirSync(stateDir).filter((n) => n.includes(id)),
        ...readdirSync(join(ociBaseDir(), 'bundles')).filter((n) => n.includes(id)),
      ];
      const ps = spawnSync('pgrep', ['-f', `run --bundle .*${id}`], { encoding: 'utf8' });
      if (left.length === 0 && ps.stdout.trim() === '') break;
    }
    assert.deepEqual(left, [], 'the killed run left its container or bundle');
  });
}

test('runc rootless: the caller as uid 0 of its own user namespace, no capabilities, read-only root; gVisor refused clearly', (t) => {
  const why = skipReason('runc');
  if (why) return t.skip(why);
  const script = `
    import { startIsolated } from ${JSON.stringify(join(root, 'dist', 'src', 'backends', 'oci', 'run.js'))};
    import { defaultPolicy } from ${JSON.stringify(join(root, 'dist', 'src', 'policy', 'defaults.js'))};
    const iso = process.argv[1];
    const p = { ...defaultPolicy(), command: ['sh', '-c', 'id -u; grep CapEff /proc/self/status; touch /usr/x || echo ro; echo w > rootless.txt'], landlock: 'off', terminal: false };
    try {
      const r = await startIsolated(p, { isolation: iso, stdio: ['ignore', 'inherit', 'inherit'] }).result;
      console.log('exit ' + r.exitCode);
    } catch (e) { console.log('refused ' + e.message); }`;
  const run = (iso: string) => spawnSync(process.execPath, ['--input-type=module', '-e', script, iso], {
    cwd: work, uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: work, XDG_RUNTIME_DIR: '' },
  });
  const r = run('runc');
  assert.match(r.stdout, /^0$/m, r.stdout + r.stderr);
  assert.match(r.stdout, /^CapEff:\s+0000000000000000$/m);
  assert.match(r.stdout, /^ro$/m);
  assert.match(r.stdout, /^exit 0$/m, r.stderr);
  assert.equal(readFileSync(join(work, 'rootless.txt'), 'utf8'), 'w\n');
  const g = run('gvisor');
  if (which('runsc')) assert.match(g.stdout, /^refused .*gVisor \(runsc\) runs only as root/m, g.stdout + g.stderr);
});

test('a terminal without one to relay is refused before anything starts', async (t) => {
  const why = skipReason('runc');
  if (why) return t.skip(why);
  await assert.rejects(startIsolated(policy(['true'], { terminal: true }), { isolation: 'runc', stdio: ['pipe', 'pipe', 'pipe'], cwd: work }).result,
    (e: unknown) => e instanceof Error && /needs stockade's own stdin to be a terminal/.test(e.message));
});

// ---------------------------------------------------------------------------------------------
// The adversarial suite under --isolation gvisor

const manifest = loadManifest();
/** Probes whose target must be the sandbox's own stdin terminal (the host pty path is not visible). */
const ON_STDIN = new Set(['tiocsti', 'tioclinux']);

interface Confined {
  outcome: Outcome;
  detail: string;
  err: string;
}

async function runProbeInGvisor(probe: string): Promise<Confined> {
  const spec = manifest.find((m) => m.name === probe)!;
  let args = fillArgs(spec.args, env!);
  let stdin: number | 'ignore' = 'ignore';
  if (ON_STDIN.has(probe) && env!.pty) {
    args = ['/proc/self/fd/0', ...args.slice(1)];
    stdin = openSync(env!.pty, constants.O_RDWR | constants.O_NOCTTY);
  }
  const base = defaultPolicy();
  const p = policy([bins!.get(probe)!, ...args], {
    filesystem: { ...base.filesystem, write: [env!.rwDir], hide: [...base.filesystem.hide, join(env!.base, 'secret')] },
    limits: { memory: 512 * 1024 * 1024, pids: 256, wallTimeMs: probe === 'cpu_spin' ? 3000 : 30_000 },
  });
  try {
    const r = await runIn('gvisor', p, { cwd: env!.rwDir, stdin });
    const rep = parseReport(r.out);
    let outcome: Outcome;
    if (r.result.timedOut) outcome = 'timeout';
    else if (rep) outcome = rep.result;
    else if (r.result.signal) outcome = 'killed';
    else outcome = 'unknown';
    return { outcome, detail: rep?.detail ?? `exit ${r.result.exitCode} signal ${r.result.signal}; ${r.err.trim().split('\n').slice(-2).join(' | ')}`, err: r.err };
  } finally {
    if (typeof stdin === 'number') closeSync(stdin);
  }
}

for (const spec of manifest) {
  test(`gvisor adversarial: ${spec.name} is blocked (${spec.primitive})`, async (t: TestContext) => {
    const why = skipReason('runsc');
    if (why) return t.skip(why);
    if (ON_STDIN.has(spec.name) && !env!.pty) return t.skip('no pty: python3 is needed to hold one');
    const tcp = env!.tcpConnections();
    const abstract = env!.abstractConnections();
    const pty = env!.ptyOutput().length;
    const core = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = await runProbeInGvisor(spec.name);
    t.diagnostic(`${spec.name}: ${r.outcome} (${r.detail})`);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(env!.tcpConnections(), tcp, 'the outside TCP listener saw a connection');
    assert.equal(env!.abstractConnections(), abstract, 'the outside abstract socket saw a connection');
    assert.ok(!env!.ptyOutput().slice(pty).includes(env!.ptyInject), 'bytes were injected into the outside terminal');
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), core, 'core_pattern changed');
    process.kill(env!.outsidePid, 0); // the outside process is alive
    let outcome = r.outcome;
    // gVisor implements Linux in its own kernel and leaves some of it out (io_uring, bpf, perf,
    // userfaultfd, kexec, modules, keyrings, the i386 and x32 ABIs...). A probe whose call fails with
    // ENOSYS there reports "error" (it could not attempt the primitive), but the call never reached
    // the host kernel: the sandbox stopped it, which is a block, not an escape.
    if (outcome === 'error' && /\bENOSYS\b/.test(r.detail)) outcome = 'blocked';
    // The same for the i386 ABI: gVisor runs only 64-bit code, and its ptrace platform stops every
    // syscall instruction before the host kernel sees it. `int 0x80` reaches no i386 table (getpid
    // through it does not even return the pid), so the probe cannot attempt its call: blocked.
    if (outcome === 'error' && spec.name === 'i386_unshare' && /i386 getpid returned/.test(r.detail)) outcome = 'blocked';
    const unmet = unmetNeeds(spec.needs).filter((u) => KERNEL_FEATURE_NEEDS.has(u.split(':')[0]!));
    if (outcome === 'error' && unmet.length > 0 && /^unsupported/.test(r.detail)) {
      return t.skip(`the host kernel lacks the feature (${unmet.join('; ')}); the probe reached it: ${r.detail}`);
    }
    assert.ok(spec.confined_expect.includes(outcome as never) || (outcome === 'killed' && spec.confined_expect.includes('blocked') && /i386|x32/.test(spec.name)),
      `${spec.name}: ${r.outcome} (${r.detail}); expected ${spec.confined_expect.join(' or ')}\n${r.err}`);
  });
}

test('gvisor adversarial: nothing left behind', (t) => {
  const why = skipReason('runsc');
  if (why) return t.skip(why);
  assert.deepEqual(leftovers(), []);
});
