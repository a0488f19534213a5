/**
 * stockade record: real workloads are recorded, then run under the recorded policy with every layer
 * enforcing, with the same output; the same workload doing one thing more is blocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const hasStrace = existsSync('/usr/bin/strace');
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
  const again = stockade(['run', '--policy', policy]);
  assert.equal(again.code, 0, `${name} under its recorded policy: ${again.err} ${again.out}\n${readFileSync(policy, 'utf8')}`);
  assert.equal(again.out, rec.out, `${name}: the same output under the recorded policy`);
  return { recorded: policy, first: rec.out };
}

test('a coreutils shell pipeline round-trips; reading outside the recording or a new syscall is blocked', (t) => {
  if (!hasStrace) return t.skip('strace is not installed (apt-get install strace)');
  writeFileSync(join(work, 'words.txt'), 'pear\napple\npear\nfig\n');
  const { recorded } = roundTrip('pipeline', ['sh', '-c', 'sort words.txt | uniq -c | sort -rn > counts.txt; cat counts.txt']);
  const profile = JSON.parse(readFileSync(join(work, 'pipeline.seccomp.json'), 'utf8')) as { syscalls: Array<{ names: string[] }> };
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
  if (!hasStrace) return t.skip('strace is not installed');
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
  if (!hasStrace) return t.skip('strace is not installed');
  writeFileSync(join(work, 'hello.c'), '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 0; }\n');
  roundTrip('gcc', ['sh', '-c', 'gcc -O1 -o hello hello.c && ./hello']);
});

test('a node script serving and fetching HTTP on loopback round-trips', (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
  writeFileSync(join(work, 'serve.js'), "const http = require('http');\nconst s = http.createServer((q, r) => r.end('pong ' + q.url));\ns.listen(0, '127.0.0.1', () => http.get({ host: '127.0.0.1', port: s.address().port, path: '/x' }, (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { console.log(b); s.close(); }); }));\n");
  const { recorded } = roundTrip('node', [process.execPath, 'serve.js'], ['--net', 'loopback']);
  assert.match(readFileSync(recorded, 'utf8'), /^network: loopback$/m);
});

test('recordings of different runs merge into one policy that runs both', (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
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

test('bad input: an unreadable base policy, a missing command, a crashing workload', (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
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
});

test('nothing lost, nothing invented: on the same run, the fast recorder and strace agree', async (t) => {
  if (!hasStrace) return t.skip('strace is not installed');
  if (process.getuid?.() !== 0) return t.skip('the fast recorder loads eBPF programs, which needs root');
  const { hostFacts, start } = await import('../src/backends/native/run.js');
  const { startFastRecorder } = await import('../src/record/ebpf.js');
  const { recordedProfile } = await import('../src/record/generate.js');
  const { defaultPolicy } = await import('../src/policy/defaults.js');
  const host = hostFacts();
  if (!host.cgroup.v2Root) return t.skip('no cgroup v2 tree to follow');
  let recorder;
  try {
    recorder = await startFastRecorder(host, { excludeComm: 'strace' });
  } catch (e) {
    return t.skip(`the fast recorder cannot attach here: ${(e as Error).message}`);
  }
  // strace runs inside the sandbox, around the workload: both watch the very same syscalls.
  const trace = join(work, 'inner.trace');
  const policy = defaultPolicy();
  policy.command = ['strace', '-f', '-qq', '-o', trace, '--', 'sh', '-c', 'sort words.txt | uniq -c > /dev/null; /usr/bin/python3 -c "import socket, os; socket.socket(); os.uname()"'];
  policy.syscalls.profile = 'unconfined';
  writeFileSync(join(work, 'words.txt'), 'b\na\nb\n');
  const r = await start(policy, { cwd: work, extraCgroupProcs: [recorder.procsFile], stdio: ['ignore', 'ignore', 'ignore'], host }).result;
  assert.equal(r.exitCode, 0);
  const o = await recorder.finish();
  const profile = recordedProfile(o) as { syscalls: Array<{ names: string[] }> };
  const inProfile = new Set(profile.syscalls.flatMap((s) => s.names));
  const seenByStrace = new Set([...readFileSync(trace, 'utf8').matchAll(/^(?:\d+ +)?(?:<\.\.\. )?([a-z_][a-z_0-9]*)[( ]/gm)].map((m) => m[1]!));
  const lost = [...seenByStrace].filter((n) => !inProfile.has(n));
  assert.deepEqual(lost, [], 'every syscall strace saw is in the fast recorder\'s profile');
  const invented = [...(o.syscalls.x86_64 ?? [])].filter((n) => !seenByStrace.has(n));
  assert.deepEqual(invented, [], 'every syscall the fast recorder reports was made');
  t.diagnostic(`${seenByStrace.size} syscalls by strace, ${o.syscalls.x86_64?.size} by the fast recorder`);
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
