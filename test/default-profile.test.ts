/**
 * The built-in profile stockade:default: it is a valid Docker/OCI profile, every entry carries its
 * reason, it compiles and the compiled program agrees with the reference evaluator, it refuses at
 * least what Docker's default profile refuses (plus a known list of extras), and its argument filters
 * do what docs/seccomp-default.md says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ALLOWED, ARGUMENT_RULES, DEFAULT_PROFILE_NAME, DENIED, INTENDED_EXTRA_DENIALS, defaultProfileJson,
} from '../src/seccomp/default-profile.js';
import { parseProfile, profileFromJson, type SeccompProfile } from '../src/seccomp/profile.js';
import { DOCKER_DEFAULT_CAPS, resolveProfile } from '../src/seccomp/resolve.js';
import { evaluate } from '../src/seccomp/reference.js';
import { formatAction } from '../src/seccomp/actions.js';
import { compileFilter } from '../src/seccomp/compile.js';
import { checkProgram, emulate, type SeccompData } from '../src/seccomp/emulate.js';
import { syscallNumber, syscallsOf } from '../src/seccomp/syscalls.js';
import { AUDIT_ARCH, type Arch } from '../src/seccomp/arch.js';
import type { SeccompFilter } from '../src/seccomp/rules.js';
import type { JsonValue } from '../src/json-exact.js';

// Compiled to dist/test/, so the repo root is two levels up.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = process.env.STOCKADE_SHARED ?? join(ROOT, '..', 'shared');
const MOBY = join(SHARED, 'data', 'seccomp', 'moby-default.json');
const KERNEL = [6, 18] as const;
const NO_CAPS: readonly string[] = [];

function ourProfile(): SeccompProfile {
  return profileFromJson(defaultProfileJson() as JsonValue, DEFAULT_PROFILE_NAME);
}

function x86_64Filter(caps: readonly string[] = NO_CAPS): SeccompFilter {
  return resolveProfile(ourProfile(), { native: 'x86_64', caps, kernel: KERNEL });
}

function call(filter: SeccompFilter, arch: Arch, name: string, args: readonly bigint[] = []): string {
  const nr = syscallNumber(arch, name);
  assert.ok(nr !== undefined, `${arch} has no syscall ${name}`);
  return formatAction(evaluate(filter, { nr, arch: AUDIT_ARCH[arch], args }));
}

test('parses as JSON text and as a value, and resolves for x86_64 (with and without caps) and aarch64', () => {
  const json = defaultProfileJson();
  assert.equal(DEFAULT_PROFILE_NAME, 'stockade:default');
  assert.equal(json.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(json.defaultErrnoRet, 1);
  const fromText = parseProfile(JSON.stringify(json, null, 2), DEFAULT_PROFILE_NAME);
  const fromValue = ourProfile();
  assert.equal(fromText.syscalls.length, fromValue.syscalls.length);
  // A fresh object each call: callers may mutate what they get.
  assert.notEqual(defaultProfileJson(), json);
  assert.deepEqual(defaultProfileJson(), json);

  for (const caps of [NO_CAPS, DOCKER_DEFAULT_CAPS]) {
    const f = x86_64Filter(caps);
    assert.deepEqual(f.arches, ['x86_64', 'x86'], 'x32 is not in the archMap: the filter kills it');
    assert.ok((f.rules.x86_64 ?? []).length > 300);
  }
  const arm = resolveProfile(fromValue, { native: 'aarch64', caps: NO_CAPS, kernel: KERNEL });
  assert.deepEqual(arm.arches, ['aarch64']);
  assert.equal(call(arm, 'aarch64', 'openat'), 'ALLOW');
  assert.equal(call(arm, 'aarch64', 'clone3'), 'ERRNO(38)');
  assert.equal(call(arm, 'aarch64', 'mount'), 'ERRNO(1)');
  assert.equal(call(arm, 'aarch64', 'ioctl', [1n, 0x5412n]), 'ERRNO(1)');
});

test('every entry has a one-line reason, no duplicate names, no name twice under the same verdict', () => {
  const json = defaultProfileJson();
  const entries = json.syscalls as Array<Record<string, unknown>>;
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const where = `syscalls[${i}] (${String((e.names as string[])[0])})`;
    assert.equal(typeof e.comment, 'string', `${where}: no comment`);
    const comment = e.comment as string;
    assert.ok(comment.trim().length > 0, `${where}: empty comment`);
    assert.ok(!/[\r\n]/.test(comment), `${where}: comment spans lines`);
    const names = e.names as string[];
    assert.equal(new Set(names).size, names.length, `${where}: a name repeats within the entry`);
    const key = JSON.stringify([e.action, e.errnoRet ?? null, e.args ?? [], e.includes ?? {}, e.excludes ?? {}]);
    for (const n of names) {
      const k = `${n} ${key}`;
      assert.ok(!seen.has(k), `${where}: ${n} already has the same verdict in syscalls[${String(seen.get(k))}]`);
      seen.set(k, i);
    }
  });
  // The tables and the JSON stay one-to-one.
  assert.equal(entries.length, ALLOWED.length + ARGUMENT_RULES.length + DENIED.length);
});

test('every x86_64, x86, x32 and aarch64 syscall has an explicit entry (none is left to the default)', () => {
  const profile = ourProfile();
  const named = new Set(profile.syscalls.flatMap((e) => e.names));
  for (const arch of ['x86_64', 'x86', 'x32', 'aarch64'] as const) {
    const missing = syscallsOf(arch).map(([n]) => n).filter((n) => !named.has(n));
    assert.deepEqual(missing, [], `${arch}: syscalls without an entry`);
  }
});

test('compiles for x86_64+x86+x32 and aarch64; the emulator agrees with evaluate() on every syscall', () => {
  const profile = ourProfile();
  const targets: Array<{ native: Arch; arches: Arch[] }> = [
    { native: 'x86_64', arches: ['x86_64', 'x86', 'x32'] },
    { native: 'aarch64', arches: ['aarch64'] },
  ];
  for (const { native, arches } of targets) {
    const filter = resolveProfile(profile, { native, arches, caps: NO_CAPS, kernel: KERNEL });
    const { program } = compileFilter(filter, DEFAULT_PROFILE_NAME);
    assert.ok(program.length < 4096, `${native}: ${program.length} instructions`);
    assert.equal(checkProgram(program), undefined);
    const cases: SeccompData[] = [];
    for (const arch of arches) {
      for (const [, nr] of syscallsOf(arch)) cases.push({ nr, arch: AUDIT_ARCH[arch] });
      // The argument filters too, on every arch.
      const at = (name: string, args: bigint[]) => {
        const nr = syscallNumber(arch, name);
        if (nr !== undefined) cases.push({ nr, arch: AUDIT_ARCH[arch], args });
      };
      for (const flags of [0n, 0x10000000n, 0x3d0f00n, 0x7e020000n, 0x20000n, 0xffffffff00000000n]) at('clone', [flags]);
      for (const fam of [0n, 1n, 2n, 10n, 16n, 17n, 38n, 40n, 0x100000002n]) at('socket', [fam, 1n, 0n]);
      for (const fam of [1n, 2n, 40n]) at('socketpair', [fam, 1n, 0n]);
      for (const p of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn, 0x400000n, 0x40000n]) at('personality', [p]);
      for (const req of [0x5412n, 0x541cn, 0x5401n, 0xdeadbeef00005412n, 0x5413n]) at('ioctl', [1n, req]);
      for (const sub of [1n, 3n, 8n, 10n]) at('socketcall', [sub, 0x1000n]);
    }
    for (const data of cases) {
      const want = evaluate(filter, data);
      const got = emulate(program, data).action;
      assert.equal(formatAction(got), formatAction(want), `${native}: nr ${data.nr} arch 0x${data.arch.toString(16)} args ${String(data.args ?? [])}`);
    }
  }
});

test("refuses at least what Docker's default profile refuses on x86_64; the extras are INTENDED_EXTRA_DENIALS", (t) => {
  if (!existsSync(MOBY)) {
    t.skip(`${MOBY} not found (set STOCKADE_SHARED)`);
    return;
  }
  const moby = resolveProfile(parseProfile(readFileSync(MOBY, 'utf8'), MOBY), { native: 'x86_64', caps: DOCKER_DEFAULT_CAPS, kernel: KERNEL });
  const ours = x86_64Filter(NO_CAPS);
  const oursWithCaps = x86_64Filter(DOCKER_DEFAULT_CAPS);
  const laxer: string[] = [];
  const extra: string[] = [];
  for (const [name, nr] of syscallsOf('x86_64')) {
    const data = { nr, arch: AUDIT_ARCH.x86_64 };
    const theirs = formatAction(evaluate(moby, data));
    const mine = formatAction(evaluate(ours, data));
    assert.equal(formatAction(evaluate(oursWithCaps, data)), mine, `${name}: capabilities change our verdict`);
    if (theirs !== 'ALLOW' && mine === 'ALLOW') laxer.push(name);
    if (theirs === 'ALLOW' && mine !== 'ALLOW') extra.push(name);
  }
  assert.deepEqual(laxer, [], 'allowed by stockade:default but refused by Docker');
  assert.deepEqual([...extra].sort(), [...INTENDED_EXTRA_DENIALS].sort());
});

test("is never looser than Docker's default profile on x86, x32 and aarch64 either", (t) => {
  if (!existsSync(MOBY)) {
    t.skip(`${MOBY} not found (set STOCKADE_SHARED)`);
    return;
  }
  const mobyProfile = parseProfile(readFileSync(MOBY, 'utf8'), MOBY);
  const cases: Array<{ native: Arch; arch: Arch }> = [
    { native: 'x86_64', arch: 'x86' }, { native: 'x86_64', arch: 'x32' }, { native: 'aarch64', arch: 'aarch64' },
  ];
  for (const { native, arch } of cases) {
    const moby = resolveProfile(mobyProfile, { native, caps: DOCKER_DEFAULT_CAPS, kernel: KERNEL });
    const ours = resolveProfile(ourProfile(), { native, caps: NO_CAPS, kernel: KERNEL });
    const laxer = syscallsOf(arch).map(([name, nr]) => ({ name, data: { nr, arch: AUDIT_ARCH[arch] } }))
      .filter(({ data }) => formatAction(evaluate(moby, data)) !== 'ALLOW' && formatAction(evaluate(ours, data)) === 'ALLOW')
      .map(({ name }) => name);
    assert.deepEqual(laxer, [], `${arch}: allowed by stockade:default but refused by Docker`);
  }
});

test('argument filters and key denials', () => {
  const f = x86_64Filter();
  const x = (name: string, ...args: bigint[]) => call(f, 'x86_64', name, args);

  assert.equal(x('clone', 0x10000000n), 'ERRNO(1)'); // CLONE_NEWUSER
  assert.equal(x('clone', 0x20000n), 'ERRNO(1)'); // CLONE_NEWNS
  assert.equal(x('clone', 0x3d0f00n), 'ALLOW'); // pthread_create's flags
  assert.equal(x('clone', 0x1200011n), 'ALLOW'); // fork()'s flags: CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
  assert.equal(x('clone3'), 'ERRNO(38)');

  assert.equal(x('ioctl', 1n, 0x5412n), 'ERRNO(1)'); // TIOCSTI
  assert.equal(x('ioctl', 1n, 0xdeadbeef00005412n), 'ERRNO(1)'); // upper 32 bits ignored
  assert.equal(x('ioctl', 1n, 0x541cn), 'ERRNO(1)'); // TIOCLINUX
  assert.equal(x('ioctl', 1n, 0x5401n), 'ALLOW'); // TCGETS
  assert.equal(x('ioctl', 1n, 0x5413n), 'ALLOW'); // TIOCGWINSZ

  assert.equal(x('socket', 1n, 1n, 0n), 'ALLOW'); // AF_UNIX
  assert.equal(x('socket', 2n, 1n, 0n), 'ALLOW'); // AF_INET
  assert.equal(x('socket', 10n, 2n, 0n), 'ALLOW'); // AF_INET6
  assert.equal(x('socket', 16n, 3n, 0n), 'ALLOW'); // AF_NETLINK
  assert.equal(x('socket', 40n, 1n, 0n), 'ERRNO(97)'); // AF_VSOCK
  assert.equal(x('socket', 38n, 5n, 0n), 'ERRNO(97)'); // AF_ALG
  assert.equal(x('socket', 17n, 3n, 0n), 'ERRNO(97)'); // AF_PACKET
  assert.equal(x('socketpair', 1n, 1n, 0n), 'ALLOW');
  assert.equal(x('socketpair', 40n, 1n, 0n), 'ERRNO(97)');

  assert.equal(x('personality', 0n), 'ALLOW');
  assert.equal(x('personality', 8n), 'ALLOW');
  assert.equal(x('personality', 0xffffffffn), 'ALLOW');
  assert.equal(x('personality', 0x0400000n), 'ERRNO(1)'); // READ_IMPLIES_EXEC
  assert.equal(x('personality', 0x0040000n), 'ERRNO(1)'); // ADDR_NO_RANDOMIZE

  for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'mount', 'umount2', 'fsopen', 'open_tree',
    'mount_setattr', 'pivot_root', 'chroot', 'bpf', 'ptrace', 'process_vm_readv', 'unshare', 'setns', 'keyctl', 'add_key',
    'userfaultfd', 'perf_event_open', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module',
    'open_by_handle_at', 'name_to_handle_at', 'reboot', 'swapon', 'settimeofday', 'clock_settime', 'sethostname', 'iopl',
    'ioperm', 'syslog', 'modify_ldt', 'kcmp', 'pidfd_getfd', 'fanotify_init', 'listns']) {
    assert.equal(x(name), 'ERRNO(1)', name);
  }
  // Calls everyday programs need.
  for (const name of ['read', 'openat', 'execve', 'vfork', 'wait4', 'prctl', 'arch_prctl', 'set_robust_list', 'rseq', 'getrandom',
    'statx', 'pipe2', 'dup3', 'eventfd2', 'timerfd_create', 'signalfd4', 'inotify_init1', 'fanotify_mark', 'sched_getaffinity',
    'membarrier', 'pkey_alloc', 'madvise', 'mlock', 'sendfile', 'copy_file_range', 'splice', 'memfd_create', 'seccomp',
    'landlock_restrict_self', 'close_range', 'openat2', 'pidfd_open', 'faccessat2', 'epoll_pwait2', 'cachestat', 'fchmodat2',
    'futex_wait', 'mseal', 'map_shadow_stack', 'statmount', 'getxattrat', 'adjtimex']) {
    assert.equal(x(name), 'ALLOW', name);
  }

  // 32-bit programs on an x86_64 host.
  for (const name of ['_llseek', '_newselect', 'stat64', 'fstatat64', 'mmap2', 'socketcall', 'ipc', 'set_thread_area',
    'clock_gettime64', 'futex_time64', 'getuid32', 'fcntl64', 'waitpid', 'sigreturn']) {
    assert.equal(call(f, 'x86', name), 'ALLOW', `x86 ${name}`);
  }
  assert.equal(call(f, 'x86', 'socket', [40n, 1n, 0n]), 'ERRNO(97)');
  // socketcall cannot show the family, so creating sockets through it is refused; the rest works.
  assert.equal(call(f, 'x86', 'socketcall', [1n, 0xffff0000n]), 'ERRNO(97)'); // SYS_SOCKET
  assert.equal(call(f, 'x86', 'socketcall', [8n, 0xffff0000n]), 'ERRNO(97)'); // SYS_SOCKETPAIR
  assert.equal(call(f, 'x86', 'socketcall', [3n, 0xffff0000n]), 'ALLOW'); // SYS_CONNECT
  assert.equal(call(f, 'x86', 'socketcall', [10n, 0xffff0000n]), 'ALLOW'); // SYS_RECV
  assert.equal(call(f, 'x86', 'clone', [0x10000000n]), 'ERRNO(1)');
  assert.equal(call(f, 'x86', 'vm86'), 'ERRNO(1)');
  assert.equal(call(f, 'x86', 'clock_settime64'), 'ERRNO(1)');
  assert.equal(call(f, 'x32', 'ioctl', [1n, 0x5412n]), 'KILL_PROCESS');
  assert.equal(call(f, 'x32', 'read'), 'KILL_PROCESS');
});
