/**
 * The adversarial suite under `stockade run`: every escape probe (test/adversarial) runs inside
 * the default sandbox, as root and as an unprivileged user, and must be blocked. The probes are
 * shown able to detect an escape by test/adversarial-probes.test.ts (unconfined), so a pass here
 * means the sandbox stopped the primitive, not that the probe could not tell.
 * Independent evidence backs the probe's word: the outside listeners saw no connection, the
 * outside process lives, the terminal saw no injected bytes, core_pattern is unchanged.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, closeSync, openSync, readFileSync, constants } from 'node:fs';
import { join } from 'node:path';
import {
  buildProbes, fillArgs, KERNEL_FEATURE_NEEDS, loadManifest, parseReport, probeBuildDir, repoRoot, setupProbeEnv, unmetNeeds,
  type Outcome, type ProbeEnv,
} from './support/adversarial.js';

const isRoot = process.getuid?.() === 0;
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const NOBODY = 65534;
const manifest = loadManifest();
let bins: Map<string, string>;
let env: ProbeEnv;

before(async () => {
  bins = await buildProbes();
  // Not under /tmp: the sandbox has a private /tmp, which would hide everything trivially.
  env = await setupProbeEnv(bins, { baseDir: '/var/tmp' });
  chownSync(env.rwDir, NOBODY, NOBODY);
});
after(async () => {
  await env?.close();
});

/** Flags for every confined run, plus per-probe ones (a short wall time for the CPU spin). */
function flags(name: string, rootless: boolean): string[] {
  // The probes' binaries are made visible explicitly: a checkout under /tmp is hidden by the
  // sandbox's private /tmp.
  const f = ['--read', probeBuildDir, '--write', env.rwDir, '--hide', join(env.base, 'secret'), '--memory', '256M', '--pids', '64', '--timeout', name === 'cpu_spin' ? '3s' : '30s'];
  // Rootless on a host without cgroup delegation: rlimits stand in for the cgroup (reported).
  if (rootless) f.push('--best-effort');
  return f;
}

/** Probes whose target must be the sandbox's own stdin terminal (the host pty path is not visible). */
const ON_STDIN = new Set(['tiocsti', 'tioclinux']);

interface Confined {
  outcome: Outcome;
  detail: string;
  code: number | null;
  stderr: string;
}

function runConfined(name: string, rootless: boolean): Promise<Confined> {
  const spec = manifest.find((m) => m.name === name)!;
  let args = fillArgs(spec.args, env);
  let stdin: number | 'ignore' = 'ignore';
  if (ON_STDIN.has(name) && env.pty) {
    args = ['/proc/self/fd/0', ...args.slice(1)];
    stdin = openSync(env.pty, constants.O_RDWR | constants.O_NOCTTY);
  }
  const argv = [cli, 'run', ...flags(name, rootless), '--', bins.get(name)!, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      stdio: [stdin, 'pipe', 'pipe'],
      cwd: env.rwDir,
      ...(rootless ? { uid: NOBODY, gid: NOBODY, env: { ...process.env, HOME: env.rwDir } } : {}),
    });
    if (typeof stdin === 'number') closeSync(stdin);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      const rep = parseReport(out);
      let outcome: Outcome;
      if (/\[timeout\] wall time limit/.test(err)) outcome = 'timeout';
      else if (rep) outcome = rep.result;
      else if (code !== null && code > 128) outcome = 'killed';
      else outcome = 'unknown';
      resolve({ outcome, detail: rep?.detail ?? `exit ${code}; ${err.trim().split('\n').slice(-2).join(' | ')}`, code, stderr: err });
    });
  });
}

async function evidence(t: TestContext, name: string, check: () => Promise<Confined>): Promise<Confined> {
  const tcp = env.tcpConnections();
  const abstract = env.abstractConnections();
  const pty = env.ptyOutput().length;
  const core = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
  const r = await check();
  t.diagnostic(`${name}: ${r.outcome} (${r.detail})`);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(env.tcpConnections(), tcp, 'the outside TCP listener saw a connection');
  assert.equal(env.abstractConnections(), abstract, 'the outside abstract socket saw a connection');
  assert.ok(!env.ptyOutput().slice(pty).includes(env.ptyInject), 'bytes were injected into the outside terminal');
  assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), core, 'core_pattern changed');
  process.kill(env.outsidePid, 0); // the outside process is alive
  return r;
}

for (const mode of ['root', 'rootless'] as const) {
  for (const spec of manifest) {
    test(`${mode}: ${spec.name} is blocked (${spec.primitive})`, async (t) => {
      if (!isRoot) return t.skip('the suite starts sandboxes as root and as uid 65534, which needs root');
      if (ON_STDIN.has(spec.name) && !env.pty) return t.skip('no pty: python3 is needed to hold one');
      const r = await evidence(t, spec.name, () => runConfined(spec.name, mode === 'rootless'));
      const unmet = unmetNeeds(spec.needs).filter((u) => KERNEL_FEATURE_NEEDS.has(u.split(':')[0]!));
      if (r.outcome === 'error' && unmet.length > 0 && /^unsupported/.test(r.detail)) {
        // The filter let the call through to a kernel without the feature: nothing to escape to here.
        return t.skip(`kernel lacks the feature (${unmet.join('; ')}); the probe reached it: ${r.detail}`);
      }
      assert.ok(spec.confined_expect.includes(r.outcome as never),
        `${mode} ${spec.name}: ${r.outcome} (${r.detail}); expected ${spec.confined_expect.join(' or ')}\n${r.stderr}`);
    });
  }
}
