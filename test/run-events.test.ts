/**
 * Enforcing runs name what the policy blocked outside seccomp: a recorded workload changed to open
 * a host file outside its recording, or to connect to a port it never used, is refused by the real
 * kernel (ENOENT: the file is not in the view; EACCES: Landlock), and `--events` names the path or
 * the port. Ordinary failures (a file that exists nowhere, a privileged port without the
 * capability) are not reported as the policy's. Needs root, a cgroup v2 tree and eBPF (the denial
 * watcher is the fast recorder's machinery); skipped with the reason otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxEvent } from '../src/backends/native/events.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const { hostFacts } = await import('../src/backends/native/run.js');
const { fastRecorderUnavailable } = await import('../src/record/ebpf.js');
const unavailable = fastRecorderUnavailable(hostFacts());
const work = mkdtempSync('/var/tmp/stockade-events-');
// A host file no recording here ever grants: outside the workload's directory and the system trees.
const outsideDir = mkdtempSync('/var/tmp/stockade-outside-');
const secret = join(outsideDir, 'secret.txt');
writeFileSync(secret, 'not for the sandbox\n');
process.on('exit', () => {
  rmSync(work, { recursive: true, force: true });
  rmSync(outsideDir, { recursive: true, force: true });
});

function stockade(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: work, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function record(name: string, cmd: string[], extra: string[] = []): string {
  const policy = join(work, `${name}.yaml`);
  const r = stockade(['record', ...extra, '-o', policy, '--', ...cmd]);
  assert.equal(r.code, 0, r.err);
  assert.match(readFileSync(policy, 'utf8'), /^# complete: yes/m);
  assert.equal(stockade(['run', '--policy', policy]).code, 0, 'the recording runs as recorded');
  return policy;
}

/** Runs under `policy` with --events; returns the run and its events. */
function runWithEvents(name: string, policy: string, cmd: string[]) {
  const file = join(work, `${name}.events.jsonl`);
  const r = stockade(['run', '--policy', policy, '--events', file, '--', ...cmd]);
  const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SandboxEvent);
  return { ...r, events, named: events.filter((e) => e.kind === 'blocked' && e.syscall !== undefined) };
}

function assertNamesPath(e: SandboxEvent | undefined, path: string, program: RegExp) {
  assert.ok(e, 'an event names the path');
  assert.equal(e.layer, 'filesystem');
  assert.equal(e.what, path);
  assert.equal(e.path, path);
  assert.equal(e.errno, 'ENOENT');
  assert.match(e.syscall ?? '', /^(open|openat|openat2)$/);
  assert.match(e.program ?? '', program);
  assert.ok(typeof e.pid === 'number' && e.pid > 0);
  assert.ok(!Number.isNaN(Date.parse(e.time)));
  assert.match(e.detail ?? '', /exists on the host and is outside the sandbox's view/);
}

test('a recorded coreutils workload that opens one more host file fails, and an event names the path', (t) => {
  if (unavailable) return t.skip(`the denial watcher cannot run here: ${unavailable}`);
  writeFileSync(join(work, 'words.txt'), 'pear\napple\npear\n');
  const policy = record('coreutils', ['sh', '-c', 'sort words.txt | uniq -c; cat words.txt']);
  // The same commands (so the same syscalls), cat given one file more.
  const r = runWithEvents('coreutils', policy, ['sh', '-c', `sort words.txt | uniq -c; cat words.txt ${secret}`]);
  assert.notEqual(r.code, 0, 'the run fails');
  assert.match(r.err, /secret\.txt: No such file or directory/, 'the kernel refused the open');
  assertNamesPath(r.named.find((e) => e.what === secret), secret, /\/cat$/);
  assert.match(r.err, new RegExp(`^stockade: the policy blocked 1 access: ${secret.replace(/[.]/g, '\\.')} \\(filesystem: openat ENOENT\\)$`, 'm'));
  assert.deepEqual(r.named.map((e) => e.what), [secret], 'nothing else is named');
});

test('a recorded python3 workload that opens one more host file fails, and an event names the path', (t) => {
  if (unavailable) return t.skip(`the denial watcher cannot run here: ${unavailable}`);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  writeFileSync(join(work, 'data.csv'), 'a,1\nb,2\n');
  writeFileSync(join(work, 'sum.py'), "import sys\nprint(sum(int(l.split(',')[1]) for l in open('data.csv')))\nif len(sys.argv) > 1: print(open(sys.argv[1]).read())\n");
  const policy = record('python', ['/usr/bin/python3', 'sum.py']);
  const r = runWithEvents('python', policy, ['/usr/bin/python3', 'sum.py', secret]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /FileNotFoundError/);
  assertNamesPath(r.named.find((e) => e.what === secret), secret, /python3/);
});

test('a recorded python3 workload that connects to an unrecorded loopback port gets EACCES, and an event names the port', (t) => {
  if (unavailable) return t.skip(`the denial watcher cannot run here: ${unavailable}`);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  if (hostFacts().landlockAbi < 4) return t.skip('TCP port rules need Landlock ABI 4');
  writeFileSync(join(work, 'serve.py'), "import socket, sys, threading\nport = int(sys.argv[1]) if len(sys.argv) > 1 else 18090\nsrv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', 18090)); srv.listen(1)\nthreading.Thread(target=lambda: (lambda c: (c[0].sendall(b'pong'), c[0].close()))(srv.accept()), daemon=True).start()\nprint(socket.create_connection(('127.0.0.1', port)).recv(4).decode())\n");
  const policy = record('serve', ['/usr/bin/python3', 'serve.py'], ['--net', 'loopback']);
  assert.match(readFileSync(policy, 'utf8'), /^ports:\n {2}bind:\n {4}- 18090\n {2}connect:\n {4}- 18090$/m);
  // Nothing listens on 18091 either way: ECONNREFUSED would mean no rule applied; EACCES is Landlock.
  const r = runWithEvents('serve', policy, ['/usr/bin/python3', 'serve.py', '18091']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /PermissionError: \[Errno 13\]/);
  const e = r.named.find((x) => x.port === 18091);
  assert.ok(e, `an event names the port: ${JSON.stringify(r.named)}`);
  assert.equal(e.layer, 'network');
  assert.equal(e.what, '127.0.0.1:18091');
  assert.equal(e.address, '127.0.0.1');
  assert.equal(e.syscall, 'connect');
  assert.equal(e.errno, 'EACCES');
  assert.match(e.program ?? '', /python3/);
  assert.match(e.detail ?? '', /TCP port 18091 is not among the ports the policy allows to connect \(Landlock\)/);
  assert.deepEqual(r.named.map((x) => x.what), ['127.0.0.1:18091'], 'nothing else is named');
});

test('a write to a path the view has read-only is named (EROFS)', (t) => {
  if (unavailable) return t.skip(`the denial watcher cannot run here: ${unavailable}`);
  const target = '/usr/stockade-events-probe';
  const file = join(work, 'erofs.events.jsonl');
  const r = stockade(['run', '--events', file, '--', 'sh', '-c', `echo x > ${target}`]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /Read-only file system/);
  assert.ok(!existsSync(target));
  const named = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SandboxEvent).filter((e) => e.syscall);
  const e = named.find((x) => x.what === target);
  assert.ok(e, JSON.stringify(named));
  assert.equal(e.layer, 'filesystem');
  assert.equal(e.errno, 'EROFS');
});

test('ordinary failures are not reported as the policy\'s: a file that exists nowhere, a privileged port without the capability', (t) => {
  if (unavailable) return t.skip(`the denial watcher cannot run here: ${unavailable}`);
  if (!existsSync('/usr/bin/python3')) return t.skip('/usr/bin/python3 is not installed');
  writeFileSync(join(work, 'words2.txt'), 'b\na\n');
  const policy = record('ordinary', ['sh', '-c', 'sort words2.txt; cat words2.txt']);
  // missing.txt is in the view (the working directory) and does not exist; /nonexistent exists nowhere.
  const r = runWithEvents('ordinary', policy, ['sh', '-c', 'sort words2.txt; cat words2.txt missing.txt /nonexistent-stockade/x']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /missing\.txt: No such file or directory/);
  assert.deepEqual(r.named, [], 'a plain "not found" is not a denial');
  // Port 80 without CAP_NET_BIND_SERVICE: EACCES from the kernel's privileged-port check, and this
  // policy has no port rules, so Landlock is not the cause.
  const file = join(work, 'port80.events.jsonl');
  const p80 = stockade(['run', '--net', 'loopback', '--events', file, '--', '/usr/bin/python3', '-c', "import socket; socket.socket().bind(('127.0.0.1', 80))"]);
  assert.notEqual(p80.code, 0);
  assert.match(p80.err, /PermissionError: \[Errno 13\]/);
  const named = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SandboxEvent).filter((e) => e.syscall);
  assert.deepEqual(named, [], 'EACCES the policy did not cause is not named');
});

test('denialEvents: which layer explains an errno (Landlock rights, the view, ports)', async () => {
  const { denialEvents, viewAt } = await import('../src/backends/native/denials.js');
  const { FS, NET } = await import('../src/landlock/ruleset.js');
  const READ = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR;
  const plan = {
    version: 1 as const, wallTimeoutMs: 0,
    ops: [
      { op: 'rootTmpfs' as const },
      { op: 'bind' as const, source: '/usr', target: '/usr', readOnly: true, optional: false, idmapRoot: false },
      { op: 'bind' as const, source: outsideDir, target: outsideDir, readOnly: false, optional: false, idmapRoot: false },
      { op: 'tmpfs' as const, target: '/tmp', sizeBytes: 0, mode: 0o1777 },
      { op: 'hide' as const, target: secret },
      { op: 'landlock' as const, ruleset: { abi: 7, handledFs: FS.EXECUTE | FS.READ_FILE | FS.READ_DIR | FS.WRITE_FILE | FS.MAKE_REG, handledNet: NET.CONNECT_TCP, scoped: 0n, paths: [{ path: '/usr', access: READ, optional: false }, { path: outsideDir, access: READ | FS.WRITE_FILE | FS.MAKE_REG, optional: false }], ports: [{ port: 443, access: NET.CONNECT_TCP }], required: true } },
    ],
  };
  assert.equal(viewAt(plan, '/usr/bin/sh'), 'host');
  assert.equal(viewAt(plan, '/var/log'), 'absent');
  assert.equal(viewAt(plan, '/tmp/x'), 'sandbox');
  assert.equal(viewAt(plan, secret), 'hidden');
  const base = { pid: 10, tid: 10, program: '/usr/bin/x', time: Number(process.hrtime.bigint()) };
  const events = denialEvents([
    { ...base, syscall: 'openat', errno: 2, cls: 'open', flags: 0, path: secret }, // hidden, exists: named
    { ...base, syscall: 'openat', errno: 2, cls: 'open', flags: 0, path: '/tmp/x' }, // the sandbox's own /tmp: not
    { ...base, syscall: 'openat', errno: 2, cls: 'open', flags: 0, path: join(outsideDir, 'absent') }, // in the view: not
    { ...base, syscall: 'openat', errno: 13, cls: 'open', flags: 1, path: '/usr/bin/sh' }, // write under a read rule: Landlock
    { ...base, syscall: 'openat', errno: 13, cls: 'open', flags: 0, path: '/usr/bin/sh' }, // read is granted: DAC, not named
    { ...base, syscall: 'execve', errno: 13, cls: 'exec', path: join(outsideDir, 'tool') }, // execute is granted: not
    { ...base, syscall: 'fchmodat', errno: 13, cls: 'write', path: '/usr/bin/sh' }, // not a Landlock right: not
    { ...base, syscall: 'connect', errno: 13, endpoint: { family: 'inet', address: '10.0.0.1', port: 80 } }, // not allowed: named
    { ...base, syscall: 'connect', errno: 13, endpoint: { family: 'inet', address: '10.0.0.1', port: 443 } }, // allowed: not
    { ...base, syscall: 'bind', errno: 13, endpoint: { family: 'inet6', address: '::1', port: 80 } }, // bind unhandled: not
    { ...base, syscall: 'openat', errno: 2, cls: 'open', flags: 0, path: secret }, // the same again: once
  ], plan);
  assert.deepEqual(events.map((e) => [e.layer, e.what, e.errno]), [
    ['filesystem', secret, 'ENOENT'],
    ['landlock', '/usr/bin/sh', 'EACCES'],
    ['network', '10.0.0.1:80', 'EACCES'],
  ]);
  assert.match(events[0]!.detail!, /the policy hides it/);
  assert.match(events[1]!.detail!, /Landlock allows no write access to \/usr\/bin\/sh/);
});
