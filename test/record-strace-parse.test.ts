/** The strace reader, on hand-written traces: padded pids, unfinished calls, helper lines ignored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observeStrace } from '../src/record/strace.js';
import { collapse, recordedProfile } from '../src/record/generate.js';

const TRACE = [
  '31001 execve("/work/native/build/stockade-helper", ["stockade-helper"], 0x7ffd /* 5 vars */) = 0',
  '31001 clone(child_stack=NULL, flags=CLONE_NEWNS|CLONE_NEWPID|SIGCHLD) = 31002',
  '31002 mount("tmpfs", "/tmp", "tmpfs", 0, NULL) = 0',
  '9003  execve("/usr/bin/sh", ["sh", "-c", "cat a"], 0x55 /* 4 vars */ <unfinished ...>',
  '31002 wait4(-1,  <unfinished ...>',
  '9003  <... execve resumed>)             = 0',
  '9003  openat(AT_FDCWD</srv/job>, "a.txt", O_RDONLY) = 3</srv/job/a.txt>',
  '9003  newfstatat(AT_FDCWD, "/srv", {st_mode=S_IFDIR|0755, ...}, 0) = 0',
  '9003  socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 4<socket:[1]>',
  '9003  connect(4<socket:[1]>, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
  '9003  openat(AT_FDCWD</srv/job>, "out/b.txt", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</srv/job/out/b.txt>',
  '9004  execve("/usr/bin/cat", ["cat"], 0x55 /* 4 vars */) = 0',
  '9004  openat(AT_FDCWD, "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3',
  '9004  openat(AT_FDCWD, "/missing", O_RDONLY) = -1 ENOENT (No such file or directory)',
  '9004  exit_group(0)                     = ?',
  '9004  +++ exited with 0 +++',
  '31002 <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 9003',
].join('\n');

test('only the workload counts, from its execve on; padded pids and resumed calls parse', () => {
  const o = observeStrace(TRACE, '/usr/bin/sh', '/srv/job');
  assert.equal(o.complete, true);
  const names = [...(o.syscalls.x86_64 ?? [])].sort();
  assert.deepEqual(names, ['connect', 'execve', 'exit_group', 'newfstatat', 'openat', 'socket']);
  assert.ok(!names.includes('mount') && !names.includes('wait4') && !names.includes('clone'), 'the helper\'s setup is not the workload\'s');
  assert.deepEqual([...o.files.read].sort(), ['/srv/job/a.txt', '/usr/lib/x86_64-linux-gnu/libc.so.6']);
  assert.deepEqual([...o.files.write], ['/srv/job/out/b.txt']);
  assert.deepEqual([...o.files.exec].sort(), ['/usr/bin/cat', '/usr/bin/sh']);
  assert.deepEqual(o.network.connect, [{ family: 'inet', address: '127.0.0.1', port: 8080 }]);
  assert.deepEqual([...(o.firstArgs.get('socket') ?? [])], [2n]);
  const profile = recordedProfile(o) as { syscalls: Array<{ names: string[]; args?: Array<{ valueTwo: number }> }> };
  assert.ok(profile.syscalls[0]!.names.includes('exit') && profile.syscalls[0]!.names.includes('rt_sigreturn'), 'exec and exit essentials are added');
  assert.deepEqual(profile.syscalls.filter((s) => s.args).map((s) => [s.names[0], s.args![0]!.valueTwo]), [['socket', 2]]);
});

test('path arguments by position: two directory descriptors, a symlink\'s target, an xattr name, escapes, fchdir', () => {
  const trace = [
    '700 execve("/usr/bin/python3", ["python3"], 0x1 /* 1 vars */) = 0',
    '700 renameat(3</srv/a>, "x", 4</srv/b>, "y") = 0',
    '700 symlinkat("../target", AT_FDCWD</srv/job>, "link") = 0',
    '700 setxattr("/srv/job/f", "user.note", "v", 1, 0) = 0',
    '700 openat(AT_FDCWD</srv/job>, "with \\"quote\\" and\\ttab", O_RDONLY) = 3</srv/job/with "quote" and\ttab>',
    '700 openat(AT_FDCWD</srv/job>, "a, b (c)", O_RDONLY|O_CLOEXEC) = 5',
    '700 openat2(AT_FDCWD</srv/job>, "made", {flags=O_WRONLY|O_CREAT, mode=0644, resolve=0}, 24) = 6',
    '700 fchdir(5</srv/other>) = 0',
    '700 mkdir("new", 0755) = 0',
    '700 exit_group(0) = ?',
  ].join('\n');
  const o = observeStrace(trace, '/usr/bin/python3', '/srv/job');
  assert.deepEqual([...o.files.write].sort(), ['/srv/a/x', '/srv/b/y', '/srv/job/f', '/srv/job/link', '/srv/job/made', '/srv/other/new']);
  assert.deepEqual([...o.files.read].sort(), ['/srv/job/a, b (c)', '/srv/job/with "quote" and\ttab']);
});

test('a trace without the workload\'s execve is incomplete', () => {
  const o = observeStrace(TRACE, '/usr/bin/other', '/');
  assert.equal(o.complete, false);
  assert.match(o.notes.join(), /never shows \/usr\/bin\/other starting/);
});

test('the collapsing rule', () => {
  const dirs = new Set(['/srv/job', '/srv/job/out', '/srv']);
  const isDir = (p: string) => dirs.has(p);
  assert.deepEqual(collapse(['/usr/lib/x/libc.so', '/etc/passwd', '/proc/self/maps', '/tmp/x', '/srv/job/a.txt', '/srv/job/out/b.txt', '/opt/app/bin/run', '/srv/job'], isDir),
    ['/etc', '/opt/app', '/srv/job', '/usr']);
});
