// The plan's wire encoding, checked from both ends: the TypeScript encoder (src/helper/protocol.ts)
// writes each vector, the C decoder (`stockade-helper --decode`) reads it back and prints its canonical
// JSON, which must be the vector itself. Malformed plans must be refused whole, with a `plan` error
// naming the problem, and exit status 125.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../src/errors.js';
import type { Plan, PlanOp } from '../src/helper/plan.js';
import { encodePlan, OPCODES, parseStatusLine, PLAN_HEADER_SIZE } from '../src/helper/protocol.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const helper = join(root, 'native', 'build', 'stockade-helper');
const NO_HELPER = existsSync(helper) ? false : `${helper} is not built (node scripts/build-native.mjs needs gcc)`;

const U64_MAX = (1n << 64n) - 1n;
const exec: PlanOp = { op: 'exec', path: '/bin/true', argv: ['true'], env: [], cwd: '/' };

// MS_* (linux/mount.h)
const MS = {
  RDONLY: 0x1n, NOSUID: 0x2n, NODEV: 0x4n, NOEXEC: 0x8n, SYNCHRONOUS: 0x10n, REMOUNT: 0x20n, NOATIME: 0x400n,
  BIND: 0x1000n, MOVE: 0x2000n, REC: 0x4000n, UNBINDABLE: 1n << 17n, PRIVATE: 1n << 18n, SLAVE: 1n << 19n,
  SHARED: 1n << 20n, RELATIME: 1n << 21n, STRICTATIME: 1n << 24n,
} as const;
const capMask = (...caps: number[]): bigint => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);

const VECTORS: Record<string, Plan> = {
  minimal: { version: 1, wallTimeoutMs: 0, ops: [exec] },
  'every op': {
    version: 1,
    verbose: true,
    wallTimeoutMs: 2 ** 53 - 1,
    ops: [
      { op: 'namespaces', ns: { user: true, pid: true, mount: true, net: false, uts: true, ipc: false, cgroup: true } },
      { op: 'idmap', uidInside: 0, uidOutside: 65534, uidCount: 1, gidInside: 0, gidOutside: 65534, gidCount: 1 },
      { op: 'rootTmpfs' },
      { op: 'bind', source: '/usr', target: '/usr', readOnly: true, optional: false, idmapRoot: false },
      { op: 'bind', source: '/srv/données é', target: '/data', readOnly: false, optional: true, idmapRoot: true },
      { op: 'tmpfs', target: '/tmp', sizeBytes: 64 * 1024 * 1024, mode: 0o1777 },
      { op: 'proc', target: '/proc' },
      { op: 'dev', target: '/dev' },
      { op: 'mkdir', target: '/run/x', mode: 0o700 },
      { op: 'symlink', target: 'usr/bin', linkPath: '/bin' },
      { op: 'hide', target: '/usr/secret"quote\\back\nnl' },
      { op: 'readOnly', target: '/proc/sys' },
      { op: 'pivotRoot' },
      { op: 'hostname', name: 'sandbox' },
      { op: 'rlimit', resource: 'nofile', soft: 64n, hard: 4096n },
      { op: 'rlimit', resource: 'core', soft: 0n, hard: U64_MAX },
      { op: 'cgroup', procsFiles: ['/sys/fs/cgroup/pids/x/cgroup.procs', '/sys/fs/cgroup/memory/x/cgroup.procs'] },
      { op: 'user', uid: 65534, gid: 65534, groups: [65534, 4294967295] },
      { op: 'capabilities', keep: [10, 0, 40, 10] },
      { op: 'setsid', terminal: true },
      { op: 'noNewPrivs' },
      {
        op: 'landlock',
        ruleset: {
          abi: 7, handledFs: (1n << 16n) - 1n, handledNet: 3n, scoped: 3n, required: true,
          paths: [{ path: '/usr', access: 0x400dn, optional: false }, { path: '/opt', access: 1n, optional: true }],
          ports: [{ port: 443, access: 2n }, { port: 0, access: 1n }],
        },
      },
      { op: 'seccomp', program: Buffer.from('0600000000000000', 'hex'), flags: 4, log: true },
      { op: 'exec', path: 'sh', argv: ['sh', '-c', 'echo "$HOME" ✓'], env: ['HOME=/', 'EMPTY='], cwd: '/home/ü' },
    ],
  },
  'oci: every new op, detached': {
    version: 1,
    detached: true,
    wallTimeoutMs: 0,
    ops: [
      { op: 'startGate', fifo: '/run/stockade/c1/exec.fifo' },
      { op: 'consoleSocket', path: '/run/conmon/c1/console.sock' },
      { op: 'oomScoreAdj', value: -999 },
      { op: 'seccompListener', path: '/run/agent/seccomp.sock', metadata: 'meta "q"\nü', state: '{"ociVersion":"1.2.0","id":"c1","status":"creating","bundle":"/b","annotations":{"a":"b"}}' },
      { op: 'namespaces', ns: { user: false, pid: true, mount: true, net: false, uts: true, ipc: false, cgroup: false } },
      { op: 'joinNamespace', type: 'net', path: '/proc/42/ns/net' },
      { op: 'joinNamespace', type: 'ipc', path: '/var/run/ipc ns' },
      { op: 'joinNamespace', type: 'cgroup', path: '/proc/42/ns/cgroup' },
      { op: 'rootfs', source: '/var/lib/bundle/rootfs', readOnly: true },
      { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, propagation: 0n, data: '', kind: 'dir' },
      { op: 'mount', source: '/etc/resolv.conf', target: '/etc/resolv.conf', fstype: '', flags: MS.BIND | MS.REC | MS.RDONLY | MS.NOATIME, propagation: MS.PRIVATE | MS.REC, data: '', kind: 'file' },
      { op: 'mount', source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, propagation: MS.SLAVE, data: 'newinstance,ptmxmode=0666,mode=620,gid=5', kind: 'dir' },
      { op: 'mount', source: '', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: MS.RDONLY | MS.STRICTATIME, propagation: MS.UNBINDABLE, data: '', kind: 'dir' },
      { op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1' },
      { op: 'sysctl', key: 'kernel.shmmax', value: '18446744073692774399' },
      { op: 'sysctl', key: 'kernel.hostname', value: 'ü' },
      { op: 'readOnly', target: '/proc/sys' },
      { op: 'pivotRoot' },
      { op: 'rlimit', resource: 'locks', soft: 1n, hard: 2n },
      { op: 'rlimit', resource: 'sigpending', soft: 3n, hard: 4n },
      { op: 'rlimit', resource: 'msgqueue', soft: 819200n, hard: 819200n },
      { op: 'rlimit', resource: 'nice', soft: 0n, hard: 0n },
      { op: 'rlimit', resource: 'rtprio', soft: 0n, hard: U64_MAX },
      { op: 'rlimit', resource: 'rttime', soft: U64_MAX, hard: U64_MAX },
      { op: 'user', uid: 1000, gid: 1000, groups: [] },
      { op: 'capabilitySets', bounding: capMask(0, 1, 10, 40, 63), effective: capMask(10), permitted: capMask(0, 10), inheritable: capMask(10, 40), ambient: capMask(10) },
      { op: 'setsid', terminal: true },
      { op: 'execLabel', lsm: 'apparmor', label: 'containers-default-0.50.0' },
      { op: 'execLabel', lsm: 'selinux', label: 'system_u:system_r:container_t:s0:c1,c2 "ü"' },
      { op: 'noNewPrivs' },
      { op: 'seccomp', program: Buffer.from('060000000000c07f', 'hex'), flags: 8, log: false },
      { op: 'seccomp', program: Buffer.from('060000000000ff7f', 'hex'), flags: 0, log: false },
      exec,
    ],
  },
  'oci: exec into a running container': {
    version: 1,
    wallTimeoutMs: 0,
    verbose: true,
    ops: [
      { op: 'joinNamespace', type: 'pid', path: '/proc/7/ns/pid' },
      { op: 'joinNamespace', type: 'mount', path: '/proc/7/ns/mnt' },
      { op: 'joinNamespace', type: 'net', path: '/proc/7/ns/net' },
      { op: 'joinNamespace', type: 'ipc', path: '/proc/7/ns/ipc' },
      { op: 'joinNamespace', type: 'uts', path: '/proc/7/ns/uts' },
      { op: 'joinNamespace', type: 'cgroup', path: '/proc/7/ns/cgroup' },
      { op: 'cgroup', procsFiles: ['/sys/fs/cgroup/pids/c1/cgroup.procs'] },
      { op: 'user', uid: 0, gid: 0, groups: [] },
      { op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
      { op: 'execLabel', lsm: 'apparmor', label: 'unconfined' },
      { op: 'noNewPrivs' },
      { op: 'exec', path: '/bin/sh', argv: ['sh'], env: ['TERM=xterm'], cwd: '/work dir' },
    ],
  },
  'root bind, empty lists': {
    version: 1,
    wallTimeoutMs: 1500,
    ops: [
      { op: 'namespaces', ns: { user: false, pid: false, mount: true, net: true, uts: false, ipc: true, cgroup: false } },
      { op: 'rootBind', source: '/srv/rootfs' },
      { op: 'pivotRoot' },
      { op: 'user', uid: 0, gid: 0, groups: [] },
      { op: 'capabilities', keep: [] },
      { op: 'landlock', ruleset: { abi: 1, handledFs: 1n, handledNet: 0n, scoped: 0n, required: false, paths: [], ports: [] } },
      { op: 'exec', path: '/bin/x', argv: [], env: [], cwd: '/' },
    ],
  },
};

/** The canonical JSON rendering (see native/helper/plan_json.c) of a plan. */
function canonical(plan: Plan): unknown {
  const op = (o: PlanOp): unknown => {
    switch (o.op) {
      case 'rlimit':
        return { ...o, soft: String(o.soft), hard: String(o.hard) };
      case 'capabilities':
        return { op: o.op, keep: [...new Set(o.keep)].sort((a, b) => a - b) };
      case 'seccomp':
        return { op: o.op, program: o.program.toString('hex'), flags: o.flags, log: o.log };
      case 'mount':
        return { ...o, flags: String(o.flags), propagation: String(o.propagation) };
      case 'capabilitySets':
        return {
          op: o.op, bounding: String(o.bounding), effective: String(o.effective), permitted: String(o.permitted),
          inheritable: String(o.inheritable), ambient: String(o.ambient),
        };
      case 'landlock': {
        const r = o.ruleset;
        return {
          op: o.op,
          ruleset: {
            abi: r.abi, handledFs: String(r.handledFs), handledNet: String(r.handledNet), scoped: String(r.scoped),
            paths: r.paths.map((p) => ({ path: p.path, access: String(p.access), optional: p.optional })),
            ports: r.ports.map((p) => ({ port: p.port, access: String(p.access) })),
            required: r.required,
          },
        };
      }
      default:
        return o;
    }
  };
  return { version: plan.version, verbose: plan.verbose ?? false, detached: plan.detached ?? false, wallTimeoutMs: plan.wallTimeoutMs, ops: plan.ops.map(op) };
}

function decode(bytes: Buffer): { status: number | null; stdout: string } {
  const r = spawnSync(helper, ['--decode'], { input: bytes, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

for (const [name, plan] of Object.entries(VECTORS)) {
  test(`vector "${name}": the helper decodes what the encoder wrote`, { skip: NO_HELPER }, () => {
    const r = decode(encodePlan(plan));
    assert.equal(r.status, 0, r.stdout);
    assert.deepEqual(JSON.parse(r.stdout), canonical(plan));
  });
}

test('the minimal plan, byte for byte', () => {
  // header: magic, version 1, flags 0, total length 66, wallTimeoutMs 0, 1 op;
  // op: code 23 (exec), reserved 0, body length 34: path "/bin/true", argv ["true"], env [], cwd "/"
  const expected =
    '53544b50' + '0100' + '0000' + '42000000' + '0000000000000000' + '01000000' +
    '1700' + '0000' + '22000000' +
    '09000000' + Buffer.from('/bin/true').toString('hex') +
    '01000000' + '04000000' + Buffer.from('true').toString('hex') +
    '00000000' +
    '01000000' + '2f';
  assert.equal(encodePlan(VECTORS.minimal!).toString('hex'), expected);
  assert.equal(PLAN_HEADER_SIZE, 24);
  assert.equal(OPCODES.exec, 23);
});

test('the new ops, byte for byte: codes 24..33, the detached flag, a negative oomScoreAdj', () => {
  const b = encodePlan({ version: 1, wallTimeoutMs: 0, detached: true, verbose: true, ops: [{ op: 'oomScoreAdj', value: -2 }, exec] });
  assert.equal(b.readUInt16LE(6), 3); // verbose | detached
  assert.equal(b.subarray(PLAN_HEADER_SIZE, PLAN_HEADER_SIZE + 12).toString('hex'), '1a00' + '0000' + '04000000' + 'feffffff');
  const m = encodePlan({ version: 1, wallTimeoutMs: 0, ops: [{ op: 'mount', source: 's', target: '/t', fstype: 'f', flags: 0x1001n, propagation: 1n << 18n, data: 'd', kind: 'file' }, exec] });
  assert.equal(m.subarray(PLAN_HEADER_SIZE, PLAN_HEADER_SIZE + 8 + 38).toString('hex'),
    '1d00' + '0000' + '26000000' + '01000000' + '73' + '02000000' + '2f74' + '01000000' + '66' +
    '0110000000000000' + '0000040000000000' + '01000000' + '64' + '01');
  assert.deepEqual(
    Object.entries(OPCODES).filter(([, c]) => c >= 24).sort((x, y) => x[1] - y[1]).map(([n]) => n),
    ['startGate', 'consoleSocket', 'oomScoreAdj', 'joinNamespace', 'rootfs', 'mount', 'sysctl', 'capabilitySets', 'seccompListener', 'execLabel'],
  );
  // execLabel: code 33, u32 lsm (1 apparmor, 2 selinux), str label
  const a = encodePlan({ version: 1, wallTimeoutMs: 0, ops: [{ op: 'execLabel', lsm: 'apparmor', label: 'p1' }, { op: 'execLabel', lsm: 'selinux', label: 's' }, exec] });
  assert.equal(a.subarray(PLAN_HEADER_SIZE, PLAN_HEADER_SIZE + 8 + 10 + 8 + 9).toString('hex'),
    '2100' + '0000' + '0a000000' + '01000000' + '02000000' + '7031' +
    '2100' + '0000' + '09000000' + '02000000' + '01000000' + '73');
  const l = encodePlan({ version: 1, wallTimeoutMs: 0, ops: [{ op: 'seccompListener', path: '/s', metadata: 'm', state: '{}' }, exec] });
  assert.equal(l.subarray(PLAN_HEADER_SIZE, PLAN_HEADER_SIZE + 8 + 17).toString('hex'),
    '2000' + '0000' + '11000000' + '02000000' + '2f73' + '01000000' + '6d' + '02000000' + '7b7d');
});

// ---------------------------------------------------------------------------------------------
// Refusals

const good = encodePlan(VECTORS['every op']!);

function withU32(buf: Buffer, at: number, v: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt32LE(v, at);
  return b;
}

/** The offset of the first op with this code in an encoded plan. */
function opOffset(buf: Buffer, code: number): number {
  let at = PLAN_HEADER_SIZE;
  while (at < buf.length) {
    if (buf.readUInt16LE(at) === code) return at;
    at += 8 + buf.readUInt32LE(at + 4);
  }
  throw new Error(`no op ${code}`);
}

const plan = (ops: PlanOp[]): Buffer => encodePlan({ version: 1, wallTimeoutMs: 0, ops });
const ns = (over: Partial<Record<'user' | 'pid' | 'mount' | 'net' | 'uts' | 'ipc' | 'cgroup', boolean>>): PlanOp => ({
  op: 'namespaces', ns: { user: false, pid: false, mount: false, net: false, uts: false, ipc: false, cgroup: false, ...over },
});

const REFUSED: Array<[string, Buffer, RegExp]> = [
  ['empty input', Buffer.alloc(0), /magic needs 4 bytes/],
  ['bad magic', Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]), /bad magic/],
  ['another version', (() => { const b = Buffer.from(good); b.writeUInt16LE(2, 4); return b; })(), /protocol version 2/],
  ['unknown flags', (() => { const b = Buffer.from(good); b.writeUInt16LE(10, 6); return b; })(), /unknown flags 0x8/],
  ['truncated by one byte', good.subarray(0, good.length - 1), /says it is \d+ bytes long but \d+ were read/],
  ['truncated, length fixed up', withU32(good.subarray(0, good.length - 1), 8, good.length - 1), /op 22 \(exec\): .*needs|left/],
  ['padded', withU32(Buffer.concat([good, Buffer.alloc(4)]), 8, good.length + 4), /4 bytes left over after the last op/],
  ['zero ops', withU32(withU32(good.subarray(0, PLAN_HEADER_SIZE), 8, PLAN_HEADER_SIZE), 20, 0), /op count 0/],
  ['op count past the data', withU32(good, 20, 4096), /op count 4096/],
  ['too many ops', withU32(good, 20, 4097), /op count 4097/],
  ['unknown op code', (() => { const b = Buffer.from(plan([exec])); b.writeUInt16LE(99, PLAN_HEADER_SIZE); return b; })(), /unknown op code 99/],
  ['reserved field set', (() => { const b = Buffer.from(plan([exec])); b.writeUInt16LE(1, PLAN_HEADER_SIZE + 2); return b; })(), /reserved field/],
  ['op length past the end', withU32(plan([exec]), PLAN_HEADER_SIZE + 4, 1000), /op body needs 1000 bytes/],
  ['op length short of its fields', withU32(plan([exec]), PLAN_HEADER_SIZE + 4, 10), /op 0 \(exec\)/],
  ['argv count past the end', (() => { const b = plan([exec]); return withU32(b, PLAN_HEADER_SIZE + 8 + 4 + 9, 0xffffffff); })(), /argv is 4294967295; at most 65536/],
  ['a NUL in a string', (() => { const b = Buffer.from(plan([exec])); b[PLAN_HEADER_SIZE + 8 + 4 + 3] = 0; return b; })(), /path contains a NUL byte/],
  ['a boolean that is 2', (() => { const b = Buffer.from(plan([{ op: 'setsid', terminal: true }, exec])); b[PLAN_HEADER_SIZE + 8] = 2; return b; })(), /terminal is 2/],
  ['ops out of order', plan([{ op: 'noNewPrivs' }, { op: 'user', uid: 1, gid: 1, groups: [] }, exec]), /a user op cannot follow the noNewPrivs phase/],
  ['an op twice', plan([ns({}), ns({}), exec]), /op 1 \(namespaces\): appears twice/],
  ['no exec at the end', plan([{ op: 'noNewPrivs' }]), /the last op must be exec/],
  ['mounts without a mount namespace', plan([{ op: 'rootTmpfs' }, { op: 'pivotRoot' }, exec]), /mount ops need a mount namespace/],
  ['mounts without a root', plan([ns({ mount: true }), { op: 'tmpfs', target: '/t', sizeBytes: 0, mode: 0o755 }, { op: 'pivotRoot' }, exec]), /must begin with rootTmpfs, rootBind or rootfs/],
  ['mounts without pivotRoot', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'proc', target: '/proc' }, exec]), /must end with pivotRoot/],
  ['two roots', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'rootBind', source: '/x' }, { op: 'pivotRoot' }, exec]), /new root must be the first op/],
  ['a relative mount target', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'proc', target: 'proc' }, { op: 'pivotRoot' }, exec]), /target "proc" is not an absolute path/],
  ['a hostname without a UTS namespace', plan([ns({}), { op: 'hostname', name: 'x' }, exec]), /needs a UTS namespace/],
  ['id maps without a user namespace', plan([ns({}), { op: 'idmap', uidInside: 0, uidOutside: 0, uidCount: 1, gidInside: 0, gidOutside: 0, gidCount: 1 }, exec]), /need a user namespace/],
  ['idmapRoot without a user op', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'bind', source: '/a', target: '/a', readOnly: false, optional: false, idmapRoot: true }, { op: 'pivotRoot' }, exec]), /idmapRoot .* no user op/],
  ['a seccomp program of 7 bytes', plan([{ op: 'seccomp', program: Buffer.alloc(7), flags: 0, log: false }, exec]), /program of 7 bytes/],
  ['a seccomp program of 4097 instructions', plan([{ op: 'seccomp', program: Buffer.alloc(4097 * 8), flags: 0, log: false }, exec]), /program of 32776 bytes/],
  ['an unknown rlimit number', (() => { const b = Buffer.from(plan([{ op: 'rlimit', resource: 'cpu', soft: 1n, hard: 1n }, exec])); b.writeUInt32LE(16, PLAN_HEADER_SIZE + 8); return b; })(), /resource 16 is not an RLIMIT_/],
  ['a port above 65535', plan([{ op: 'landlock', ruleset: { abi: 4, handledFs: 0n, handledNet: 1n, scoped: 0n, required: false, paths: [], ports: [{ port: 65536, access: 1n }] } }, exec]), /port 65536/],
  ['a hostname of 65 bytes', plan([ns({ uts: true }), { op: 'hostname', name: 'h'.repeat(65) }, exec]), /hostname is 65 bytes long; at most 64/],
  // the OCI ops
  ['a monitor directive after namespaces', plan([ns({}), { op: 'oomScoreAdj', value: 0 }, exec]), /an? monitor op cannot follow the namespaces phase/],
  ['startGate twice', plan([{ op: 'startGate', fifo: '/a' }, { op: 'startGate', fifo: '/b' }, exec]), /op 1 \(startGate\): appears twice/],
  ['a relative fifo', plan([{ op: 'startGate', fifo: 'a' }, exec]), /fifo "a" is not an absolute path/],
  ['oomScoreAdj 1001', (() => { const b = Buffer.from(plan([{ op: 'oomScoreAdj', value: 1000 }, exec])); b.writeInt32LE(1001, PLAN_HEADER_SIZE + 8); return b; })(), /value 1001 is not from -1000 to 1000/],
  ['oomScoreAdj -1001', (() => { const b = Buffer.from(plan([{ op: 'oomScoreAdj', value: -1000 }, exec])); b.writeInt32LE(-1001, PLAN_HEADER_SIZE + 8); return b; })(), /value -1001 is not from -1000 to 1000/],
  ['a console socket without a terminal', plan([{ op: 'consoleSocket', path: '/s' }, { op: 'setsid', terminal: false }, exec]), /console socket needs a terminal/],
  ['a console socket without setsid', plan([{ op: 'consoleSocket', path: '/s' }, exec]), /console socket needs a terminal/],
  ['a namespace both created and joined', plan([ns({ net: true }), { op: 'joinNamespace', type: 'net', path: '/n' }, exec]), /the net namespace is both created \(namespaces\) and joined/],
  ['a namespace joined twice', plan([{ op: 'joinNamespace', type: 'uts', path: '/a' }, { op: 'joinNamespace', type: 'uts', path: '/b' }, exec]), /the uts namespace is joined twice/],
  ['joining a user namespace', (() => { const b = Buffer.from(plan([{ op: 'joinNamespace', type: 'net', path: '/n' }, exec])); b.writeUInt32LE(1, PLAN_HEADER_SIZE + 8); return b; })(), /type 0x1 is not one of pid 2/],
  ['mount ops in a plan that joins a mount namespace', plan([ns({ mount: true }), { op: 'joinNamespace', type: 'mount', path: '/m' }, { op: 'rootTmpfs' }, { op: 'pivotRoot' }, exec]), /a plan that joins a mount namespace has no mount ops/],
  ['mount ops in a plan that joins a mount namespace, none created', plan([ns({ pid: true }), { op: 'joinNamespace', type: 'mount', path: '/m' }, { op: 'rootTmpfs' }, { op: 'pivotRoot' }, exec]), /mount ops need a mount namespace/],
  ['mount ops with a created mount namespace that also joins one', plan([ns({ mount: true }), { op: 'joinNamespace', type: 'mount', path: '/m' }, exec]), /the mount namespace is both created/],
  ['two roots: rootfs after rootTmpfs', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'rootfs', source: '/r', readOnly: false }, { op: 'pivotRoot' }, exec]), /new root must be the first op/],
  ['a mount with MS_REMOUNT', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: 'tmpfs', flags: MS.REMOUNT, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /flags 0x20 are not MS_\* flags a mount op takes/],
  ['a mount with MS_MOVE', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: '/x', target: '/x', fstype: '', flags: MS.BIND | MS.MOVE, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /flags 0x2000 are not/],
  ['a propagation type in the flags', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: 'tmpfs', flags: MS.PRIVATE, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /flags 0x40000 are not/],
  ['two propagation types', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: 'tmpfs', flags: 0n, propagation: MS.PRIVATE | MS.SHARED, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /propagation 0x140000 is not one of/],
  ['MS_REC alone as propagation', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: 'tmpfs', flags: 0n, propagation: MS.REC, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /propagation 0x4000 is not one of/],
  ['a bind with a relative source', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'rel', target: '/x', fstype: '', flags: MS.BIND, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /bind source "rel" is not an absolute path/],
  ['a bind with a superblock flag', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: '/x', target: '/x', fstype: '', flags: MS.BIND | MS.SYNCHRONOUS, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /flags 0x10 do not apply to a bind/],
  ['a mount without an fstype', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: '', flags: 0n, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /needs an fstype/],
  ['a mount kind of 2', (() => { const b = Buffer.from(plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: '/x', fstype: 'tmpfs', flags: 0n, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec])); b[opOffset(b, 29) + 8 + b.readUInt32LE(opOffset(b, 29) + 4) - 1] = 2; return b; })(), /kind is 2; 0 \(dir\) or 1 \(file\)/],
  ['a relative mount op target', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'mount', source: 'x', target: 'x', fstype: 'tmpfs', flags: 0n, propagation: 0n, data: '', kind: 'dir' }, { op: 'pivotRoot' }, exec]), /target "x" is not an absolute path/],
  ...(['net/ipv4/ip_forward', 'net..ipv4', '.net.ipv4', 'net.ipv4.', '', 'net.ipv4.conf.eth0/1.forwarding'].map((key): [string, Buffer, RegExp] => [
    `sysctl key ${JSON.stringify(key)}`,
    plan([ns({ mount: true, net: true }), { op: 'rootTmpfs' }, { op: 'sysctl', key, value: '1' }, { op: 'pivotRoot' }, exec]),
    /is not dot-separated names/,
  ])),
  ['a sysctl that is not namespaced', plan([ns({ mount: true, net: true, ipc: true, uts: true }), { op: 'rootTmpfs' }, { op: 'sysctl', key: 'kernel.panic', value: '1' }, { op: 'pivotRoot' }, exec]), /sysctl kernel.panic is not namespaced: writing it would change the host/],
  ['a net sysctl without a net namespace', plan([ns({ mount: true }), { op: 'rootTmpfs' }, { op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1' }, { op: 'pivotRoot' }, exec]), /sysctl net.ipv4.ip_forward needs a net namespace/],
  ['an ipc sysctl without an ipc namespace', plan([ns({ mount: true, net: true }), { op: 'rootTmpfs' }, { op: 'sysctl', key: 'fs.mqueue.msg_max', value: '1' }, { op: 'pivotRoot' }, exec]), /needs a ipc namespace/],
  ['a sysctl outside the mount phase', plan([ns({ net: true }), { op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1' }, exec]), /mount ops need a mount namespace/],
  ['capabilities and capabilitySets', plan([{ op: 'capabilities', keep: [] }, { op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n }, exec]), /capabilities and capabilitySets exclude each other/],
  ['effective capabilities not permitted', plan([{ op: 'capabilitySets', bounding: capMask(1, 2), effective: capMask(1, 2), permitted: capMask(1), inheritable: 0n, ambient: 0n }, exec]), /effective capabilities 0x4 are not in the permitted set/],
  ['ambient capabilities not inheritable', plan([{ op: 'capabilitySets', bounding: capMask(10), effective: capMask(10), permitted: capMask(10), inheritable: 0n, ambient: capMask(10) }, exec]), /ambient capabilities 0x400 are not in both the permitted and the inheritable set/],
  ['ambient capabilities not permitted', plan([{ op: 'capabilitySets', bounding: capMask(10), effective: 0n, permitted: 0n, inheritable: capMask(10), ambient: capMask(10) }, exec]), /ambient capabilities 0x400 are not in both/],
  ...((): Array<[string, Buffer, RegExp]> => {
    const listener: PlanOp = { op: 'seccompListener', path: '/run/l.sock', metadata: '', state: '{"id":"c"}' };
    const filter = (flags: number): PlanOp => ({ op: 'seccomp', program: Buffer.from('060000000000ff7f', 'hex'), flags, log: false });
    return [
      ['a seccomp listener without a NEW_LISTENER filter', plan([listener, filter(0), exec]), /op 0 \(seccompListener\): a seccomp listener needs a seccomp op with SECCOMP_FILTER_FLAG_NEW_LISTENER/],
      ['a seccomp listener without any filter', plan([listener, exec]), /a seccomp listener needs a seccomp op/],
      ['a NEW_LISTENER filter without a seccomp listener', plan([filter(8), exec]), /op 0 \(seccomp\): a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER needs a seccompListener op/],
      ['two NEW_LISTENER filters', plan([listener, filter(8), filter(0), filter(8), exec]), /op 3 \(seccomp\): only one seccomp op may have SECCOMP_FILTER_FLAG_NEW_LISTENER/],
      ['two seccomp listeners', plan([listener, listener, filter(8), exec]), /op 1 \(seccompListener\): appears twice/],
      ['a seccomp listener state that is not an object', plan([{ ...listener, state: '["c"]' } as PlanOp, filter(8), exec]), /the state is not a JSON object/],
      ['a seccomp listener state that is empty', plan([{ ...listener, state: '' } as PlanOp, filter(8), exec]), /the state is not a JSON object/],
      ['a relative seccomp listener path', plan([{ ...listener, path: 'l.sock' } as PlanOp, filter(8), exec]), /path "l\.sock" is not an absolute path/],
      ['a seccomp listener after namespaces', plan([ns({}), listener, filter(8), exec]), /a monitor op cannot follow the namespaces phase/],
    ];
  })(),
  // execLabel
  ['two apparmor labels', plan([{ op: 'execLabel', lsm: 'apparmor', label: 'a' }, { op: 'execLabel', lsm: 'apparmor', label: 'b' }, exec]), /op 1 \(execLabel\): a second apparmor label: at most one execLabel op per LSM/],
  ['two selinux labels', plan([{ op: 'execLabel', lsm: 'selinux', label: 'a' }, { op: 'execLabel', lsm: 'apparmor', label: 'b' }, { op: 'execLabel', lsm: 'selinux', label: 'c' }, exec]), /op 2 \(execLabel\): a second selinux label/],
  ['a label of 4096 bytes', plan([{ op: 'execLabel', lsm: 'apparmor', label: 'p'.repeat(4096) }, exec]), /label is 4096 bytes long; at most 4095/],
  ['an empty label', plan([{ op: 'execLabel', lsm: 'selinux', label: '' }, exec]), /the label is empty/],
  ['a label with a newline', plan([{ op: 'execLabel', lsm: 'apparmor', label: 'a\nb' }, exec]), /the label contains the control character 0x0a/],
  ['an unknown lsm', (() => { const b = Buffer.from(plan([{ op: 'execLabel', lsm: 'apparmor', label: 'a' }, exec])); b.writeUInt32LE(3, PLAN_HEADER_SIZE + 8); return b; })(), /lsm 3 is not 1 \(apparmor\) or 2 \(selinux\)/],
  ['a label after noNewPrivs', plan([{ op: 'noNewPrivs' }, { op: 'execLabel', lsm: 'apparmor', label: 'a' }, exec]), /an? execLabel op cannot follow the noNewPrivs phase/],
  ['a label before setsid', plan([{ op: 'execLabel', lsm: 'apparmor', label: 'a' }, { op: 'setsid', terminal: false }, exec]), /a setsid op cannot follow the execLabel phase/],
  ['a capabilitySets body cut short', withU32(plan([{ op: 'capabilitySets', bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n }, exec]), PLAN_HEADER_SIZE + 4, 32), /ambient needs 4 bytes but only 0 are left|op 1 \(exec\)|op count/],
];

for (const [name, bytes, detail] of REFUSED) {
  test(`refused: ${name}`, { skip: NO_HELPER }, () => {
    const r = decode(bytes);
    assert.equal(r.status, 125, r.stdout);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const s = parseStatusLine(lines[0]!);
    assert.ok(s.kind === 'error', `expected an error line, got ${lines[0]}`);
    assert.equal(s.step, 'plan');
    assert.equal(s.errno, 22);
    assert.match(s.detail, detail);
  });
}

test('a plan over 16 MiB is refused', { skip: NO_HELPER }, () => {
  const big = plan([{ ...exec, env: ['X='.padEnd(1 << 20, 'x'), ...Array<string>(16).fill('Y='.padEnd(1 << 20, 'y'))] } as PlanOp]);
  const r = decode(big);
  assert.equal(r.status, 125);
  assert.match(r.stdout, /at most 16777216|File too large/);
});

// ---------------------------------------------------------------------------------------------
// The encoder's own refusals, and status lines

test('the encoder refuses what the wire cannot carry', () => {
  const bad: Array<[PlanOp, RegExp]> = [
    [{ ...exec, path: '/bin/a\0b' } as PlanOp, /NUL/],
    [{ op: 'user', uid: -1, gid: 0, groups: [] }, /uid must be an integer/],
    [{ op: 'user', uid: 2 ** 32, gid: 0, groups: [] }, /uid must be an integer/],
    [{ op: 'capabilities', keep: [64] }, /capability 64/],
    [{ op: 'rlimit', resource: 'bogus' as 'cpu', soft: 0n, hard: 0n }, /unknown rlimit "bogus"/],
    [{ op: 'rlimit', resource: 'cpu', soft: -1n, hard: 0n }, /soft must be an integer/],
    [{ op: 'rlimit', resource: 'cpu', soft: 0n, hard: 1n << 64n }, /hard must be an integer/],
    [{ op: 'tmpfs', target: '/t', sizeBytes: 1.5, mode: 0 }, /sizeBytes/],
    [{ op: 'oomScoreAdj', value: 1001 }, /oomScoreAdj must be an integer from -1000 to 1000/],
    [{ op: 'oomScoreAdj', value: 0.5 }, /oomScoreAdj must be an integer/],
    [{ op: 'joinNamespace', type: 'user' as 'net', path: '/x' }, /cannot join a namespace of type "user"/],
    [{ op: 'joinNamespace', type: 'time' as 'net', path: '/x' }, /cannot join a namespace of type "time"/],
    [{ op: 'mount', source: 's', target: '/t', fstype: 't', flags: -1n, propagation: 0n, data: '', kind: 'dir' }, /flags must be an integer/],
    [{ op: 'mount', source: 's', target: '/t', fstype: 't', flags: 0n, propagation: 0n, data: '', kind: 'socket' as 'dir' }, /mount kind must be "dir" or "file"/],
    [{ op: 'capabilitySets', bounding: 1n << 64n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n }, /bounding must be an integer/],
    [{ op: 'execLabel', lsm: 'smack' as 'apparmor', label: 'x' }, /execLabel lsm must be "apparmor" or "selinux"/],
    [{ op: 'execLabel', lsm: 'apparmor', label: 'a\0b' }, /label contains a NUL/],
  ];
  for (const [op, re] of bad) {
    assert.throws(() => plan([op, exec]), (e: unknown) => e instanceof StockadeError && e.code === 'input' && re.test(e.message), JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  }
});

test('status lines parse into HelperStatus, anything else is refused', () => {
  assert.deepEqual(parseStatusLine('{"kind":"step","step":"mount","ok":true}'), { kind: 'step', step: 'mount', ok: true });
  assert.deepEqual(parseStatusLine('{"kind":"error","step":"mount","errno":13,"detail":"bind /a -> /b: open_tree: Permission denied"}'),
    { kind: 'error', step: 'mount', errno: 13, detail: 'bind /a -> /b: open_tree: Permission denied' });
  assert.deepEqual(parseStatusLine('{"kind":"warning","step":"landlock","detail":"dropped"}'), { kind: 'warning', step: 'landlock', detail: 'dropped' });
  assert.deepEqual(parseStatusLine('{"kind":"started","pid":42}'), { kind: 'started', pid: 42 });
  assert.deepEqual(parseStatusLine('{"kind":"created","pid":42,"initPid":41}'), { kind: 'created', pid: 42, initPid: 41 });
  assert.deepEqual(parseStatusLine('{"kind":"exited","code":3}'), { kind: 'exited', code: 3 });
  assert.deepEqual(parseStatusLine('{"kind":"signaled","signal":9}'), { kind: 'signaled', signal: 9 });
  assert.deepEqual(parseStatusLine('{"kind":"timeout","afterMs":300}'), { kind: 'timeout', afterMs: 300 });
  for (const line of ['', 'nope', '[]', 'null', '{"kind":"exited"}', '{"kind":"exited","code":"3"}', '{"kind":"step","step":"x","ok":false}', '{"kind":"bogus"}', '{"kind":"error","step":"x","errno":1.5,"detail":""}', '{"kind":"created","pid":42}', '{"kind":"created","pid":42,"initPid":"41"}']) {
    assert.throws(() => parseStatusLine(line), (e: unknown) => e instanceof StockadeError && e.code === 'internal', line);
  }
});
