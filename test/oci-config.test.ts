/**
 * The OCI config (src/oci/config.ts), pure: what a policy becomes for runc and runsc, byte-stable
 * output, layers an OCI config cannot carry, and the seccomp rewrite for libseccomp-based runtimes:
 * its verdicts, through stockade's reference evaluator, are the original profile's, and libseccomp
 * itself (Debian's python3-seccomp, when present) compiles it into a program that agrees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../src/errors.js';
import {
  libseccompAmbiguities, ociConfig, ociSeccomp, resolvedForPolicy, serializeConfig,
  type OciFacts, type OciSeccomp,
} from '../src/oci/config.js';
import { defaultPolicy } from '../src/policy/defaults.js';
import type { Policy } from '../src/policy/types.js';
import { builtinProfile } from '../src/seccomp/builtin.js';
import { defaultProfileJson } from '../src/seccomp/default-profile.js';
import { parseProfile, profileFromJson } from '../src/seccomp/profile.js';
import type { JsonValue } from '../src/json-exact.js';
import { resolveProfile } from '../src/seccomp/resolve.js';
import { evaluate } from '../src/seccomp/reference.js';
import { formatAction, restrictiveness, RET } from '../src/seccomp/actions.js';
import { syscallsOf } from '../src/seccomp/syscalls.js';
import { AUDIT_ARCH, type Arch } from '../src/seccomp/arch.js';
import { decodeProgram } from '../src/seccomp/bpf.js';
import { emulate } from '../src/seccomp/emulate.js';
import type { SeccompFilter } from '../src/seccomp/rules.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KERNEL: [number, number] = [6, 18];
const TARGET = { native: 'x86_64' as Arch, caps: [] as string[], kernel: KERNEL };

function policy(over: Partial<Policy> = {}): Policy {
  return { ...defaultPolicy(), command: ['sh', '-c', 'true'], landlock: 'off', ...over };
}

function facts(over: Partial<OciFacts> = {}): OciFacts {
  return {
    runtime: 'runc',
    uid: 0,
    gid: 0,
    cwd: '/srv/app',
    program: '/usr/bin/sh',
    env: ['PATH=/usr/bin:/bin', 'HOME=/root'],
    cwdOwner: { uid: 1000, gid: 1000 },
    rootOwned: [],
    hide: [{ path: '/etc/shadow', dir: false }, { path: '/root', dir: true }],
    existing: ['/srv/app'],
    hostRoot: [
      { name: 'bin', kind: 'symlink', target: 'usr/bin' },
      { name: 'dev', kind: 'dir' },
      { name: 'etc', kind: 'dir' },
      { name: 'proc', kind: 'dir' },
      { name: 'root', kind: 'dir' },
      { name: 'srv', kind: 'dir' },
      { name: 'sys', kind: 'dir' },
      { name: 'tmp', kind: 'dir' },
      { name: 'usr', kind: 'dir' },
      { name: '.dockerenv', kind: 'file' },
    ],
    hardLimits: { nofile: 20000, cpu: 'unlimited', fsize: 'unlimited', core: 'unlimited', nproc: 4096, as: 'unlimited' },
    terminal: false,
    hiddenFile: '/run/stockade-oci/bundles/x/hidden-file',
    hiddenDir: '/run/stockade-oci/bundles/x/hidden-dir',
    cgroupsPath: '/stockade-oci/x',
    cgroupLimits: true,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// The config

test('the default policy as root: read-only host binds, private /tmp, writable cwd, hidden secrets, no caps', () => {
  const { config, dropped, rootfs } = ociConfig(policy(), facts());
  assert.deepEqual(dropped, []);
  assert.ok(Number(config.ociVersion.split('.')[1]) >= 0 && config.ociVersion >= '1.0.2');
  assert.deepEqual(config.process.args, ['/usr/bin/sh', '-c', 'true']);
  assert.deepEqual(config.process.user, { uid: 1000, gid: 1000, additionalGids: [] }, 'as root: the owner of the working directory');
  assert.equal(config.process.noNewPrivileges, true);
  assert.equal(config.process.cwd, '/srv/app');
  for (const set of Object.values(config.process.capabilities)) assert.deepEqual(set, []);
  assert.deepEqual(config.root, { path: 'rootfs', readonly: true });
  assert.equal(config.hostname, 'stockade');
  const byDest = new Map(config.mounts.map((m) => [m.destination, m]));
  assert.deepEqual(byDest.get('/usr')?.options, ['rbind', 'rro', 'nosuid', 'nodev'], 'recursively read-only under runc');
  assert.equal(byDest.get('/usr')?.type, 'bind');
  assert.deepEqual(byDest.get('/.dockerenv')?.options, ['bind', 'ro', 'nosuid', 'nodev']);
  assert.equal(byDest.get('/tmp')?.type, 'tmpfs', 'a private /tmp, not the host one');
  assert.ok(!config.mounts.some((m) => m.destination === '/tmp' && m.type === 'bind'));
  assert.deepEqual(byDest.get('/srv/app')?.options, ['rbind', 'nosuid', 'nodev'], 'the working directory is writable');
  assert.equal(byDest.get('/etc/shadow')?.source, facts().hiddenFile);
  assert.equal(byDest.get('/root')?.source, facts().hiddenDir);
  for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/sys']) assert.ok(byDest.has(d), d);
  assert.ok(!config.mounts.some((m) => m.source === '/proc' || m.source === '/sys' || m.source === '/dev'), 'host /proc, /sys, /dev are never bound');
  // Hidden paths come after every bind they could sit under.
  const idx = (d: string) => config.mounts.map((m) => m.destination).lastIndexOf(d);
  assert.ok(idx('/etc/shadow') > idx('/etc') && idx('/root') > idx('/srv/app'));
  assert.deepEqual(rootfs.links, [{ name: 'bin', target: 'usr/bin' }]);
  assert.deepEqual(rootfs.tmpfsDirs, ['tmp']);
  const ns = config.linux.namespaces.map((n) => n.type).sort();
  assert.deepEqual(ns, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(config.linux.uidMappings, undefined);
  assert.ok(config.linux.maskedPaths.includes('/proc/kcore'));
  assert.ok(config.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(config.process.rlimits, [{ type: 'RLIMIT_CORE', hard: 0, soft: 0 }]);
});

test('as root the workload is nobody unless the working directory has an ordinary owner; never uid 0 unasked', () => {
  assert.equal(ociConfig(policy(), facts({ cwdOwner: { uid: 0, gid: 0 } })).config.process.user.uid, 65534);
  assert.equal(ociConfig(policy(), facts({ cwdOwner: undefined })).config.process.user.uid, 65534);
  assert.equal(ociConfig(policy({ user: { uid: 0, gid: 0 } }), facts()).config.process.user.uid, 0, 'the policy may ask for root');
  const r = ociConfig(policy(), facts({ cwdOwner: { uid: 0, gid: 0 }, rootOwned: ['/srv/app'] }));
  assert.ok(r.notes.some((n) => /owned by root/.test(n)), 'a root-owned writable path the workload cannot write is told');
});

test('rootless: a user namespace maps the caller, as uid 0 without capabilities (the runtime\'s init must be root there)', () => {
  const { config } = ociConfig(policy(), facts({ uid: 1000, gid: 1000 }));
  assert.ok(config.linux.namespaces.some((n) => n.type === 'user'));
  assert.deepEqual(config.linux.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(config.linux.gidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(config.process.user, { uid: 0, gid: 0, additionalGids: [] });
  for (const set of Object.values(config.process.capabilities)) assert.deepEqual(set, []);
  assert.throws(() => ociConfig(policy({ user: { uid: 1000, gid: 1000 } }), facts({ uid: 1000, gid: 1000 })), (e: unknown) => e instanceof StockadeError && e.where === 'user');
});

test('capabilities, limits, rlimits capped at the current hard limit, network host, gVisor binds', () => {
  const p = policy({
    capabilities: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
    limits: { memory: 256 << 20, pids: 64, cpu: 0.5, openFiles: 50000, cpuTimeSec: 10, fileSize: 1 << 20 },
    network: 'host',
  });
  const { config, notes } = ociConfig(p, facts());
  for (const set of Object.values(config.process.capabilities)) assert.deepEqual(set, ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
  assert.deepEqual(config.linux.resources, { memory: { limit: 256 << 20, swap: 256 << 20 }, pids: { limit: 64 }, cpu: { quota: 50000, period: 100000 } });
  const nofile = config.process.rlimits.find((r) => r.type === 'RLIMIT_NOFILE');
  assert.deepEqual(nofile, { type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }, 'never a hard limit above the current one');
  assert.ok(notes.some((n) => /RLIMIT_NOFILE 50000/.test(n)));
  assert.deepEqual(config.process.rlimits.find((r) => r.type === 'RLIMIT_CPU'), { type: 'RLIMIT_CPU', hard: 10, soft: 10 });
  assert.ok(!config.linux.namespaces.some((n) => n.type === 'network'), 'network: host keeps the host network');
  const g = ociConfig(policy(), facts({ runtime: 'runsc' })).config;
  assert.deepEqual(g.mounts.find((m) => m.destination === '/usr')?.options, ['rbind', 'ro', 'nosuid', 'nodev'], 'runsc does not know rro');
});

test('layers an OCI config cannot carry: Landlock refused when required, listed when best-effort', () => {
  assert.throws(() => ociConfig(policy({ landlock: 'required' }), facts()), (e: unknown) => {
    assert.ok(e instanceof StockadeError);
    assert.equal(e.code, 'unsupported');
    assert.equal(e.where, 'landlock');
    assert.match(e.message, /Landlock cannot be expressed in an OCI runtime config/);
    return true;
  });
  const be = ociConfig(policy({ landlock: 'required', enforcement: 'best-effort' }), facts());
  assert.ok(be.dropped.some((d) => d.startsWith('landlock: ')));
  const lbe = ociConfig(policy({ landlock: 'best-effort' }), facts());
  assert.ok(lbe.dropped.some((d) => d.startsWith('landlock: ')));
  assert.deepEqual(ociConfig(policy({ landlock: 'off' }), facts()).dropped, []);
  // cgroup limits the host cannot set: refused, or per-process rlimits stand in (best-effort).
  const lim = { memory: 1 << 28, pids: 32 };
  assert.throws(() => ociConfig(policy({ limits: lim }), facts({ cgroupLimits: 'no delegation' })), /no delegation/);
  const fb = ociConfig(policy({ limits: lim, enforcement: 'best-effort' }), facts({ cgroupLimits: 'no delegation' }));
  assert.ok(fb.dropped.some((d) => d.startsWith('cgroup: no delegation')));
  assert.equal(fb.config.linux.resources, undefined);
  assert.deepEqual(fb.config.process.rlimits.find((r) => r.type === 'RLIMIT_NPROC'), { type: 'RLIMIT_NPROC', hard: 32, soft: 32 });
});

test('the serialized config is byte-stable: sorted keys, same bytes for the same input in any order', () => {
  const sc = ociSeccomp(builtinProfile('stockade:default'), TARGET, 'errno').seccomp;
  const a = serializeConfig(ociConfig(policy(), facts({ seccomp: sc })).config);
  const shuffled = facts({ seccomp: sc, hostRoot: [...facts().hostRoot].reverse() });
  const b = serializeConfig(ociConfig(policy(), shuffled).config);
  assert.equal(a, b);
  assert.equal(serializeConfig(JSON.parse(a)), a.replace(/"value": (\d{16,})/g, (m) => m), 're-serializing the parsed text gives it back');
  // Keys are sorted at every level.
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const keys = Object.keys(v);
      assert.deepEqual(keys, [...keys].sort());
      Object.values(v).forEach(walk);
    }
  };
  walk(JSON.parse(a));
  // u64 values stay exact.
  assert.match(serializeConfig({ v: (1n << 64n) - 1n }), /"v": 18446744073709551615/);
});

// ---------------------------------------------------------------------------------------------
// The seccomp rewrite

const U64 = (1n << 64n) - 1n;

/** Argument values worth trying for a filter: every compared value and its neighbours, high bits set, randoms. */
function interestingValues(filter: SeccompFilter): bigint[] {
  const vals = new Set<bigint>([0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, U64]);
  for (const list of Object.values(filter.rules)) {
    for (const r of list ?? []) {
      for (const c of r.conds) {
        for (const v of [c.value, c.value + 1n, c.value - 1n, c.value | (1n << 40n), c.value ^ c.mask, c.mask, c.value | ~c.mask]) vals.add(v & U64);
      }
    }
  }
  let x = 0x243f6a8885a308d3n;
  for (let i = 0; i < 24; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & U64;
    vals.add(x);
    vals.add(x & 0xffffffffn);
  }
  return [...vals].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Compares the verdicts of two filters on every syscall of the native arch, over the argument values. */
function compareVerdicts(orig: SeccompFilter, rewritten: SeccompFilter, arch: Arch = 'x86_64'): { cases: number; diffs: string[] } {
  const values = interestingValues(orig);
  let cases = 0;
  const diffs: string[] = [];
  for (const [name, nr] of syscallsOf(arch)) {
    // The arguments the original rules of this syscall compare (the others cannot matter).
    const compared = [...new Set((orig.rules[arch] ?? []).filter((r) => r.nr === nr).flatMap((r) => r.conds.map((c) => c.index)))].sort();
    const hasArgs = compared.length > 0;
    for (const idx of hasArgs ? compared : [0]) {
      for (const v of hasArgs ? values : [0n]) {
        const args = [0n, 0n, 0n, 0n, 0n, 0n];
        args[idx] = v;
        // A second compared argument varied too, for rules that test two.
        const other = compared.find((c) => c !== idx);
        for (const w of other !== undefined ? [0n, v, 0x5412n, U64] : [0n]) {
          if (other !== undefined) args[other] = w;
          const data = { nr, arch: AUDIT_ARCH[arch], args };
          const a = evaluate(orig, data);
          const b = evaluate(rewritten, data);
          cases++;
          if (a !== b && diffs.length < 10) diffs.push(`${name}(${args.map((x) => `0x${x.toString(16)}`).join(', ')}): ${formatAction(a)} became ${formatAction(b)}`);
        }
      }
    }
  }
  return { cases, diffs };
}

function reparse(sc: OciSeccomp, source: string): SeccompFilter {
  return resolveProfile(parseProfile(serializeConfig(sc), source), TARGET);
}

test('stockade:default as written is ambiguous for runc/libseccomp; the rewrite is not', () => {
  const naive = defaultProfileJson() as unknown as OciSeccomp;
  const problems = libseccompAmbiguities({ ...naive, syscalls: naive.syscalls.map((e) => ({ ...e, args: e.args?.map((a) => ({ ...a, value: BigInt(a.value), ...(a.valueTwo !== undefined ? { valueTwo: BigInt(a.valueTwo) } : {}) })) })) });
  assert.ok(problems.some((p) => /TIOCSTI|ioctl/.test(p) || /returns the default action/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => /^ioctl: rules returning/.test(p)), 'ALLOW ioctl overlaps the TIOCSTI denial');
  for (const v of ['errno', 'kill', 'log'] as const) {
    const { seccomp } = ociSeccomp(builtinProfile('stockade:default'), TARGET, v);
    assert.deepEqual(libseccompAmbiguities(seccomp), [], `onViolation ${v}`);
  }
});

test('the rewritten stockade:default gives the reference verdicts of the original, for every x86_64 syscall', (t) => {
  for (const v of ['errno', 'kill', 'log'] as const) {
    const { seccomp, notes } = ociSeccomp(builtinProfile('stockade:default'), TARGET, v);
    const orig = resolvedForPolicy(builtinProfile('stockade:default'), TARGET, v);
    const rewritten = resolvedForPolicy(profileFromJson(JSON.parse(serializeConfig(seccomp)) as JsonValue, 'rewritten'), TARGET, 'errno');
    const { cases, diffs } = compareVerdicts(orig, rewritten);
    t.diagnostic(`onViolation ${v}: ${cases} calls compared, ${seccomp.syscalls.length} entries`);
    assert.deepEqual(diffs, [], `onViolation ${v}`);
    // TIOCSTI and TIOCLINUX stay refused with the ioctl allowed around them.
    const ioctl = 16;
    const tiocsti = evaluate(rewritten, { nr: ioctl, arch: AUDIT_ARCH.x86_64, args: [0n, 0x5412n] });
    assert.equal(formatAction(tiocsti), v === 'errno' ? 'ERRNO(1)' : v === 'kill' ? 'KILL_PROCESS' : 'LOG');
    assert.equal(formatAction(evaluate(rewritten, { nr: ioctl, arch: AUDIT_ARCH.x86_64, args: [0n, 0xffffffff00005412n] })), formatAction(tiocsti), 'high bits ignored, as the kernel does');
    assert.equal(formatAction(evaluate(rewritten, { nr: ioctl, arch: AUDIT_ARCH.x86_64, args: [0n, 0x5413n] })), 'ALLOW');
    // i386 is left out (libseccomp cannot filter its socket arguments): its calls are killed, stricter than before.
    assert.ok(notes.some((n) => /i386/.test(n)));
    assert.ok(!seccomp.architectures.includes('SCMP_ARCH_X86'));
    for (const [, nr] of syscallsOf('x86').slice(0, 50)) {
      const a = evaluate(orig, { nr, arch: AUDIT_ARCH.x86, args: [] });
      const b = evaluate(rewritten, { nr, arch: AUDIT_ARCH.x86, args: [] });
      assert.equal(b, RET.KILL_PROCESS);
      assert.ok(restrictiveness(b) <= restrictiveness(a));
    }
  }
});

test('a profile with overlapping range rules is rewritten into disjoint masked equalities with the same verdicts', () => {
  const profile = profileFromJson({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 0x100, op: 'SCMP_CMP_GE' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x400, op: 'SCMP_CMP_EQ' }] },
      { names: ['personality'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: 0, value: 0xffffffff, valueTwo: 0x41, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }, { index: 1, value: 5, op: 'SCMP_CMP_LT' }] },
      { names: ['socket'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }] },
      { names: ['mmap'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 2, value: 4, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 4 }, { index: 2, value: 2, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 2 }] },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
      { names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  } as unknown as JsonValue, 'overlaps');
  const { seccomp } = ociSeccomp(profile, TARGET, 'errno');
  assert.deepEqual(libseccompAmbiguities(seccomp), []);
  const orig = resolvedForPolicy(profile, TARGET, 'errno');
  const { diffs } = compareVerdicts(orig, reparse(seccomp, 'rewritten'));
  assert.deepEqual(diffs, []);
  // Rules that were unambiguous as written are kept as written.
  assert.ok(seccomp.syscalls.some((e) => e.names.includes('kill') && e.args?.length === 1 && e.args[0]!.op === 'SCMP_CMP_EQ'));
  assert.ok(seccomp.syscalls.some((e) => e.names.includes('mount') && e.names.includes('umount2') && !e.args));
  // Two conditions on one argument (runc would OR them) are rewritten.
  assert.ok(seccomp.syscalls.filter((e) => e.names.includes('mmap')).every((e) => new Set((e.args ?? []).map((a) => a.index)).size === (e.args ?? []).length));
});

test('for gVisor: ENOSYS denials become TRACE, other errnos EPERM, kills TRAP, and log is refused', () => {
  const { seccomp, notes } = ociSeccomp(builtinProfile('stockade:default'), TARGET, 'kill', 'runsc');
  const actions = new Set([seccomp.defaultAction, ...seccomp.syscalls.map((e) => e.action)]);
  assert.ok(!actions.has('SCMP_ACT_KILL_PROCESS') && !actions.has('SCMP_ACT_KILL_THREAD') && !actions.has('SCMP_ACT_LOG'), [...actions].join(', '));
  assert.equal(seccomp.defaultAction, 'SCMP_ACT_TRAP');
  const clone3 = seccomp.syscalls.find((e) => e.names.includes('clone3'));
  assert.deepEqual([clone3?.action, clone3?.errnoRet], ['SCMP_ACT_TRACE', 38], 'ENOSYS without a tracer, so libc falls back to clone');
  assert.ok(seccomp.syscalls.every((e) => e.action !== 'SCMP_ACT_ERRNO' || e.errnoRet === 1), 'gVisor returns EPERM for every errno anyway');
  assert.ok(notes.some((n) => /TRAP/.test(n)) && notes.some((n) => /TRACE/.test(n)));
  assert.deepEqual(libseccompAmbiguities(seccomp), []);
  assert.throws(() => ociSeccomp(builtinProfile('stockade:default'), TARGET, 'log', 'runsc'), (e: unknown) => e instanceof StockadeError && e.where === 'syscalls.onViolation');
});

test('an argument explosion is refused with a clear error instead of a giant filter', () => {
  const profile = profileFromJson({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['ioctl'], action: 'SCMP_ACT_ALLOW' },
      ...Array.from({ length: 6 }, (_, i) => ({ names: ['ioctl'], action: 'SCMP_ACT_KILL_PROCESS', args: [{ index: i, value: 7 + i, op: 'SCMP_CMP_NE' }, { index: (i + 1) % 6, value: 3, op: 'SCMP_CMP_GT' }] })),
    ],
  } as unknown as JsonValue, 'explosive');
  assert.throws(() => ociSeccomp(profile, TARGET, 'errno'), (e: unknown) => e instanceof StockadeError && e.code === 'unsupported' && /libseccomp-based runtime/.test(e.message));
});

// ---------------------------------------------------------------------------------------------
// libseccomp itself

const PYTHON = '/usr/bin/python3';
const ORACLE = join(root, 'test', 'oracle', 'libseccomp_export.py');

function oracle(request: unknown): { programs: Array<string | { error: string }>; numbers?: Record<string, Record<string, number | null>> } | string {
  const r = spawnSync(PYTHON, [ORACLE], { input: JSON.stringify(request), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status === 3) return `python3-seccomp is not importable from ${PYTHON}: ${r.stderr.trim()}`;
  if (r.status !== 0) throw new Error(`oracle failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { programs: Array<string | { error: string }> };
}

test('libseccomp compiles the rewritten stockade:default into a program with the reference verdicts', (t) => {
  if (!existsSync(PYTHON) || !existsSync(ORACLE)) return t.skip(`no ${PYTHON} or ${ORACLE}: install python3-seccomp`);
  const { seccomp } = ociSeccomp(builtinProfile('stockade:default'), TARGET, 'errno');
  const names = [...new Set(seccomp.syscalls.flatMap((e) => e.names))];
  const known = oracle({ profiles: [], resolve: { arches: ['x86_64'], names } });
  if (typeof known === 'string') return t.skip(known);
  const num = known.numbers!.x86_64!;
  // Names libseccomp 2.5.4 does not know are skipped by runc too: their calls get the default.
  const unknown = names.filter((n) => num[n] === null || num[n] === undefined);
  const rules = seccomp.syscalls.flatMap((e) => e.names.filter((n) => !unknown.includes(n)).map((n) => ({
    action: e.action === 'SCMP_ACT_ERRNO' ? `ERRNO(${e.errnoRet})` : e.action.replace(/^SCMP_ACT_/, ''),
    syscall: n,
    args: (e.args ?? []).map((a) => a.op === 'SCMP_CMP_MASKED_EQ'
      ? { arg: a.index, op: 'MASKED_EQ', mask: `0x${a.value.toString(16)}`, value: `0x${(a.valueTwo ?? 0n).toString(16)}` }
      : { arg: a.index, op: a.op.replace(/^SCMP_CMP_/, ''), value: `0x${a.value.toString(16)}` }),
  })));
  const out = oracle({ profiles: [{ default: `ERRNO(${seccomp.defaultErrnoRet})`, arches: ['x86_64'], rules }] });
  if (typeof out === 'string') return t.skip(out);
  const prog = out.programs[0]!;
  assert.equal(typeof prog, 'string', `libseccomp refused the rewritten profile: ${JSON.stringify(prog)}`);
  const insns = decodeProgram(Buffer.from(prog as string, 'hex'), 'libseccomp');
  const orig = resolvedForPolicy(builtinProfile('stockade:default'), TARGET, 'errno');
  const values = interestingValues(orig);
  let cases = 0;
  const diffs: string[] = [];
  for (const [name, nr] of syscallsOf('x86_64')) {
    const hasArgs = (orig.rules.x86_64 ?? []).some((r) => r.nr === nr && r.conds.length > 0);
    for (let idx = 0; idx < (hasArgs ? 2 : 1); idx++) {
      for (const v of hasArgs ? values : [0n]) {
        const args = [0n, 0n, 0n, 0n, 0n, 0n];
        args[idx] = v;
        const data = { nr, arch: AUDIT_ARCH.x86_64, args };
        const want = evaluate(orig, data);
        const got = emulate(insns, data).action;
        cases++;
        if (unknown.includes(name)) {
          // runc's libseccomp does not know it: the default action (or ENOSYS from runc's stub), never more.
          assert.ok(restrictiveness(got) <= restrictiveness(want), `${name}: ${formatAction(got)} is weaker than ${formatAction(want)}`);
          continue;
        }
        if (got !== want && diffs.length < 10) diffs.push(`${name}(${args.map((x) => `0x${x.toString(16)}`).join(', ')}): libseccomp ${formatAction(got)}, stockade ${formatAction(want)}`);
      }
    }
  }
  t.diagnostic(`${cases} calls through libseccomp's program (${insns.length} instructions); unknown to libseccomp 2.5.4, so left to the default: ${unknown.join(', ')}`);
  assert.deepEqual(diffs, []);
});
