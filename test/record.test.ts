/**
 * stockade record: real workloads are recorded, then run under the recorded policy with every layer
 * enforcing, with the same output; the same workload doing one thing more is blocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const hasStrace = existsSync('/usr/bin/strace');
const { hostFacts } = await import('../src/backends/native/run.js');
const { fastRecorderUnavailable } = await import('../src/record/ebpf.js');
/** Why the fast recorder cannot run here (statically), or undefined. */
const noFast = fastRecorderUnavailable(hostFacts());
/** Why no recorder can run here, or undefined (the default recorder falls back to strace). */
const noRecorder = noFast && !hasStrace ? `the fast recorder cannot run (${noFast}) and strace is not installed` : undefined;
const work = mkdtempSync('/var/tmp/stockade-record-');
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function stockade(args: string[], cwd = work) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function roundTrip(name: string, cmd: string[], extra: string[] = []): { recorded: string; first: string } {
  const policy = join(work, `${name}.yaml`);
  const rec = stockade(['record', ...extra, '-o', policy, '--', ...cmd]);
  assert.equal(rec.code, 0, `recording ${name}: ${rec.err}`);
  assert.match(readFileSync(policy, 'utf8'), /^# complete: yes/m);
  // The default recorder is the fast one wherever it can run; strace stands in, and says so.
  if (!extra.includes('--via')) {
    if (noFast) assert.match(rec.err, /^stockade: recording with strace: the fast recorder cannot run here \(/m);
    else assert.match(readFileSync(policy, 'utf8'), /^# recorded by stockade record --via fast: /m);
  }
  const again = stockade(['run', '--policy', policy]);
  assert.equal(again.code, 0, `${name} under its recorded policy: ${again.err} ${again.out}\n${readFileSync(policy, 'utf8')}`);
  assert.equal(again.out, rec.out, `${name}: the same output under the recorded policy`);
  return { recorded: policy, first: rec.out };
}

for (const via of ['fast', 'strace'] as const) test(`a coreutils shell pipeline round-trips (--via ${via}); reading outside the recording or a new syscall is blocked`, (t) => {
  if (via === 'strace' && !hasStrace) return t.skip('strace is not installed (apt-get install strace)');
  if (via === 'fast' && noFast) return t.skip(`the fast recorder cannot run here: ${noFast}`);
  writeFileSync(join(work, 'words.txt'), 'pear\napple\npear\nfig\n');
  const { recorded } = roundTrip(`pipeline-${via}`, ['sh', '-c', 'sort words.txt | uniq -c | sort -rn > counts.txt; cat counts.txt'], ['--via', via]);
  assert.match(readFileSync(recorded, 'utf8'), new RegExp(`^# recorded by stockade record --via ${via}: `, 'm'));
  assert.match(readFileSync(recorded, 'utf8'), via === 'strace' ? /^# capabilities: not observable under strace; /m : /^# capabilities: used none/m);
  const profile = JSON.parse(readFileSync(join(work, `pipeline-${via}.seccomp.json`), 'utf8')) as { syscalls: Array<{ names: string[] }> };
  const allowed = new Set(profile.syscalls.flatMap((s) => s.names));
  assert.ok(allowed.has('openat') && allowed.has('execve') && allowed.has('pipe2'));
  assert.ok(!allowed.has('mount') && !allowed.has('ptrace') && !allowed.has('socket'), 'only what the pipeline made');
  const outside = stockade(['run', '--policy', recorded, '--', 'sh', '-c', 'sort words.txt; cat /var/log/dpkg.log']);
  assert.notEqual(outside.code, 0);
  assert.match(outside.err, /dpkg\.log: No such file or directory/);
  // A syscall the recording never saw fails (EPERM): here, a program the pipeline never ran.
  const extra = stockade(['run', '--policy', recorded, '--', 'sh', '-c', 'sort words.txt | uniq -c; /usr/bin/python3 -c "import socket; socket.socket()"']);
  assert.notEqual(extra.code, 0);
});

test('a python3 script that reads and writes files round-trips; a file outside is blocked', (t) => {
  if (noRecorder) return t.skip(noRecorder);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  writeFileSync(join(work, 'data.csv'), 'a,1\nb,2\nc,3\n');
  writeFileSync(join(work, 'sum.py'), "import sys, socket\ntotal = sum(int(l.split(',')[1]) for l in open('data.csv'))\nopen('total.txt', 'w').write(str(total))\nprint(open('total.txt').read())\nif len(sys.argv) > 2 and sys.argv[1] == 'read': print(open(sys.argv[2]).read())\nif len(sys.argv) > 1 and sys.argv[1] == 'socket': socket.socket()\n");
  const { recorded } = roundTrip('python', ['/usr/bin/python3', 'sum.py']);
  const outside = stockade(['run', '--policy', recorded, '--', '/usr/bin/python3', 'sum.py', 'read', '/var/log/dpkg.log']);
  assert.notEqual(outside.code, 0);
  assert.match(outside.err, /FileNotFoundError|PermissionError/);
  // One syscall more (socket) is denied, and the event names it.
  const events = join(work, 'python-events.jsonl');
  const extra = stockade(['run', '--policy', recorded, '--events', events, '--', '/usr/bin/python3', 'sum.py', 'socket']);
  assert.notEqual(extra.code, 0);
  assert.match(extra.err, /PermissionError/);
  if (process.getuid?.() === 0 && existsSync('/proc/self/loginuid')) {
    const named = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { layer: string; kind: string; what: string });
    const blocked = named.filter((e) => e.layer === 'seccomp' && e.kind === 'blocked').map((e) => e.what);
    assert.ok(blocked.includes('socket'), `the event names what was blocked: ${blocked.join(', ')}`);
    // Every named call really is outside the recording (the socket path may need more than socket).
    const profile = JSON.parse(readFileSync(join(work, 'python.seccomp.json'), 'utf8')) as { syscalls: Array<{ names: string[]; args?: unknown }> };
    const allowed = new Set(profile.syscalls.filter((s) => !s.args).flatMap((s) => s.names));
    assert.deepEqual(blocked.filter((b) => allowed.has(b)), [], 'no event names an allowed call');
  } else t.diagnostic('naming the blocked syscall needs root (the kernel audit records)');
});

test('a gcc compile of a small C program round-trips', (t) => {
  if (noRecorder) return t.skip(noRecorder);
  writeFileSync(join(work, 'hello.c'), '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 0; }\n');
  roundTrip('gcc', ['sh', '-c', 'gcc -O1 -o hello hello.c && ./hello']);
});

test('a node script serving and fetching HTTP on loopback round-trips', (t) => {
  if (noRecorder) return t.skip(noRecorder);
  writeFileSync(join(work, 'serve.js'), "const http = require('http');\nconst s = http.createServer((q, r) => r.end('pong ' + q.url));\ns.listen(0, '127.0.0.1', () => http.get({ host: '127.0.0.1', port: s.address().port, path: '/x' }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { console.log(b); s.close(); }); }));\n");
  const { recorded } = roundTrip('node', [process.execPath, 'serve.js'], ['--net', 'loopback']);
  assert.match(readFileSync(recorded, 'utf8'), /^network: loopback$/m);
});

test('recordings of different runs merge into one policy that runs both', (t) => {
  if (noRecorder) return t.skip(noRecorder);
  // One workload run two ways (as a test suite run with different inputs would be).
  writeFileSync(join(work, 'two-ways.sh'), 'if [ "$(cat mode.txt)" = docs ]; then ls -1 /usr/share/doc | head -1; else /usr/bin/python3 -c "print(2)"; fi\n');
  const a = join(work, 'docs.yaml');
  const b = join(work, 'py.yaml');
  writeFileSync(join(work, 'mode.txt'), 'docs');
  assert.equal(stockade(['record', '-o', a, '--', 'sh', 'two-ways.sh']).code, 0);
  writeFileSync(join(work, 'mode.txt'), 'python');
  assert.equal(stockade(['record', '-o', b, '--', 'sh', 'two-ways.sh']).code, 0);
  assert.notEqual(stockade(['run', '--policy', a]).code, 0, 'the docs recording alone does not run the python way');
  const merged = join(work, 'merged.yaml');
  const m = stockade(['record', '--merge', a, b, '-o', merged]);
  assert.equal(m.code, 0, m.err);
  assert.equal(stockade(['run', '--policy', merged]).code, 0, 'the python way runs under the merged policy');
  writeFileSync(join(work, 'mode.txt'), 'docs');
  assert.equal(stockade(['run', '--policy', merged]).code, 0, 'and so does the docs way');
  const other = join(work, 'other.yaml');
  assert.equal(stockade(['record', '-o', other, '--', 'true']).code, 0);
  const refused = stockade(['record', '--merge', a, other, '-o', join(work, 'no.yaml')]);
  assert.equal(refused.code, 2, 'recordings of different commands do not merge');
  assert.match(refused.err, /merge recordings of one workload/);
});

test('bad input: an unreadable base policy, a missing command, a crashing workload, a recorder that cannot run', (t) => {
  if (noRecorder) return t.skip(noRecorder);
  const out = join(work, 'bad.yaml');
  const unreadable = stockade(['record', '--policy', join(work, 'absent.yaml'), '-o', out, '--', 'true']);
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.err.trim(), /^stockade: .*absent\.yaml: cannot read the policy: ENOENT$/);
  const missing = stockade(['record', '-o', out, '--', 'no-such-program-xyz']);
  assert.equal(missing.code, 2);
  assert.match(missing.err.trim(), /command not found on PATH: no-such-program-xyz$/);
  assert.ok(!existsSync(out), 'nothing was recorded, so nothing is written');
  const crash = stockade(['record', '-o', out, '--', 'sh', '-c', 'cat /etc/hostname; kill -SEGV $$']);
  assert.equal(crash.code, 1);
  assert.match(crash.err, /the recording is incomplete \(.*SIGSEGV.*\)/);
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^# complete: no/m, 'the partial recording is written and marked incomplete');
  assert.match(readFileSync(join(work, 'bad.seccomp.json'), 'utf8'), /"openat"/);
  const via = stockade(['record', '--via', 'ptrace', '-o', out, '--', 'true']);
  assert.equal(via.code, 2);
  assert.match(via.err.trim(), /^stockade: --via: "ptrace" is not a recorder; use strace or fast$/);
});

test('--via fast where the fast recorder cannot run is an error naming why (exit 2); the default falls back to strace and says so', (t) => {
  // A host without a cgroup v2 tree: a private mount namespace where the tree is unmounted.
  const v2 = hostFacts().cgroup.v2Root;
  let prefix: string[] = [];
  if (process.getuid?.() === 0) {
    if (!v2) return t.skip('this host has no cgroup v2 tree to take away');
    const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `umount ${v2}`], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`cannot unmount the cgroup v2 tree in a private mount namespace: ${probe.stderr.trim()}`);
    prefix = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `umount ${v2} && exec "$@"`, 'sh'];
  } // not root: the fast recorder cannot load its programs anyway
  const run = (via: string[]) => {
    const argv = [...prefix, process.execPath, cli, 'record', ...via, '-o', join(work, 'nofast.yaml'), '--', 'true'];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: work, timeout: 120_000 });
    return { code: r.status, err: r.stderr };
  };
  const forced = run(['--via', 'fast']);
  assert.equal(forced.code, 2, forced.err);
  assert.match(forced.err.trim(), /^stockade: --via fast: the fast recorder cannot run here: .+; use --via strace$/);
  if (!hasStrace) return t.skip('the fallback needs strace (apt-get install strace)');
  const fallback = run([]);
  assert.equal(fallback.code, 0, fallback.err);
  assert.match(fallback.err, /^stockade: recording with strace: the fast recorder cannot run here \(.+\)$/m);
  const text = readFileSync(join(work, 'nofast.yaml'), 'utf8');
  assert.match(text, /^# recorded by stockade record --via strace: true$/m);
  assert.match(text, /^# capabilities: not observable under strace; kept as BASE grants them \(none\)$/m);
});

test('nothing lost, nothing invented: on the same run, the fast recorder and strace see the same syscalls and paths', async (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
  if (noFast) return t.skip(`the fast recorder cannot run here: ${noFast}`);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  const { start } = await import('../src/backends/native/run.js');
  const { fastRecorder } = await import('../src/record/ebpf.js');
  const { recordedPolicy, recordedProfile } = await import('../src/record/generate.js');
  const { observeStrace } = await import('../src/record/strace.js');
  const { addExecHelpers } = await import('../src/cli/record.js');
  const { defaultPolicy } = await import('../src/policy/defaults.js');
  const host = hostFacts();
  // strace runs inside the sandbox, around the workload: both watch the very same syscalls. The
  // workload names paths every way a program can: absolute, cwd-relative after chdir, relative to
  // a directory descriptor, through a script's #! line; it writes, renames, links, makes
  // directories, and talks TCP on loopback.
  const dir = work;
  writeFileSync(join(dir, 'words.txt'), 'b\na\nb\n');
  writeFileSync(join(dir, 'script.sh'), '#!/bin/sh\nhead -1 words.txt > /dev/null\n', { mode: 0o755 });
  writeFileSync(join(dir, 'paths.py'), [
    'import os, socket',
    "os.makedirs('sub/deeper', exist_ok=True)",
    "d = os.open('sub', os.O_RDONLY | os.O_DIRECTORY)",
    "os.close(os.open('made.txt', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=d))",
    "os.rename('made.txt', 'renamed.txt', src_dir_fd=d, dst_dir_fd=d)",
    "os.stat('renamed.txt', dir_fd=d)",
    "os.symlink('renamed.txt', 'sub/link.txt')",
    "os.chdir('/usr/share')",
    "os.listdir('doc')",
    "os.chdir(d)",
    "open('renamed.txt').read()",
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)",
    "c = socket.create_connection(s.getsockname()); c.close(); s.close()",
    'os.uname()',
  ].join('\n') + '\n');
  const trace = join(dir, 'inner.trace');
  const policy = defaultPolicy();
  policy.command = ['strace', '-f', '-qq', '-s', '4096', '-y', '-o', trace, '--', 'sh', '-c', 'sort words.txt | uniq -c > /dev/null; ./script.sh; mkdir -p sub && cd sub && cat ../words.txt > copy.txt && cd .. && /usr/bin/python3 paths.py'];
  policy.syscalls.profile = 'unconfined';
  policy.network = 'loopback';
  const recorder = fastRecorder({ cwd: dir, excludeComm: 'strace' });
  const run = start(policy, { cwd: dir, watchers: [recorder], stdio: ['ignore', 'ignore', 'pipe'], host });
  let stderr = '';
  run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const r = await run.result;
  assert.equal(r.exitCode, 0, stderr);
  const fast = recorder.observation();
  assert.ok(fast.complete, `the fast recording is complete: ${fast.notes.join('; ')}`);
  const text = readFileSync(trace, 'utf8');
  // Syscalls.
  const inProfile = new Set((recordedProfile(fast) as { syscalls: Array<{ names: string[] }> }).syscalls.flatMap((s) => s.names));
  const seenByStrace = new Set([...text.matchAll(/^(?:\d+ +)?(?:<\.\.\. )?([a-z_][a-z_0-9]*)[( ]/gm)].map((m) => m[1]!));
  assert.deepEqual([...seenByStrace].filter((n) => !inProfile.has(n)), [], 'every syscall strace saw is in the fast recorder\'s profile');
  assert.deepEqual([...(fast.syscalls.x86_64 ?? [])].filter((n) => !seenByStrace.has(n)), [], 'every syscall the fast recorder reports was made');
  // Paths, addresses: strace's reading of its own trace against the fast recorder's.
  const program = /^\d+ +execve\("([^"]+)"/m.exec(text)?.[1];
  assert.ok(program, 'the trace shows the workload starting');
  const slow = observeStrace(text, program, dir);
  assert.ok(slow.complete, slow.notes.join('; '));
  const sorted = (xs: Iterable<string>) => [...xs].sort();
  for (const kind of ['read', 'write', 'exec', 'stat'] as const) {
    const a = sorted(slow.files[kind]);
    const b = sorted(fast.files[kind]);
    t.diagnostic(`${kind}: strace ${a.length}, fast ${b.length}; only strace: ${JSON.stringify(a.filter((p) => !b.includes(p)))}; only fast: ${JSON.stringify(b.filter((p) => !a.includes(p)))}`);
  }
  addExecHelpers(slow);
  addExecHelpers(fast);
  const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };
  const a = recordedPolicy(slow, policy, dir, 'x.json', isDir).policy as { filesystem: { read: string[]; write: string[] }; network: string; ports?: unknown };
  const b = recordedPolicy(fast, policy, dir, 'x.json', isDir).policy as typeof a;
  assert.ok(a.filesystem.read.length > 0 && a.filesystem.write.includes(join(dir, 'sub')), JSON.stringify(a.filesystem));
  assert.deepEqual(b.filesystem.read, a.filesystem.read, 'after collapse, the same paths read and executed');
  assert.deepEqual(b.filesystem.write, a.filesystem.write, 'after collapse, the same paths written');
  assert.equal(b.network, 'loopback');
  assert.deepEqual([b.network, b.ports], [a.network, a.ports], 'the same network use');
  // Before collapse too: the same files, looked at, read, written and executed.
  for (const kind of ['read', 'write', 'exec', 'stat'] as const) assert.deepEqual(sorted(fast.files[kind]), sorted(slow.files[kind]), `the same paths (${kind})`);
  t.diagnostic(`${seenByStrace.size} syscalls by strace, ${fast.syscalls.x86_64?.size} by the fast recorder; read ${JSON.stringify(b.filesystem.read)}, write ${JSON.stringify(b.filesystem.write)}`);
});

test('run --audit reports what enforcement would block; --events names what was blocked', (t) => {
  if (process.getuid?.() !== 0) return t.skip('reading the kernel\'s audit records needs root');
  if (!existsSync('/proc/self/loginuid')) return t.skip('this kernel has no audit support (CONFIG_AUDIT)');
  const audited = stockade(['run', '--audit', '--', 'sh', '-c', 'unshare -U true && echo unshared']);
  assert.equal(audited.code, 0, audited.err);
  assert.equal(audited.out, 'unshared\n', 'in an audit run the call goes through');
  assert.match(audited.err, /seccomp would have denied 1 call: unshare/);
  const events = join(work, 'events.jsonl');
  const enforced = stockade(['run', '--events', events, '--', 'sh', '-c', 'unshare -U true 2>/dev/null || echo refused']);
  assert.equal(enforced.out, 'refused\n');
  const lines = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { layer: string; kind: string; what: string; pid?: number; time: string });
  const blocked = lines.find((e) => e.layer === 'seccomp' && e.kind === 'blocked');
  assert.ok(blocked, `a blocked event: ${JSON.stringify(lines)}`);
  assert.equal(blocked.what, 'unshare');
  assert.ok(typeof blocked.pid === 'number' && !Number.isNaN(Date.parse(blocked.time)));
});

test('recorded TCP ports: the same port works again, another port is refused by Landlock', (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  writeFileSync(join(work, 'fixed.py'), "import socket, sys, threading\nport = int(sys.argv[1]) if len(sys.argv) > 1 else 18080\nsrv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', 18080)); srv.listen(1)\nthreading.Thread(target=lambda: (lambda c: (c[0].sendall(b'pong'), c[0].close()))(srv.accept()), daemon=True).start()\nprint(socket.create_connection(('127.0.0.1', port)).recv(4).decode())\n");
  const { recorded } = roundTrip('ports', ['/usr/bin/python3', 'fixed.py'], ['--net', 'loopback']);
  assert.match(readFileSync(recorded, 'utf8'), /^ports:\n {2}bind:\n {4}- 18080\n {2}connect:\n {4}- 18080$/m);
  // Nothing listens on 18081 either way: ECONNREFUSED would mean no rule applied; EACCES is Landlock.
  const other = stockade(['run', '--policy', recorded, '--', '/usr/bin/python3', 'fixed.py', '18081']);
  assert.notEqual(other.code, 0);
  assert.match(other.err, /PermissionError: \[Errno 13\]/);
});

test('capabilities: the recording keeps the ones the workload used, and the kernel needs the one kept', (t) => {
  if (noFast) return t.skip(`capabilities are observed by the fast recorder only: ${noFast}`);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  if (!existsSync('/sys/kernel/tracing/events/capability/cap_capable') && !existsSync('/sys/kernel/debug/tracing/events/capability/cap_capable')) return t.skip('this kernel has no capability:cap_capable tracepoint (Linux 6.14+)');
  writeFileSync(join(work, 'caps-base.yaml'), 'network: loopback\ncapabilities: [CAP_NET_BIND_SERVICE, CAP_CHOWN]\n');
  writeFileSync(join(work, 'bind80.py'), "import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 80)); s.listen(1)\nprint('bound', s.getsockname()[1])\n");
  const { recorded } = roundTrip('caps', ['/usr/bin/python3', 'bind80.py'], ['--policy', join(work, 'caps-base.yaml')]);
  const text = readFileSync(recorded, 'utf8');
  assert.match(text, /^# capabilities: used CAP_NET_BIND_SERVICE(;|$)/m);
  assert.match(text, /^capabilities:\n {2}- CAP_NET_BIND_SERVICE\n(?! {2}-)/m, 'CAP_CHOWN, granted but never used, is dropped');
  // Without the capability the recording kept, the kernel refuses the bind.
  writeFileSync(join(work, 'caps-none.yaml'), text.replace(/^capabilities:\n {2}- CAP_NET_BIND_SERVICE\n/m, 'capabilities: []\n'));
  const without = stockade(['run', '--policy', join(work, 'caps-none.yaml')]);
  assert.notEqual(without.code, 0);
  assert.match(without.err, /PermissionError: \[Errno 13\]/);
});

test('a 32-bit program under the fast recorder: an incomplete recording that says to use strace, never a wrong one', (t) => {
  if (noFast) return t.skip(`the fast recorder cannot run here: ${noFast}`);
  writeFileSync(join(work, 'exit32.c'), 'void _start(void) { __asm__ volatile("movl $1, %eax\\n movl $0, %ebx\\n int $0x80"); }\n');
  const cc = spawnSync('gcc', ['-m32', '-nostdlib', '-static', '-o', join(work, 'exit32'), join(work, 'exit32.c')], { encoding: 'utf8' });
  if (cc.status !== 0) return t.skip(`cannot build a 32-bit program here: ${(cc.stderr || cc.error?.message || '').trim().split('\n')[0]}`);
  const out = join(work, 'exit32.yaml');
  const r = stockade(['record', '--via', 'fast', '-o', out, '--', './exit32']);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the recording is incomplete \(.*exit32 is a 32-bit program, whose syscalls the fast recorder cannot read \(record with --via strace\)/);
  assert.match(readFileSync(out, 'utf8'), /^# complete: no /m);
});
