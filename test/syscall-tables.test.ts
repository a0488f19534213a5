import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSCALL_TABLES, OTHER_ARCH_SYSCALL_NAMES, SYSCALL_SINCE } from '../src/seccomp/tables.gen.js';

// Compiled to dist/test/, so the repo root is two levels up.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const X32 = 0x40000000;
const ARCHES = ['x86_64', 'x86', 'x32', 'aarch64'] as const;

test('tables.gen.ts matches what the generator makes from the pinned sources', (t) => {
  const run = spawnSync(process.execPath, ['scripts/gen-syscall-tables.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
  const message = `${run.stderr}${run.stdout}`.trim();
  if (run.status === 2) {
    t.skip(`pinned linux-libc-dev 6.1.x headers unavailable: ${message}`);
    return;
  }
  assert.equal(run.status, 0, message || `generator exited with ${String(run.status ?? run.signal)}`);
});

test('first line marks the file as generated', () => {
  const first = readFileSync(join(ROOT, 'src', 'seccomp', 'tables.gen.ts'), 'utf8').split('\n')[0] ?? '';
  assert.match(first, /generated/);
  assert.match(first, /do not edit/);
});

test('x86_64 spot checks', () => {
  const t = SYSCALL_TABLES.x86_64;
  assert.equal(t.read, 0);
  assert.equal(t.getppid, 110);
  assert.equal(t.io_uring_setup, 425);
  assert.equal(t.clone3, 435);
  assert.equal(t.statmount, 457);
  assert.equal(t.listmount, 458);
  assert.equal(t.mseal, 462);
  assert.equal(t.setxattrat, 463);
  assert.equal(t.removexattrat, 466);
  assert.equal(t.map_shadow_stack, 453);
  assert.equal(t.uretprobe, 335);
  assert.equal(t.newfstatat, 262);
});

test('x86 (i386) spot checks', () => {
  const t = SYSCALL_TABLES.x86;
  assert.equal(t.socketcall, 102);
  assert.equal(t.getppid, 64);
  assert.equal(t.mseal, 462);
  assert.equal(t._llseek, 140);
  assert.equal(t._newselect, 142);
  assert.equal(t.uretprobe, undefined);
});

test('x32 spot checks: numbers carry the x32 bit', () => {
  const t = SYSCALL_TABLES.x32;
  assert.equal(t.read, X32);
  assert.equal(t.read, 1073741824);
  assert.equal(t.ioctl, X32 + 514);
  assert.notEqual(t.ioctl, X32 + 16);
  assert.equal(Object.values(t).includes(X32 + 16), false, 'nothing sits at the 64-bit ioctl number');
  assert.equal(t.rt_sigaction, X32 + 512);
  assert.equal(t.pwritev2, X32 + 547);
  assert.equal(t.mseal, X32 + 462);
  for (const [name, nr] of Object.entries(t)) assert.ok(nr >= X32 && nr < X32 + 1024, `${name}=${nr} lacks the x32 bit`);
});

test('aarch64 spot checks: the generic table as arm64 builds it', () => {
  const t = SYSCALL_TABLES.aarch64;
  assert.equal(t.getppid, 173);
  assert.equal(t.openat, 56);
  assert.equal(t.close, 57);
  assert.equal(t.clone, 220);
  assert.equal(t.execve, 221);
  assert.equal(t.io_uring_setup, 425);
  assert.equal(t.mseal, 462);
  assert.equal(t.newfstatat, 79);
  assert.equal(t.fstat, 80);
  assert.equal(t.renameat, 38);
  assert.equal(t.getrlimit, 163);
  assert.equal(t.clone3, 435);
  assert.equal(t.memfd_secret, 447);
  assert.equal(t.sync_file_range, 84);
  for (const absent of ['open', 'fork', 'stat', 'fcntl64', 'mmap2', 'sync_file_range2', 'clock_gettime64', 'arch_specific_syscall', 'syscalls']) {
    assert.equal(Object.hasOwn(t, absent), false, `aarch64 has no ${absent}`);
  }
});

test('every table is large, with one number per name and one name per number', () => {
  const source = readFileSync(join(ROOT, 'src', 'seccomp', 'tables.gen.ts'), 'utf8');
  for (const arch of ARCHES) {
    const table = SYSCALL_TABLES[arch];
    const names = Object.keys(table);
    const numbers = Object.values(table);
    assert.ok(names.length > 300, `${arch} has only ${names.length} entries`);
    assert.equal(new Set(numbers).size, numbers.length, `${arch} has two names for one number`);
    for (const nr of numbers) assert.ok(Number.isSafeInteger(nr) && nr >= 0, `${arch}: bad number ${nr}`);
    assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), `${arch} is not sorted by number`);
    // An object literal would silently keep the last of two equal keys, so count them in the source too.
    const block = new RegExp(`^  ${arch}: Object\\.freeze\\(\\{\\n([\\s\\S]*?)^  \\}\\),$`, 'm').exec(source);
    assert.ok(block?.[1], `${arch} block not found in tables.gen.ts`);
    const keys = [...block[1].matchAll(/^ {4}(\w+):/gm)].map((m) => m[1]);
    assert.equal(keys.length, names.length, `${arch} repeats a name in the source`);
  }
});

test('OTHER_ARCH_SYSCALL_NAMES: sorted, unique, and disjoint from our tables', () => {
  const ours = new Set(ARCHES.flatMap((a) => Object.keys(SYSCALL_TABLES[a])));
  assert.deepEqual([...OTHER_ARCH_SYSCALL_NAMES], [...new Set(OTHER_ARCH_SYSCALL_NAMES)].sort());
  for (const name of OTHER_ARCH_SYSCALL_NAMES) assert.equal(ours.has(name), false, `${name} is in one of our tables`);
  for (const name of ['breakpoint', 'cacheflush', 'riscv_hwprobe', 's390_pci_mmio_read', 'spu_run', 'sysmips']) {
    assert.ok(OTHER_ARCH_SYSCALL_NAMES.includes(name), name);
  }
});

test('SYSCALL_SINCE covers the post-6.1 syscalls, each present in some table', () => {
  assert.equal(SYSCALL_SINCE.mseal, '6.10');
  assert.equal(SYSCALL_SINCE.cachestat, '6.5');
  assert.equal(SYSCALL_SINCE.file_setattr, '6.17');
  assert.equal(SYSCALL_SINCE.read, undefined);
  for (const [name, version] of Object.entries(SYSCALL_SINCE)) {
    assert.match(version, /^6\.(\d+)$/);
    assert.ok(Number(version.split('.')[1]) > 1, `${name} is not newer than 6.1`);
    assert.ok(ARCHES.some((a) => Object.hasOwn(SYSCALL_TABLES[a], name)), `${name} is in no table`);
  }
});
