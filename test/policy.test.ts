/** The policy model, flag overrides, the planner and the Landlock ruleset: pure, no processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicyText } from '../src/policy/load.js';
import { defaultPolicy, DEFAULT_HIDDEN } from '../src/policy/defaults.js';
import { applyOverrides } from '../src/policy/overrides.js';
import { StockadeError } from '../src/errors.js';
import { buildPlan, ROOT_MODE_UID, type RunFacts } from '../src/backends/native/plan-builder.js';
import { PHASES, type PlanOp } from '../src/helper/plan.js';
import { compileLandlock, FS, fsRightsOf } from '../src/landlock/ruleset.js';
import { hiddenPaths, expandPattern } from '../src/backends/native/view.js';

test('the same policy in YAML, JSON and TOML', () => {
  const yaml = parsePolicyText('command: [ls, -l]\nnetwork: loopback\nlimits:\n  memory: 512M\n  wallTime: 30s\n  cpu: 0.5\n', 'p.yaml');
  const json = parsePolicyText('{"command":["ls","-l"],"network":"loopback","limits":{"memory":"512M","wallTime":"30s","cpu":0.5}}', 'p.json');
  const toml = parsePolicyText('command = ["ls", "-l"]\nnetwork = "loopback"\n[limits]\nmemory = "512M"\nwallTime = "30s"\ncpu = 0.5\n', 'p.toml');
  for (const p of [yaml, json, toml]) {
    assert.deepEqual(p.command, ['ls', '-l']);
    assert.equal(p.network, 'loopback');
    assert.equal(p.limits.memory, 512 * 1024 * 1024);
    assert.equal(p.limits.wallTimeMs, 30_000);
    assert.equal(p.limits.cpu, 0.5);
    assert.deepEqual(p.filesystem.hide, [...DEFAULT_HIDDEN]);
    assert.equal(p.syscalls.profile, 'stockade:default');
  }
});

test('bad policies: one line naming the file and the field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['limits:\n  memory: 12X\n', 'a.yaml', /^a\.yaml: limits\.memory: "12X" is not a size/],
    ['network = "wifi"\n', 'a.toml', /^a\.toml: network: must be one of none, loopback, host$/],
    ['{"filesystem":{"write":["out"]}}', 'a.json', /^a\.json: filesystem\.write\[0\]: "out" must be an absolute path$/],
    ['frobnicate: 1\n', 'a.yml', /^a\.yml: frobnicate: unknown field/],
    ['capabilities: [CAP_NOPE]\n', 'a.yaml', /^a\.yaml: capabilities\[0\]: unknown capability "CAP_NOPE"$/],
    ['limits: {pids: 0}\n', 'a.yaml', /^a\.yaml: limits\.pids: must be an integer from 1/],
    ['command: [ls\n', 'a.yaml', /^a\.yaml: invalid YAML at line \d+ column \d+/],
    ['command = [\n', 'a.toml', /^a\.toml: invalid TOML at line \d+ column \d+/],
    ['{"command": }', 'a.json', /^a\.json: invalid JSON/],
    ['filesystem: {write: [/x], hide: [/x]}\n', 'a.yaml', /filesystem\.write: "\/x" is also in filesystem\.hide/],
    ['x', 'a.txt', /^a\.txt: unknown policy format/],
    ['ports: {bind: [80, 70000]}\nnetwork: loopback\n', 'a.yaml', /^a\.yaml: ports\.bind\[1\]: must be an integer from 0 to 65535$/],
    ['ports: {connect: [5432]}\n', 'a.yaml', /^a\.yaml: ports: network none has no TCP at all/],
    ['ports: {connect: [5432]}\nnetwork: loopback\nlandlock: off\n', 'a.yaml', /^a\.yaml: ports: TCP port rules are enforced by Landlock/],
  ];
  for (const [text, name, re] of cases) {
    assert.throws(() => parsePolicyText(text, name), (e: unknown) => {
      assert.ok(e instanceof StockadeError, String(e));
      assert.equal(e.code, 'input');
      assert.equal(e.message.split('\n').length, 1);
      assert.match(e.message, re);
      return true;
    }, name);
  }
});

test('flags override the policy; conflicting flags are a usage error', () => {
  const p = applyOverrides(defaultPolicy(), { write: ['out'], net: 'loopback', memory: '1G', pids: '64', timeout: '2m', command: ['make'] }, '/src/app');
  assert.deepEqual(p.filesystem.write, ['/src/app/out']);
  assert.equal(p.network, 'loopback');
  assert.equal(p.limits.memory, 1024 ** 3);
  assert.equal(p.limits.pids, 64);
  assert.equal(p.limits.wallTimeMs, 120_000);
  assert.deepEqual(p.command, ['make']);
  const usage = (o: Parameters<typeof applyOverrides>[1], re: RegExp) =>
    assert.throws(() => applyOverrides(defaultPolicy(), o, '/w'), (e: unknown) => e instanceof StockadeError && re.test(e.message));
  usage({ net: 'wifi' }, /--net: "wifi" must be none, loopback or host/);
  usage({ pids: '-3' }, /--pids/);
  usage({ memory: 'lots' }, /--memory/);
  usage({ write: ['/d'], hide: ['/d'] }, /both writable \(--write\) and hidden \(--hide\)/);
});

function facts(over: Partial<RunFacts> = {}): RunFacts {
  return {
    uid: 1000, gid: 1000, cwd: '/home/u/proj', program: '/usr/bin/true', env: ['PATH=/usr/bin:/bin'],
    hide: [{ path: '/etc/shadow', dir: false }], existing: new Set(['/home/u/proj']), landlockAbi: 7,
    cgroupProcs: [], terminal: false, seccompProgram: Buffer.alloc(8), ...over,
  };
}

function phaseOf(op: PlanOp['op']): number {
  return PHASES.findIndex((ph) => ph.includes(op));
}

test('the planner emits ops in the helper\'s phase order, rootless and as root', () => {
  for (const f of [facts(), facts({ uid: 0, gid: 0, cwdOwner: { uid: 0, gid: 0 }, rootOwned: new Set(['/home/u/proj']) })]) {
    const p = defaultPolicy();
    p.command = ['true'];
    p.limits = { pids: 10, openFiles: 64, cpuTimeSec: 5 };
    const { plan } = buildPlan(p, { ...f, cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs'] });
    const phases = plan.ops.map((o) => phaseOf(o.op));
    assert.ok(phases.every((ph) => ph >= 0));
    assert.deepEqual(phases, [...phases].sort((a, b) => a - b), 'ops are in phase order');
    assert.equal(plan.ops[plan.ops.length - 1]!.op, 'exec');
    assert.equal(plan.ops.filter((o) => o.op === 'seccomp').length, 1);
    const ns = plan.ops[0]!;
    assert.ok(ns.op === 'namespaces' && ns.ns.net && ns.ns.pid && ns.ns.mount);
    const user = plan.ops.find((o) => o.op === 'user')!;
    if (f.uid === 0) {
      assert.equal(ns.op === 'namespaces' && ns.ns.user, false, 'as root: no user namespace');
      assert.ok(user.op === 'user' && user.uid === ROOT_MODE_UID, 'as root the workload drops to 65534');
      const cwdBind = plan.ops.find((o) => o.op === 'bind' && o.target === '/home/u/proj');
      assert.ok(cwdBind && cwdBind.op === 'bind' && cwdBind.idmapRoot && !cwdBind.readOnly);
    } else {
      assert.ok(plan.ops.some((o) => o.op === 'idmap' && o.uidOutside === 1000));
      assert.ok(user.op === 'user' && user.uid === 1000);
    }
    const caps = plan.ops.find((o) => o.op === 'capabilities');
    if (f.uid === 0) {
      // As root in a user's directory, the workload is that user and the bind keeps owners as they are.
      const { plan: p2 } = buildPlan(p, { ...f, cwdOwner: { uid: 1000, gid: 1000 }, rootOwned: new Set() });
      const u2 = p2.ops.find((o) => o.op === 'user');
      assert.ok(u2 && u2.op === 'user' && u2.uid === 1000 && u2.gid === 1000);
      const b2 = p2.ops.find((o) => o.op === 'bind' && o.target === '/home/u/proj');
      assert.ok(b2 && b2.op === 'bind' && !b2.idmapRoot);
    }
    assert.deepEqual(caps && caps.op === 'capabilities' && caps.keep, []);
    assert.ok(plan.ops.some((o) => o.op === 'rlimit' && o.resource === 'nofile' && o.soft === 64n));
    assert.ok(plan.ops.some((o) => o.op === 'hide' && o.target === '/etc/shadow'));
  }
});

test('network host shares the host network namespace; unconfined has no seccomp op', () => {
  const p = defaultPolicy();
  p.command = ['true'];
  p.network = 'host';
  const { seccompProgram: _drop, ...noSeccomp } = facts();
  void _drop;
  const { plan } = buildPlan(p, noSeccomp as RunFacts);
  const ns = plan.ops[0]!;
  assert.ok(ns.op === 'namespaces' && !ns.ns.net);
  assert.ok(!plan.ops.some((o) => o.op === 'seccomp'));
});

test('landlock rights follow the ABI; none means the layer is dropped', () => {
  const view = { read: ['/'], write: ['/tmp'], dev: '/dev', proc: '/proc', denyTcp: true };
  const v7 = compileLandlock(view, 7, true);
  assert.equal(v7.ruleset.handledFs, fsRightsOf(7));
  assert.equal(v7.ruleset.handledNet, 3n);
  assert.equal(v7.ruleset.scoped, 3n);
  assert.deepEqual(v7.unavailable, []);
  const root = v7.ruleset.paths.find((r) => r.path === '/')!;
  assert.equal(root.access & FS.WRITE_FILE, 0n, 'the root view is not writable');
  assert.notEqual(v7.ruleset.paths.find((r) => r.path === '/tmp')!.access & FS.WRITE_FILE, 0n);
  const ports = compileLandlock({ ...view, denyTcp: false, tcp: { bind: [0, 8080], connect: [5432, 8080] } }, 7, true);
  assert.equal(ports.ruleset.handledNet, 3n);
  assert.deepEqual(ports.ruleset.ports, [{ port: 0, access: 1n }, { port: 5432, access: 2n }, { port: 8080, access: 3n }]);
  const bindOnly = compileLandlock({ ...view, denyTcp: false, tcp: { bind: [0] } }, 7, true);
  assert.equal(bindOnly.ruleset.handledNet, 1n, 'connect stays open when the policy names no connect ports');
  const v1 = compileLandlock(view, 1, true);
  assert.equal(v1.ruleset.handledFs, (1n << 13n) - 1n);
  assert.equal(v1.ruleset.handledNet, 0n);
  assert.ok(v1.unavailable.some((u) => u.includes('TCP')));
  const p = defaultPolicy();
  p.command = ['true'];
  const none = buildPlan(p, facts({ landlockAbi: 0 }));
  assert.ok(!none.plan.ops.some((o) => o.op === 'landlock'));
  assert.deepEqual(none.dropped, ['landlock']);
});

test('hidden patterns expand, and a grant inside a hidden directory stays reachable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-hide-'));
  try {
    for (const u of ['alice', 'bob']) {
      mkdirSync(join(dir, u, '.ssh'), { recursive: true });
      writeFileSync(join(dir, u, '.ssh', 'id_ed25519'), 'secret');
    }
    mkdirSync(join(dir, 'root', 'project'), { recursive: true });
    writeFileSync(join(dir, 'root', '.bash_history'), 'x');
    mkdirSync(join(dir, 'root', 'notes'));
    assert.deepEqual(expandPattern(`${dir}/*/.ssh`), [join(dir, 'alice', '.ssh'), join(dir, 'bob', '.ssh')]);
    const hidden = hiddenPaths([`${dir}/*/.ssh`, `${dir}/root`, `${dir}/absent`], [join(dir, 'root', 'project')]);
    const paths = hidden.map((h) => h.path).sort();
    assert.deepEqual(paths, [join(dir, 'alice', '.ssh'), join(dir, 'bob', '.ssh'), join(dir, 'root', '.bash_history'), join(dir, 'root', 'notes')].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
