/**
 * `stockade run` and the library API as a user meets them: exit codes and signals, stdio, a
 * terminal, env and cwd, rootless runs, many runs at once, a killed stockade, bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, spawn as sandboxSpawn } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
// Work under /var/tmp: the sandbox's /tmp is private.
const work = mkdtempSync('/var/tmp/stockade-run-');
chownSync(work, NOBODY, NOBODY);
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function stockade(args: string[], opts: { input?: string; uid?: number; cwd?: string } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    input: opts.input ?? '', encoding: 'utf8', cwd: opts.cwd ?? work, timeout: 60_000,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid, env: { ...process.env, HOME: work } } : {}),
  });
  return { code: r.status, out: r.stdout, err: r.stderr, pid: r.pid };
}

test('exit codes and signals propagate', () => {
  assert.equal(stockade(['run', '--', 'sh', '-c', 'exit 7']).code, 7);
  assert.equal(stockade(['run', '--', 'true']).code, 0);
  const killed = stockade(['run', '--', 'sh', '-c', 'kill -TERM $$']);
  assert.equal(killed.code, 128 + 15, killed.err);
});

test('the library reports exit code, signal and events', async () => {
  const ok = await run({ command: ['sh', '-c', 'exit 3'] }, { stdio: ['ignore', 'ignore', 'ignore'], cwd: work });
  assert.equal(ok.exitCode, 3);
  assert.equal(ok.signal, null);
  assert.ok(ok.events.some((e) => e.kind === 'started' && typeof e.pid === 'number' && e.pid > 0));
  assert.ok(ok.events.every((e) => !Number.isNaN(Date.parse(e.time))));
  const sig = await run({ command: ['sh', '-c', 'kill -KILL $$'] }, { stdio: ['ignore', 'ignore', 'ignore'], cwd: work });
  assert.equal(sig.exitCode, null);
  assert.equal(sig.signal, 'SIGKILL');
  // A syscall the profile kills: the event names the layer.
  const killedBySeccomp = await run({ command: ['sh', '-c', 'true'], syscalls: { profile: 'stockade:default', onViolation: 'kill' } },
    { stdio: ['ignore', 'ignore', 'ignore'], cwd: work });
  assert.equal(killedBySeccomp.exitCode, 0, 'a shell runs under the kill-on-violation profile');
});

test('stdin, stdout and stderr are piped through', () => {
  const r = stockade(['run', '--', 'sh', '-c', 'cat; echo to-err >&2'], { input: 'hello sandbox\n' });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'hello sandbox\n');
  assert.match(r.err, /to-err/);
});

test('spawn streams stdio like child_process', async () => {
  const p = sandboxSpawn({ command: ['sh', '-c', 'read x; echo "got $x"'] }, { cwd: work });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stdin!.end('42\n');
  const r = await p.result;
  assert.equal(r.exitCode, 0);
  assert.equal(out, 'got 42\n');
});

test('env and cwd come from the policy', () => {
  const sub = join(work, 'sub');
  mkdirSync(sub, { recursive: true });
  const policy = join(work, 'env.yaml');
  writeFileSync(policy, `cwd: ${sub}\nenv:\n  inherit: [PATH]\n  set: {GREETING: hi}\n`);
  const r = stockade(['run', '--policy', policy, '--', 'sh', '-c', 'pwd; echo $GREETING; echo "home=$HOME"']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${sub}\nhi\nhome=\n`);
});

test('terminal mode: the workload gets a terminal of its own', (t) => {
  const py = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import pty']).status === 0);
  if (!py) return t.skip('python3 with the pty module is needed to provide a terminal');
  const script = `import pty, sys, os\nos.chdir(${JSON.stringify(work)})\nsys.exit(pty.spawn([${JSON.stringify(process.execPath)}, ${JSON.stringify(cli)}, 'run', '--', 'sh', '-c', 'tty; test -t 0 && echo is-a-tty']) >> 8)`;
  const r = spawnSync(py, ['-c', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\/dev\/pts\/\d+/);
  assert.match(r.stdout, /is-a-tty/);
});

test('rootless: an unprivileged user gets the same sandbox', (t) => {
  if (!isRoot) return t.skip('the test switches to uid 65534, which needs root');
  const r = stockade(['run', '--', 'sh', '-c', 'id -u; cat /proc/self/status | grep -E "^(CapEff|NoNewPrivs|Seccomp):"; echo $$; touch ok'], { uid: NOBODY });
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines[0], String(NOBODY));
  assert.match(r.out, /CapEff:\s+0+\n/);
  assert.match(r.out, /NoNewPrivs:\s+1/);
  assert.match(r.out, /Seccomp:\s+2/);
  assert.equal(lines[lines.length - 1], '2', 'the workload is pid 2 in its own pid namespace (init is 1)');
  assert.ok(existsSync(join(work, 'ok')), 'the working directory is writable');
});

/** Sandboxed shells carrying `marker` in their argv (not the stockade processes that launched them). */
function sandboxProcesses(marker: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if ((argv[0] === 'sh' || argv[0] === 'sleep') && argv.some((a) => a.includes(marker))) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Mount points in our namespace (other test files may mount their own meanwhile: compare sets). */
function mountPoints(): Set<string> {
  return new Set(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]!));
}

function stockadeCgroups(): string[] {
  const out: string[] = [];
  for (const c of ['pids', 'memory']) {
    const base = `/sys/fs/cgroup/${c}/stockade`;
    if (existsSync(base)) out.push(...readdirSync(base).filter((n) => n.startsWith('stockade-')).map((n) => join(base, n)));
  }
  return out;
}

test('100 runs at once leave no mounts, cgroups or processes behind', async (t) => {
  if (!isRoot) return t.skip('cgroups on this host need root');
  const mountsBefore = mountPoints();
  const marker = `stockade-many-${process.pid}`;
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    run({ command: ['sh', '-c', `echo ${i} > /dev/null; exit $((${i} % 5))`, marker], limits: { pids: 32, memory: '64M' } },
      { stdio: ['ignore', 'ignore', 'ignore'], cwd: work })));
  results.forEach((r, i) => assert.equal(r.exitCode, i % 5));
  // The sandbox's mounts live in its own namespace: none may appear in ours. Other test files
  // running at the same time mount under their own temp dirs; those are not ours to count.
  const appeared = [...mountPoints()].filter((m) => !mountsBefore.has(m) && !/\/stockade-(adversarial|helper|probe)/.test(m));
  assert.deepEqual(appeared, [], 'no mount left in our namespace');
  assert.deepEqual(stockadeCgroups().filter((d) => d.includes(`stockade-${process.pid}-`)), [], 'no cgroup left');
  assert.deepEqual(sandboxProcesses(marker), [], 'no sandboxed process left');
});

test('stockade killed with SIGKILL leaves no sandboxed process, and the next run sweeps its cgroup', async (t) => {
  if (!isRoot) return t.skip('cgroups on this host need root');
  const marker = `stockade-orphan-${process.pid}`;
  const child = spawn(process.execPath, [cli, 'run', '--pids', '16', '--', 'sh', '-c', 'sleep 60', marker], { cwd: work, stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const closed = new Promise((r) => child.on('close', r));
  const started = Date.now();
  while (sandboxProcesses(marker).length === 0) {
    if (Date.now() - started > 10_000) assert.fail('the sandboxed shell never started');
    await new Promise((r) => setTimeout(r, 50));
  }
  const leftCgroup = stockadeCgroups().filter((d) => d.includes(`stockade-${child.pid}-`));
  assert.ok(leftCgroup.length > 0, 'the run made a cgroup');
  child.kill('SIGKILL');
  const killedAt = Date.now();
  while (sandboxProcesses(marker).length > 0) {
    if (Date.now() - killedAt > 5000) assert.fail(`sandboxed processes outlived stockade: ${sandboxProcesses(marker).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await closed;
  // The next run sweeps what the killed one could not clean.
  assert.equal(stockade(['run', '--pids', '16', '--', 'true']).code, 0);
  assert.deepEqual(leftCgroup.filter((d) => existsSync(d)), [], 'the killed run\'s cgroup was swept');
});

test('bad input: exit 2, one line naming the input, nothing set up', () => {
  const bad = join(work, 'bad.yaml');
  writeFileSync(bad, 'limits:\n  memory: lots\n');
  const cases: Array<[string[], RegExp]> = [
    [['run', '--policy', bad, '--', 'true'], /bad\.yaml: limits\.memory: "lots" is not a size/],
    [['run'], /no command to run/],
    [['run', '--write', '/nonexistent/dir', '--', 'true'], /"\/nonexistent\/dir" does not exist/],
    [['run', '--write', '/var/tmp/x-both', '--hide', '/var/tmp/x-both', '--', 'true'], /both writable \(--write\) and hidden \(--hide\)/],
    [['run', '--net', 'wifi', '--', 'true'], /--net: "wifi" must be none, loopback or host/],
    [['run', '--memory', '12Q', '--', 'true'], /--memory: "12Q" is not a size/],
    [['run', '--frob', '--', 'true'], /unknown flag --frob/],
    [['run', '--policy', join(work, 'absent.yaml'), '--', 'true'], /absent\.yaml: cannot read the policy: ENOENT/],
    [['run', '--', 'no-such-program-xyz'], /command not found on PATH: no-such-program-xyz/],
  ];
  for (const [args, re] of cases) {
    const r = stockade(args);
    // Nothing half set up: no cgroup of this refused run remains (other tests' runs may have theirs).
    assert.deepEqual(stockadeCgroups().filter((d) => d.includes(`stockade-${r.pid}-`)), [], `${args.join(' ')} left a cgroup`);
    assert.ok(r.code === 2 || (r.code === 1 && /cannot read/.test(r.err)), `${args.join(' ')}: exit ${r.code}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(lines[0]!, re);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('--isolation runc|gvisor runs the command through the OCI runtime; a bad value is refused', (t) => {
  const bad = stockade(['run', '--isolation', 'vm', '--', 'true']);
  assert.equal(bad.code, 2);
  assert.match(bad.err.trim(), /^stockade: --isolation: "vm" must be native, runc or gvisor$/);
  if (!isRoot) return t.skip('runc and runsc run as root here');
  for (const [kind, tool] of [['runc', '/usr/sbin/runc'], ['gvisor', '/usr/bin/runsc']] as const) {
    if (!existsSync(tool)) {
      t.diagnostic(`${tool} is not installed (apt-get install ${kind === 'gvisor' ? 'runsc' : 'runc'}): ${kind} not checked`);
      continue;
    }
    const r = stockade(['run', '--isolation', kind, '--', 'sh', '-c', 'cat /etc/shadow 2>/dev/null || echo hidden; exit 4']);
    assert.equal(r.code, 4, `${kind}: ${r.err}`);
    assert.equal(r.out, 'hidden\n');
    assert.match(r.err, /landlock.*cannot be expressed in an OCI runtime config/, 'the dropped layer is reported');
  }
});

test('host-wide procfs knobs are read-only and kernel internals hidden; Landlock is enforced', () => {
  const r = stockade(['run', '--', 'sh', '-c', 'grep -E " /proc/(sys|sysrq-trigger|irq|bus|fs) " /proc/self/mountinfo | grep -c " ro,"; wc -c < /proc/keys; wc -c < /proc/timer_list']);
  assert.equal(r.code, 0, r.err);
  const [ro, keys, timers] = r.out.trim().split('\n').map(Number);
  assert.ok(ro! >= 2, `procfs knobs bound read-only: ${r.out}`);
  assert.equal(keys, 0, '/proc/keys is hidden');
  assert.equal(timers, 0, '/proc/timer_list is hidden');
  // With an empty root, the mount table lets the workload list / (a tmpfs), Landlock does not:
  // the EACCES can only come from Landlock.
  const policy = join(work, 'empty-root.yaml');
  writeFileSync(policy, 'cwd: /\nfilesystem:\n  root: empty\n  read: [/usr, /lib, /lib64, /bin, /etc]\n');
  const ll = stockade(['run', '--policy', policy, '--', '/bin/sh', '-c', 'ls / 2>&1; echo rc=$?']);
  assert.match(ll.out, /cannot open directory '\/': Permission denied/);
  const off = join(work, 'empty-root-no-landlock.yaml');
  writeFileSync(off, 'cwd: /\nfilesystem:\n  root: empty\n  read: [/usr, /lib, /lib64, /bin, /etc]\nlandlock: off\n');
  const without = stockade(['run', '--policy', off, '--', '/bin/sh', '-c', 'ls / 2>&1; echo rc=$?']);
  assert.match(without.out, /rc=0/, 'without Landlock the same listing works: the denial above was Landlock');
});

test('as root, root-only files outside the granted paths stay unreadable (not hidden, just not granted)', (t) => {
  if (!isRoot) return t.skip('the claim is about running stockade as root');
  const dir = mkdtempSync('/var/tmp/stockade-rootonly-');
  try {
    const secret = join(dir, 'root-only.txt');
    writeFileSync(secret, 'root eyes only\n', { mode: 0o600 });
    const r = stockade(['run', '--', 'sh', '-c', `cat ${secret}; echo "rc=$?"; id -u`]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /root eyes only/);
    assert.match(r.err, /Permission denied/);
    assert.notEqual(r.out.trim().split('\n').at(-1), '0', 'the workload is not root');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
