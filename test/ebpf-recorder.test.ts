// native/build/ebpf-recorder against the real kernel: a small C workload runs in a fresh cgroup v2
// directory while the recorder is attached, and the recorded set must hold exactly what the
// workload did after its execve: its own syscalls, its thread's and child's, the child's execve of
// a second program, the configured first arguments; and nothing from the shell that put it in the
// cgroup, nor from a process outside the cgroup. With strace present, the set must equal what
// strace logs for the same workload (minus the first execve, which the recorder cannot see: the
// task is tracked by sched_process_exec, after that syscall entered). Needs root, BPF and BTF;
// skipped with the reason otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syscallNumber } from '../src/seccomp/syscalls.js';
import { ADDRESS_SYSCALLS, FD_SYSCALLS, PATH_SYSCALLS, recorderConfig } from '../src/record/syscall-paths.js';
import { RecordStream, Tracker } from '../src/record/tracker.js';
import { emptyObservation } from '../src/record/observation.js';
import { removeCgroupDir } from '../src/host/cgroup-dir.js';
import { cgroupFacts } from '../src/host/probe.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'native', 'build', 'ebpf-recorder');
const IS_ROOT = process.getuid?.() === 0;
const STRACE = '/usr/bin/strace';
const NR = (name: string): number => {
  const nr = syscallNumber('x86_64', name);
  assert.ok(nr !== undefined, `no x86_64 number for ${name}`);
  return nr;
};
const ARG_SYSCALLS = [NR('socket'), NR('socketpair'), NR('personality')];

// One binary, three modes. "workload": getppid, socket(AF_INET), socket(AF_UNIX), socketpair(AF_UNIX),
// personality(0xffffffff) (a query), a thread that calls sched_yield, a child that calls uname and
// execs /bin/true. "outside <ms>": getcpu in a loop. "loop <n>": n getppid calls, prints the ns taken.
const WORKLOAD_C = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void *thread_main(void *arg) { (void)arg; syscall(SYS_sched_yield); return NULL; }
int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "loop") == 0) {
    long n = atol(argv[2]);
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    printf("%lld\\n", now_ns() - t0);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "paths") == 0) {
    if (chdir(argv[2]) != 0) return 5;
    int f = open("rel.txt", O_RDONLY);
    if (f < 0) return 6;
    close(f);
    int d = open("sub", O_RDONLY | O_DIRECTORY);
    if (d < 0) return 7;
    f = openat(d, "inner.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (f < 0) return 8;
    close(f);
    if (open("absent.txt", O_RDONLY) >= 0) return 9;
    pid_t child = fork();
    if (child == 0) {
      if (fchdir(d) != 0) _exit(10);
      execl("/bin/true", "true", (char *)NULL);
      _exit(127);
    }
    int st = 0;
    if (child < 0 || waitpid(child, &st, 0) != child || st != 0) return 11;
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "outside") == 0) {
    long long end = now_ns() + atol(argv[2]) * 1000000LL;
    unsigned cpu, node;
    while (now_ns() < end) syscall(SYS_getcpu, &cpu, &node, NULL);
    return 0;
  }
  int sv[2];
  syscall(SYS_getppid);
  int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_STREAM, 0);
  if (a < 0 || b < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
  syscall(SYS_personality, 0xffffffffUL);
  pthread_t t;
  if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) return 3;
  pid_t pid = fork();
  if (pid == 0) {
    struct utsname u;
    syscall(SYS_uname, &u);
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) return 4;
  return 0;
}
`;

interface Recording {
  syscalls: number[];
  args: Array<{ nr: number; arg0: number[] }>;
  tracked: number;
  lost: number;
}

let scratch = '';
let workload = '';
let setupProblem: string | undefined;
let cgroupRoot: string | undefined;
const cgroups: string[] = [];

before(() => {
  if (!existsSync(BIN)) spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs')], { cwd: ROOT, stdio: 'inherit' });
  scratch = mkdtempSync(join(tmpdir(), 'stockade-ebpf-'));
  writeFileSync(join(scratch, 'workload.c'), WORKLOAD_C);
  workload = join(scratch, 'workload');
  const cc = spawnSync(process.env['CC'] ?? 'cc', ['-O2', '-pthread', '-o', workload, join(scratch, 'workload.c')], { encoding: 'utf8' });
  if (cc.status !== 0) setupProblem = `cannot compile the test workload: ${cc.stderr || cc.error?.message}`;
  cgroupRoot = cgroupFacts().v2Root;
});

after(() => {
  for (const dir of cgroups) removeCgroupDir(dir, 100, 50);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});


/** Why this host cannot run the kernel tests, or undefined. */
function unavailable(): string | undefined {
  if (!IS_ROOT) return 'needs root (BPF programs, perf events, cgroup membership)';
  if (process.arch !== 'x64') return `records x86_64 numbers only; this is ${process.arch}`;
  if (!existsSync(BIN)) return `${BIN} is missing (node scripts/build-native.mjs failed?)`;
  if (setupProblem) return setupProblem;
  if (!cgroupRoot) return 'no cgroup v2 mount in /proc/self/mountinfo';
  return undefined;
}

function newCgroup(): { dir: string; id: string } {
  const dir = join(cgroupRoot!, `stockade-ebpf-test-${process.pid}-${cgroups.length}`);
  mkdirSync(dir);
  cgroups.push(dir);
  return { dir, id: statSync(dir, { bigint: true }).ino.toString() };
}

function exited(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Recorder {
  /** Close stdin (the workload has ended) and parse the JSON line. */
  finish(): Promise<Recording>;
}

/** Starts the recorder and resolves once it wrote "ready"; a string if it could not attach. */
async function startRecorder(cgid: string, extra: string[], argSyscalls: boolean): Promise<Recorder | string> {
  const argOpts = argSyscalls ? ARG_SYSCALLS.flatMap((nr) => ['--arg-syscall', String(nr)]) : [];
  const args = ['--cgroup-id', cgid, ...argOpts, ...extra, '--ready-fd', '3'];
  const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const done = exited(child);
  const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
  const ready = await new Promise<boolean>((resolve) => {
    let got = '';
    readyPipe.on('data', (d: Buffer) => {
      got += d.toString();
      if (got === 'ready\n') resolve(true);
    });
    readyPipe.on('error', () => resolve(false));
    void done.then(() => resolve(false));
  });
  if (!ready) {
    const r = await done;
    return `ebpf-recorder exited ${String(r.code)} before ready: ${r.stderr.trim()}`;
  }
  return {
    async finish() {
      child.stdin?.end();
      const r = await done;
      assert.equal(r.code, 0, `ebpf-recorder exited ${String(r.code)}: ${r.stderr}`);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, `one JSON line expected, got: ${r.stdout}`);
      return JSON.parse(lines[0]!) as Recording;
    },
  };
}

/** Runs argv inside the cgroup: the shell joins it, then execs argv (the execve that starts tracking). */
async function runInCgroup(dir: string, argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = 'cg=$1; shift; echo $$ > "$cg/cgroup.procs" && exec "$@"';
  return exited(spawn('sh', ['-c', script, 'sh', dir, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Starts the recorder for a fresh cgroup, or says why it cannot (the caller skips with that). */
async function setup(extra: string[] = [], argSyscalls = true): Promise<{ dir: string; rec: Recorder } | string> {
  const why = unavailable();
  if (why) return why;
  const { dir, id } = newCgroup();
  const rec = await startRecorder(id, extra, argSyscalls);
  if (typeof rec === 'string') return `BPF or BTF unavailable: ${rec}`;
  return { dir, rec };
}

test('records what the workload, its thread and its child do, and nothing else', { timeout: 60_000 }, async (t) => {
  const s = await setup();
  if (typeof s === 'string') return t.skip(s);
  const outside = exited(spawn(workload, ['outside', '400'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const run = await runInCgroup(s.dir, [workload]);
  assert.equal(run.code, 0, `workload failed: ${run.stderr}`);
  assert.equal((await outside).code, 0);
  const rec = await s.rec.finish();
  t.diagnostic(`recorded ${rec.syscalls.length} syscalls, tracked ${rec.tracked} tasks: ${JSON.stringify(rec)}`);

  assert.deepEqual([...rec.syscalls].sort((a, b) => a - b), rec.syscalls, 'syscalls are sorted');
  const has = new Set(rec.syscalls);
  for (const name of ['getppid', 'socket', 'socketpair', 'personality', 'wait4', 'exit_group'])
    assert.ok(has.has(NR(name)), `${name} (the workload's own) is missing`);
  assert.ok(has.has(NR('clone')) || has.has(NR('clone3')), 'clone/clone3 (thread and fork) is missing');
  assert.ok(has.has(NR('sched_yield')), 'sched_yield (from the thread) is missing');
  assert.ok(has.has(NR('uname')), 'uname (from the forked child) is missing');
  assert.ok(has.has(NR('execve')), "execve (the child's exec of /bin/true) is missing");
  assert.ok(has.has(NR('exit')), 'exit (the thread ending) is missing');
  // Never made by anyone in the cgroup after the exec.
  for (const name of ['reboot', 'mount', 'kexec_load', 'getcpu'])
    assert.ok(!has.has(NR(name)), `${name} was recorded but never made by the workload`);
  // The shell made dup2 after joining the cgroup but before its exec: setup, not workload.
  assert.ok(!has.has(NR('dup2')), "dup2 (the shell's, before the exec) was recorded");

  const args = new Map(rec.args.map((a) => [a.nr, a.arg0]));
  assert.deepEqual([...args.keys()], [...ARG_SYSCALLS].sort((a, b) => a - b));
  assert.deepEqual(args.get(NR('socket')), [1, 2], 'socket arg0: AF_UNIX and AF_INET');
  assert.deepEqual(args.get(NR('socketpair')), [1]);
  assert.deepEqual(args.get(NR('personality')), [0xffffffff]);
  assert.ok(rec.tracked >= 3, `workload, thread and child should be tracked (tracked=${rec.tracked})`);
  assert.equal(rec.lost, 0);
});

test('membership without an execve is not recorded; no options beyond the required ones', { timeout: 60_000 }, async (t) => {
  const s = await setup([], false);
  if (typeof s === 'string') return t.skip(s);
  // Moved into the cgroup while running: in it, but it never execs there, so it is setup, not workload.
  const mover = spawn(workload, ['outside', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const moved = exited(mover);
  writeFileSync(join(s.dir, 'cgroup.procs'), String(mover.pid));
  assert.equal((await moved).code, 0);
  const run = await runInCgroup(s.dir, ['/bin/true']);
  assert.equal(run.code, 0, run.stderr);
  const rec = await s.rec.finish();
  assert.deepEqual(rec.args, []);
  assert.equal(rec.tracked, 1, 'only /bin/true is tracked');
  assert.ok(rec.syscalls.includes(NR('exit_group')), JSON.stringify(rec));
  assert.ok(!rec.syscalls.includes(NR('getcpu')), 'getcpu of the moved process was recorded');
});

/** Syscall names in an strace -f log, without the first line's execve (the one that started it). */
function straceNames(log: string): Set<string> {
  const names = new Set<string>();
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    const rest = line.replace(/^\d+\s+/, '');
    if (rest.startsWith('+++') || rest.startsWith('---')) continue; // exit and signal lines
    const m = /^<\.\.\. (\w+) resumed>/.exec(rest) ?? /^(\w+)\(/.exec(rest);
    assert.ok(m?.[1], `unparsed strace line: ${line}`);
    if (i === 0 && m[1] === 'execve') continue;
    names.add(m[1]);
  }
  return names;
}

test('agrees with strace on the same workload', { timeout: 60_000 }, async (t) => {
  if (!existsSync(STRACE)) {
    t.skip(`${STRACE} is not installed`);
    return;
  }
  const s = await setup(['--exclude-comm', 'strace']);
  if (typeof s === 'string') return t.skip(s);
  const log = join(scratch, 'strace.log');
  const run = await runInCgroup(s.dir, [STRACE, '-f', '-qq', '-e', 'trace=all', '-o', log, '--', workload]);
  const rec = await s.rec.finish();
  if (run.code !== 0 && /ptrace|Operation not permitted/.test(run.stderr)) {
    t.skip(`strace cannot trace here: ${run.stderr.trim()}`);
    return;
  }
  assert.equal(run.code, 0, `strace run failed: ${run.stderr}`);
  const logged = new Map<number, string>();
  for (const name of straceNames(readFileSync(log, 'utf8'))) logged.set(NR(name), name);
  const recorded = new Set(rec.syscalls);
  const missing = [...logged].filter(([nr]) => !recorded.has(nr)).map(([, name]) => name);
  const extra = rec.syscalls.filter((nr) => !logged.has(nr));
  t.diagnostic(`strace logged ${logged.size} syscalls, the recorder ${recorded.size}`);
  assert.deepEqual(missing, [], 'strace logged syscalls the recorder missed');
  assert.deepEqual(extra, [], 'the recorder has syscalls strace never logged (strace itself leaking in?)');
});

test('overhead of 1,000,000 getppid calls (diagnostic only)', { timeout: 120_000 }, async (t) => {
  if (unavailable()) {
    t.skip(unavailable());
    return;
  }
  const N = 1_000_000;
  const best = async (runOnce: () => Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<number> => {
    let min = Infinity;
    for (let i = 0; i < 3; i++) {
      const r = await runOnce();
      assert.equal(r.code, 0, r.stderr);
      min = Math.min(min, Number(r.stdout.trim()) / N);
    }
    return min;
  };
  const plain = () => exited(spawn(workload, ['loop', String(N)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const base = await best(plain);
  const s = await setup();
  if (typeof s === 'string') return t.skip(s);
  const untracked = await best(plain);
  const tracked = await best(() => runInCgroup(s.dir, [workload, 'loop', String(N)]));
  const rec = await s.rec.finish();
  assert.ok(rec.syscalls.includes(NR('getppid')));
  t.diagnostic(
    `getppid ns/call: no recorder ${base.toFixed(1)}, recorder attached but process untracked ${untracked.toFixed(1)} ` +
      `(+${(untracked - base).toFixed(1)}), tracked ${tracked.toFixed(1)} (+${(tracked - base).toFixed(1)})`,
  );
});

/** Runs the "paths" workload in a fresh cgroup with the record stream on; returns what the tracker made of it. */
async function recordPaths(mode: 'record' | 'watch', dir: string) {
  const { dir: cg, id } = newCgroup();
  const configs = [...Object.keys(PATH_SYSCALLS), ...FD_SYSCALLS, ...ADDRESS_SYSCALLS].flatMap((n) => {
    const nr = syscallNumber('x86_64', n);
    const cfg = recorderConfig(n, mode);
    return nr !== undefined && cfg !== 0 ? ['--syscall', `${nr}:${cfg}`] : [];
  });
  const child = spawn(BIN, ['--cgroup-id', id, '--caps', '--events-fd', '4', ...configs, '--ready-fd', '3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
  const done = exited(child);
  const o = emptyObservation();
  const tracker = new Tracker('/', o);
  const stream = new RecordStream();
  (child.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => stream.push(d, (r) => tracker.add(r)));
  const ready = await new Promise<boolean>((resolve) => {
    (child.stdio[3] as NodeJS.ReadableStream).on('data', () => resolve(true));
    void done.then(() => resolve(false));
  });
  if (!ready) return `ebpf-recorder could not attach: ${(await done).stderr.trim()}`;
  const run = await runInCgroup(cg, [workload, 'paths', dir]);
  child.stdin?.end();
  const r = await done;
  assert.equal(run.code, 0, `workload failed (${String(run.code)}): ${run.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim()) as Recording & { events_lost: number; caps: { granted: number[]; denied: number[] } | null };
  return { o, tracker, summary, leftover: stream.leftover };
}

test('the record stream: paths resolved against the working directory and directory descriptors, execs, nothing failed', { timeout: 60_000 }, async (t) => {
  const why = unavailable();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), 'stockade-ebpf-paths-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'rel.txt'), 'x');
  try {
    const got = await recordPaths('record', dir);
    if (typeof got === 'string') return t.skip(got);
    const { o, tracker, summary } = got;
    assert.equal(summary.events_lost, 0);
    assert.equal(got.leftover, 0);
    assert.ok(o.files.read.has(join(dir, 'rel.txt')), `cwd-relative open: ${JSON.stringify([...o.files.read])}`);
    assert.ok(o.files.read.has(join(dir, 'sub')), 'the directory opened');
    assert.ok(o.files.write.has(join(dir, 'sub', 'inner.txt')), `dirfd-relative open for writing: ${JSON.stringify([...o.files.write])}`);
    assert.ok(o.files.exec.has(workload), 'the first exec, from the kernel\'s exec record');
    assert.ok(o.files.exec.has('/bin/true'), 'the child\'s exec');
    for (const set of Object.values(o.files)) assert.ok(!set.has(join(dir, 'absent.txt')), 'a failed open is not recorded');
    assert.deepEqual(tracker.failures, []);
    assert.equal(tracker.unresolved + tracker.unread, 0);
    if (summary.caps === null) t.diagnostic('no capability:cap_capable tracepoint on this kernel');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the record stream in watch mode: the failed open, with its resolved path and errno', { timeout: 60_000 }, async (t) => {
  const why = unavailable();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), 'stockade-ebpf-watch-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'rel.txt'), 'x');
  try {
    const got = await recordPaths('watch', dir);
    if (typeof got === 'string') return t.skip(got);
    const failed = got.tracker.failures.filter((f) => f.path === join(dir, 'absent.txt'));
    assert.equal(failed.length, 1, JSON.stringify(got.tracker.failures, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(failed[0]!.errno, 2);
    assert.equal(failed[0]!.syscall, 'openat');
    assert.equal(failed[0]!.program, workload);
    assert.equal(got.o.files.write.size, 1, 'watch mode still follows opens (for relative paths)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2', (t) => {
  if (!existsSync(BIN)) {
    t.skip(`${BIN} is missing`);
    return;
  }
  const ok = ['--cgroup-id', '1', '--ready-fd', '3'];
  for (const argv of [[], ['--cgroup-id', '12'], ['--cgroup-id', 'x', '--ready-fd', '3'], [...ok, '--arg-syscall', '5000'], ['--bogus', '1'],
    [...ok, '--syscall', '257:0x20013'], [...ok, '--events-fd', '4', '--syscall', '257:0x20012'], [...ok, '--events-fd', '4', '--syscall', '257:0x1f'],
    [...ok, '--events-fd', '4', '--syscall', '257'], [...ok, '--events-fd', '4', '--ring-mb', '3']]) {
    const r = spawnSync(BIN, argv, { encoding: 'utf8' });
    assert.equal(r.status, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^ebpf-recorder: .*\nusage: /);
  }
});
