/** docker/podman run flags (src/oci/docker-flags.ts) and `stockade docker`. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../src/errors.js';
import { parsePolicyText } from '../src/policy/load.js';
import type { Policy } from '../src/policy/types.js';
import { dockerCommand } from '../src/cli/docker.js';
import { emitKubernetes } from '../src/k8s/emit.js';
import { dockerArgv, dockerRun, dockerSize, renderLines, renderShell, shellQuote, type DockerOptions } from '../src/oci/docker-flags.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POLICIES = join(ROOT, 'test', 'fixtures', 'policies');

function policyOf(yaml: string, source = 'test-policy'): Policy {
  return parsePolicyText(yaml, source, 'yaml');
}

function fixture(file: string): Policy {
  return parsePolicyText(readFileSync(join(POLICIES, file), 'utf8'), file.replace(/\.yaml$/, ''), 'yaml');
}

function run(policy: Policy, opts: Partial<DockerOptions> = {}) {
  return dockerRun(policy, { name: 'app', ...opts });
}

/** The flag groups as `flag value` strings, for membership checks. */
function flags(policy: Policy, opts: Partial<DockerOptions> = {}): string[] {
  return run(policy, opts).groups.map((g) => g.join(' '));
}

function values(policy: Policy, flag: string, opts: Partial<DockerOptions> = {}): string[] {
  return run(policy, opts).groups.filter((g) => g[0] === flag).map((g) => g[1]!);
}

test('confinement flags', () => {
  const f = flags(fixture('web-server.yaml'));
  for (const want of [
    '--rm', '--read-only', '--user 101:101', '--workdir /srv/www', '--network host', '--ipc private', '--cgroupns private',
    '--cap-drop ALL', '--cap-add NET_BIND_SERVICE', '--security-opt no-new-privileges',
    '--security-opt seccomp=stockade-app.seccomp.json', '--security-opt apparmor=stockade-app', '--security-opt label=type:stockade_app.process',
  ]) assert.ok(f.includes(want), `missing ${want}: ${f.join(' | ')}`);
  assert.ok(!f.some((x) => x.startsWith('--hostname')), 'no --hostname with the host network');
  assert.deepEqual(values(fixture('many-caps.yaml'), '--cap-add'), ['KILL', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW', 'SYS_TIME']);
  assert.deepEqual(values(policyOf('command: [x]'), '--user'), ['65534:65534']);
  assert.deepEqual(values(fixture('user-ids.yaml'), '--user'), ['1500:1600']);
  assert.deepEqual(values(fixture('unconfined-syscalls.yaml'), '--security-opt').filter((v) => v.startsWith('seccomp')), ['seccomp=unconfined']);
  assert.equal(run(fixture('unconfined-syscalls.yaml')).seccomp, undefined);
  assert.deepEqual(values(policyOf('command: [x]'), '--security-opt', { lsm: 'apparmor' }), ['no-new-privileges', 'seccomp=stockade-app.seccomp.json', 'apparmor=stockade-app']);
  assert.deepEqual(values(policyOf('command: [x]'), '--security-opt', { lsm: 'selinux' }), ['no-new-privileges', 'seccomp=stockade-app.seccomp.json', 'label=type:stockade_app.process']);
});

test('network: loopback and none both map to docker\'s none (a namespace with only lo)', () => {
  assert.deepEqual(values(fixture('web-loopback.yaml'), '--network'), ['none']);
  assert.deepEqual(values(policyOf('command: [x]\nnetwork: none'), '--network'), ['none']);
  assert.deepEqual(values(policyOf('command: [x]\nhostname: box1'), '--hostname'), ['box1']);
});

test('limits', () => {
  const f = flags(fixture('app-variants.yaml'));
  for (const want of ['--memory 512m', '--memory-swap 512m', '--cpus 0.5', '--pids-limit 256', '--ulimit core=0:0', '--ulimit cpu=10:10', `--ulimit fsize=${1024 ** 3}:${1024 ** 3}`, '--ulimit nofile=1024:1024']) {
    assert.ok(f.includes(want), `missing ${want}`);
  }
  assert.equal(dockerSize(1536 * 1024), '1536k');
  assert.equal(dockerSize(2 * 1024 ** 3), '2g');
  assert.equal(dockerSize(1000), '1000b');
  assert.deepEqual(values(fixture('cron-job.yaml'), '--timeout', { engine: 'podman' }), ['900']);
});

test('file system: tmpfs, read-only and writable binds, the working directory', () => {
  const p = policyOf('command: [x]\ncwd: /srv/app\nfilesystem: { read: [/data, /srv/out], write: [/srv/out], tmpfs: [/tmp, /srv/out] }');
  assert.deepEqual(values(p, '--tmpfs'), ['/tmp:rw,exec,nosuid,nodev,mode=1777']);
  assert.deepEqual(values(p, '--volume'), ['/data:/data:ro', '/srv/out:/srv/out:rw', '/srv/app:/srv/app:rw']);
  const rootfs = run(fixture('rootfs-app.yaml'), { engine: 'podman' }).groups;
  assert.deepEqual(rootfs.at(-2), ['--rootfs', '/srv/rootfs']);
  assert.deepEqual(run(fixture('rootfs-app.yaml'), { image: 'app:1' }).groups.at(-2), ['app:1'], 'docker runs an image built from the root file system');
});

test('environment: inherited names pass through, explicit values are set', () => {
  const env = values(fixture('env-vars.yaml'), '--env');
  assert.deepEqual(env, ['PATH', 'TERM', 'DOLLAR=$HOME/not-expanded', 'EMPTY=', 'GREETING=hello world', 'QUOTED=it\'s "quoted"', 'ZED_LAST=z']);
  assert.deepEqual(values(policyOf('command: [x]\nenv: { inherit: [A, B], set: { B: "1" } }'), '--env'), ['A', 'B=1']);
});

test('the rendered command quotes every argument for the shell', () => {
  const r = run(fixture('env-vars.yaml'), { image: 'alpine:3' });
  const argv = dockerArgv(r);
  for (const text of [renderLines(r), renderShell(r)]) {
    const echoed = execFileSync('sh', ['-c', `set -- ${text.trimEnd().replace(/^docker run/, '').replace(/\\\n/g, ' ')}; printf '%s\\n' "$@"`], { encoding: 'utf8' });
    assert.deepEqual(echoed.split('\n').slice(0, -1), argv.slice(2));
  }
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  assert.equal(shellQuote(''), "''");
  assert.match(renderLines(r), /^docker run \\\n {2}--rm \\\n/);
  assert.equal(renderShell(r).split('\n').length, 2);
});

test('what docker cannot express is an input error naming the rule and the format', () => {
  const check = (fn: () => unknown, ...parts: string[]) => assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof StockadeError && e.code === 'input', String(e));
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
  check(() => run(fixture('cron-job.yaml')), 'limits.wallTime', 'docker', '--allow-weaker');
  check(() => run(policyOf('command: [x]\nlimits: { wallTime: 1500ms }'), { engine: 'podman' }), 'limits.wallTime', 'podman');
  check(() => run(policyOf('command: [x]\nlimits: { memory: 4M }')), 'limits.memory', '6MiB');
  check(() => run(fixture('custom-hide.yaml')), 'filesystem.hide[0]', '/opt/report/secrets', 'docker');
  check(() => run(fixture('interactive-shell.yaml')), 'filesystem.hide[0]', 'filesystem.hide[1]');
  // A hide pattern naming a bound path itself loses to the grant, as in stockade run; one outside binds is met.
  assert.doesNotThrow(() => run(policyOf('command: [x]\nfilesystem: { write: [/home/dev/.ssh], hide: [/home/*/.ssh, /etc/shadow] }')));
  const weaker = run(fixture('cron-job.yaml'), { allowWeaker: true });
  assert.equal(weaker.dropped.length, 1);
  assert.match(renderLines(weaker), /^# dropped \(--allow-weaker\): limits\.wallTime: /);
  const small = run(policyOf('command: [x]\nlimits: { memory: 4M }'), { allowWeaker: true });
  assert.ok(small.groups.some((g) => g.join(' ') === '--memory 6m'));
  assert.doesNotThrow(() => run(policyOf('command: [x]\nlimits: { memory: 4M }'), { engine: 'podman' }));
});

test('the seccomp profile file is the Kubernetes Localhost profile', () => {
  const p = fixture('log-violations.yaml');
  const d = run(p);
  const k = emitKubernetes(p, { name: 'app', format: 'patch' });
  assert.equal(d.seccomp!.path, 'stockade-app.seccomp.json');
  assert.equal(d.seccomp!.content, k.files[0]!.content);
  assert.equal(JSON.parse(d.seccomp!.content).defaultAction, 'SCMP_ACT_LOG');
});

function capture() {
  const out: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: () => {} }, out };
}

test('stockade docker prints the command and writes the profile it names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-docker-'));
  try {
    const c = capture();
    assert.equal(dockerCommand([join(POLICIES, 'recorded.yaml'), '--profile-dir', dir, '--image', 'thumbs:2', '--allow-weaker'], c.io), 0);
    const text = c.out.join('\n');
    const file = join(dir, 'stockade-recorded.seccomp.json');
    assert.ok(text.includes(`--security-opt seccomp=${file}`), text);
    assert.match(text, /^# dropped \(--allow-weaker\): limits\.wallTime/);
    assert.match(text, / {2}thumbs:2 \\\n {2}\/usr\/local\/bin\/thumbnailer --in \/data\/in --out \/data\/out$/);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).defaultAction, 'SCMP_ACT_KILL_PROCESS');
    const c2 = capture();
    assert.equal(dockerCommand([join(POLICIES, 'minimal.yaml'), '--format', 'shell', '--engine', 'podman', '--name', 'm', '--profile-dir', dir], c2.io), 0);
    assert.equal(c2.out.length, 1);
    assert.match(c2.out[0]!, /^podman run --rm /);
    assert.ok(existsSync(join(dir, 'stockade-m.seccomp.json')));
    assert.throws(() => dockerCommand([join(POLICIES, 'minimal.yaml'), '--engine', 'lxc'], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'usage');
    assert.throws(() => dockerCommand([join(POLICIES, 'cron-job.yaml'), '--profile-dir', dir], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'input');
    const h = capture();
    assert.equal(dockerCommand(['--help'], h.io), 0);
    assert.match(h.out.join('\n'), /--format lines/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
