/** The `stockade seccomp` commands end to end, through the real binary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'dist', 'src', 'cli', 'main.js');
const shared = process.env.STOCKADE_SHARED ?? join(root, '..', 'shared');
const moby = join(shared, 'data', 'seccomp', 'moby-default.json');
const podman = join(shared, 'data', 'seccomp', 'containers-common-seccomp.json');
const tmp = mkdtempSync(join(tmpdir(), 'stockade-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function stockade(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

test('compile writes a raw program that disasm reads back', () => {
  const out = join(tmp, 'default.bpf');
  const r = stockade('seccomp', 'compile', 'stockade:default', '--arch', 'x86_64', '--arch', 'x86', '--arch', 'x32', '-o', out);
  assert.equal(r.code, 0, r.err);
  const size = statSync(out).size;
  assert.ok(size > 0 && size % 8 === 0);
  const d = stockade('seccomp', 'disasm', out);
  assert.equal(d.code, 0, d.err);
  const lines = d.out.trim().split('\n');
  assert.equal(lines.length, size / 8);
  assert.match(d.out, /ld {2}arch/);
  assert.match(d.out, /AUDIT_ARCH_X86_64/);
  assert.match(d.out, /AUDIT_ARCH_I386/);
  assert.match(d.out, /ret KILL_PROCESS/);
});

test('emulate a profile and a compiled program', (t) => {
  if (!existsSync(moby)) return t.skip(`no ${moby}`);
  assert.equal(stockade('seccomp', 'emulate', moby, 'getppid').out.trim(), 'ALLOW');
  assert.equal(stockade('seccomp', 'emulate', moby, 'mount').out.trim(), 'ERRNO(1)');
  assert.equal(stockade('seccomp', 'emulate', moby, 'clone3').out.trim(), 'ERRNO(38)');
  assert.equal(stockade('seccomp', 'emulate', moby, 'clone', '0x10000000', '--caps', 'none').out.trim(), 'ERRNO(1)');
  assert.equal(stockade('seccomp', 'emulate', moby, 'clone', '0x3d0f00', '--caps', 'none').out.trim(), 'ALLOW');
  assert.equal(stockade('seccomp', 'emulate', moby, 'socket', '40').out.trim(), 'ERRNO(1)');
  assert.equal(stockade('seccomp', 'emulate', moby, 'socketcall', '--arch', 'x86').out.trim(), 'ALLOW');
  const traced = stockade('seccomp', 'emulate', moby, 'getppid', '--trace');
  assert.match(traced.out, /^ALLOW\n/);
  assert.match(traced.out, /ld {2}arch/);
  assert.match(traced.out, /ret ALLOW/);
  const out = join(tmp, 'moby.bpf');
  assert.equal(stockade('seccomp', 'compile', moby, '-o', out).code, 0);
  assert.equal(stockade('seccomp', 'emulate', out, '110').out.trim(), 'ALLOW');
  assert.equal(stockade('seccomp', 'emulate', out, '1000').out.trim(), 'ERRNO(1)');
  assert.equal(stockade('seccomp', 'emulate', out, 'getpid', '--arch', 'aarch64').out.trim(), 'KILL_PROCESS');
});

test('explain prints every syscall of the arch, as a table and as JSON', () => {
  const r = stockade('seccomp', 'explain', 'stockade:default', '--json');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { arch: string; syscalls: Array<{ name: string; summary: string }> };
  assert.ok(doc.syscalls.length > 300);
  const by = new Map(doc.syscalls.map((s) => [s.name, s.summary]));
  assert.equal(by.get('getppid'), 'ALLOW');
  assert.match(by.get('ioctl')!, /ERRNO\(1\) if args\[1\] & 0xffffffff == 0x5412/);
  const table = stockade('seccomp', 'explain', 'stockade:default', '--arch', 'aarch64');
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^openat +56 +ALLOW$/m);
});

test('moby-default and containers-common load, resolve and compile for three arches', (t) => {
  if (!existsSync(moby) || !existsSync(podman)) return t.skip('shared seccomp profiles not found');
  for (const p of [moby, podman]) {
    const out = join(tmp, 'p.bpf');
    const r = stockade('seccomp', 'compile', p, '--arch', 'x86_64', '--arch', 'x86', '--arch', 'x32', '-o', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /wrote \d+ instructions for x86_64, x86, x32/);
  }
});

test('lint finds dangerous allows, an ALLOW default, open arches and dead rules', () => {
  const p = file('loose.json', JSON.stringify({
    defaultAction: 'SCMP_ACT_ALLOW',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
    syscalls: [
      { names: ['mount', 'bpf'], action: 'SCMP_ACT_ALLOW' },
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO' },
      { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, op: 'SCMP_CMP_LT' }] },
      { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0x5412, op: 'SCMP_CMP_EQ' }] },
    ],
  }));
  const r = stockade('seccomp', 'lint', p, '--json');
  assert.equal(r.code, 1, 'errors make lint exit 1');
  const findings = JSON.parse(r.out) as Array<{ severity: string; message: string }>;
  const has = (sev: string, re: RegExp) => findings.some((f) => f.severity === sev && re.test(f.message));
  assert.ok(has('error', /default action ALLOW/));
  assert.ok(has('error', /mount is allowed/));
  assert.ok(has('error', /bpf is allowed/));
  assert.ok(has('info', /x86 ABI is open/));
  assert.ok(has('warning', /rule for getpid can never match/));
  assert.ok(has('warning', /rule for read can never match/));
  assert.ok(has('warning', /ioctl request compared on all 64 bits/));
  const clean = stockade('seccomp', 'lint', 'stockade:default');
  assert.equal(clean.code, 0, clean.out);
});

test('diff shows the syscalls whose verdicts differ', (t) => {
  if (!existsSync(moby)) return t.skip(`no ${moby}`);
  const same = stockade('seccomp', 'diff', moby, moby);
  assert.equal(same.code, 0);
  assert.match(same.out, /^0 syscalls differ on x86_64$/m);
  const r = stockade('seccomp', 'diff', moby, 'stockade:default', '--json');
  assert.equal(r.code, 0, r.err);
  const diff = JSON.parse(r.out) as { differences: Array<{ name: string; a: string; b: string }> };
  const names = diff.differences.map((d) => d.name);
  assert.ok(names.includes('chroot'), 'moby allows chroot with CAP_SYS_CHROOT; stockade:default denies it');
  assert.ok(names.includes('ioctl'));
  // Every difference is an intended one, listed in the docs' table of differences from Docker.
  const doc = readFileSync(join(root, 'docs', 'seccomp-default.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| Syscall or filter |'));
  const documented = new Set([...table.split('\n\n')[0]!.matchAll(/`([a-z0-9_]+)`/g)].map((m) => m[1]!));
  const undocumented = names.filter((n) => !documented.has(n));
  assert.deepEqual(undocumented, [], 'differences from moby-default not listed in docs/seccomp-default.md');
});

const BAD: Array<[string, string, RegExp]> = [
  ['malformed.json', '{"defaultAction": "SCMP_ACT_ERRNO",, }', /malformed\.json: invalid JSON at line 1 column 36/],
  ['type.json', '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}', /type\.json: syscalls\[0\]\.names: must be an array of strings/],
  ['unknown.json', '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "opnat"], "action": "SCMP_ACT_ALLOW"}]}', /unknown\.json: syscalls\[0\]\.names\[1\]: unknown syscall "opnat"; did you mean "openat"\?/],
  ['index.json', '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', /index\.json: syscalls\[0\]\.args\[0\]\.index: must be an argument index from 0 to 5/],
  ['arches.json', '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": []}], "syscalls": []}', /arches\.json: archMap: conflicts with "architectures"/],
  ['action.json', '{"defaultAction": "SCMP_ACT_DENY"}', /action\.json: defaultAction: unknown action "SCMP_ACT_DENY"/],
  ['op.json', '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}', /op\.json: syscalls\[0\]\.args\[0\]\.op: unknown operator "EQ"/],
  ['value.json', '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}]}', /value\.json: syscalls\[0\]\.args\[0\]\.value: must be an unsigned 64-bit integer/],
  ['field.json', '{"defaultAction": "SCMP_ACT_ERRNO", "sycalls": []}', /field\.json: sycalls: unknown field/],
];

test('bad input: exit 2 and one line naming the file and JSON path, no stack trace', () => {
  for (const [name, text, re] of BAD) {
    const r = stockade('seccomp', 'compile', file(name, text), '-o', join(tmp, 'x.bpf'));
    assert.equal(r.code, 2, `${name}: ${r.err}`);
    assert.equal(r.out, '');
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.err}`);
    assert.match(lines[0]!, re);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('bad input: a program over 4096 instructions is a clear error', () => {
  const syscalls = Array.from({ length: 1200 }, (_, i) => ({
    names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x10000 + i * 7, op: 'SCMP_CMP_EQ' }, { index: 0, value: i, op: 'SCMP_CMP_GT' }],
  }));
  const r = stockade('seccomp', 'compile', file('huge.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls })), '-o', join(tmp, 'h.bpf'));
  assert.equal(r.code, 2, r.err);
  assert.match(r.err.trim(), /^stockade: .*huge\.json: the compiled filter has \d+ instructions; the kernel accepts at most 4096/);
});

test('bad usage: unknown flags, missing operands, a missing file', () => {
  const cases: Array<[string[], RegExp, number]> = [
    [['seccomp', 'compile', 'stockade:default'], /needs -o FILE/, 2],
    [['seccomp', 'compile', 'stockade:default', '-o', join(tmp, 'y.bpf'), '--frob'], /unknown flag --frob/, 2],
    [['seccomp', 'emulate', 'stockade:default', 'getppid', '--arch', 'mips'], /no syscall tables for mips|unknown/, 2],
    [['seccomp', 'emulate', 'stockade:default', 'nosuchcall'], /has no syscall named "nosuchcall"/, 2],
    [['seccomp', 'emulate', 'stockade:default', 'read', 'zz'], /"zz" is not a 64-bit integer/, 2],
    [['seccomp', 'disasm', join(tmp, 'absent.bpf')], /absent\.bpf: cannot read: ENOENT/, 1],
    [['seccomp', 'disasm', file('odd.bpf', 'abc')], /whole number of 8-byte instructions/, 2],
    [['seccomp', 'frobnicate'], /unknown command "frobnicate"/, 2],
    [['seccomp', 'compile', 'stockade:nope', '-o', join(tmp, 'z.bpf')], /no built-in profile "stockade:nope"/, 2],
  ];
  for (const [args, re, code] of cases) {
    const r = stockade(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, re);
  }
  assert.equal(readFileSync(join(tmp, 'odd.bpf'), 'utf8'), 'abc');
});
