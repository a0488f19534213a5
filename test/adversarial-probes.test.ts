/**
 * The adversarial probes themselves, run UNCONFINED (no sandbox): each probe must be able to see
 * its escape happen, or a sandbox suite's "blocked" would prove nothing. As root, every probe
 * whose manifest says unconfined_expect "escaped" must report escaped here; where the kernel
 * itself lacks the feature, the probe must say error/unsupported (never blocked), and the escape
 * check is skipped with the reason. The bombs run with small caps.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  buildProbes,
  KERNEL_FEATURE_NEEDS,
  KNOWN_NEEDS,
  loadManifest,
  PLACEHOLDERS,
  probeSources,
  probeSourceDir,
  runProbe,
  setupProbeEnv,
  unmetNeeds,
  type ProbeEnv,
  type ProbeRun,
} from './support/adversarial.js';

const isRoot = process.getuid?.() === 0;
const manifest = loadManifest();

/** Small caps for the unconfined runs of the bombs: fast and safe. */
const UNCONFINED_ARGS: Record<string, string[]> = {
  fork_bomb: ['200'],
  memory_bomb: ['256'],
  cpu_spin: ['2'],
};

let bins: Map<string, string>;
let env: ProbeEnv;

before(async () => {
  bins = await buildProbes();
  env = await setupProbeEnv(bins);
});

after(async () => {
  await env?.close();
});

function run(name: string, args?: string[]): Promise<ProbeRun> {
  return runProbe(name, [], { bins, env, args, timeoutMs: 20_000 });
}

/** The output contract: one JSON line, named after the probe, exit code matching the result. */
function assertContract(r: ProbeRun): void {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${r.name}: want exactly one stdout line, got ${JSON.stringify(r.stdout)}`);
  assert.ok(r.result, `${r.name}: no report (exit ${r.exitCode}, signal ${r.signal}): ${r.stdout}${r.stderr}`);
  const j = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.deepEqual(Object.keys(j), ['probe', 'result', 'detail']);
  assert.equal(j.probe, r.name);
  assert.equal(r.exitCode, { blocked: 0, escaped: 1, error: 2 }[r.result]);
}

function say(t: TestContext, r: ProbeRun): void {
  t.diagnostic(`${r.name}: ${r.result} (${r.detail})`);
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('the manifest lists every probe source once, with known placeholders and needs', () => {
  assert.ok(manifest.length >= 25, `only ${manifest.length} probes`);
  const names = manifest.map((p) => p.name);
  assert.equal(new Set(names).size, names.length, 'duplicate probe names');
  assert.deepEqual(manifest.map((p) => p.source).sort(), probeSources());
  for (const p of manifest) {
    assert.equal(basename(p.source, '.c'), p.name);
    assert.ok(existsSync(join(probeSourceDir, p.source)), p.source);
    assert.ok(p.primitive.length > 0, p.name);
    const src = readFileSync(join(probeSourceDir, p.source), 'utf8');
    assert.ok(src.includes(`PROBE("${p.name}")`), `${p.source} must report itself as ${p.name}`);
    for (const a of p.args)
      for (const m of a.matchAll(/\{([a-z_]+)\}/g))
        assert.ok((PLACEHOLDERS as readonly string[]).includes(m[1] as string), `${p.name}: unknown placeholder ${m[0]}`);
    assert.ok(p.confined_expect.length > 0, p.name);
    for (const c of p.confined_expect) assert.ok(['blocked', 'killed', 'timeout'].includes(c), `${p.name}: ${c}`);
    assert.ok(['escaped', 'blocked-by-kernel', 'varies'].includes(p.unconfined_expect), p.name);
    for (const n of p.needs) assert.ok(KNOWN_NEEDS.includes(n), `${p.name}: unknown need ${n}`);
  }
});

test('every probe builds with -Wall -Wextra -Werror', () => {
  for (const p of manifest) assert.ok(bins.get(p.name), p.name);
  assert.ok(bins.get('suid_target'));
});

test('probes answer error (exit 2) when they cannot even attempt', async () => {
  const cases: Array<[string, string[]]> = [
    ['read_secret', []],
    ['ptrace_attach', ['0']],
    ['kill_outside', ['-1']],
    ['tiocsti', []],
    ['proc_root_secret', ['1', 'relative/path']],
    ['chroot_escape', [env.rwDir, 'relative/path']],
    ['fork_bomb', ['0']],
    ['suid_regain', [join(env.roDir, 'file.txt')]],
    ['open_by_handle', [env.secret, 'x', 'not-a-handle']],
  ];
  for (const [name, args] of cases) {
    const r = await run(name, args);
    assertContract(r);
    assert.equal(r.result, 'error', `${name} ${args.join(' ')}: ${r.detail}`);
  }
});

for (const spec of manifest) {
  test(`unconfined: ${spec.name} (${spec.primitive})`, async (t) => {
    if (!isRoot) return t.skip('the unconfined escape checks run as root');
    const unmet = unmetNeeds(spec.needs);
    if (unmet.length > 0) {
      // The kernel lacks the feature: the probe must say so (error), not claim "blocked".
      if (unmet.every((u) => KERNEL_FEATURE_NEEDS.has(u.split(':')[0] as string))) {
        const r = await run(spec.name, UNCONFINED_ARGS[spec.name]);
        say(t, r);
        assertContract(r);
        assert.equal(r.result, 'error', r.detail ?? '');
        assert.match(r.detail ?? '', /^unsupported/);
      }
      return t.skip(`escape check skipped: ${unmet.join('; ')}`);
    }

    const rwBefore = readdirSync(env.rwDir).sort();
    const roBefore = readdirSync(env.roDir).sort();
    const ptyBefore = env.ptyOutput().length;
    const tcpBefore = env.tcpConnections();
    const abstractBefore = env.abstractConnections();
    const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');

    const r = await run(spec.name, UNCONFINED_ARGS[spec.name]);
    say(t, r);
    assertContract(r);

    if (spec.unconfined_expect === 'escaped') {
      assert.equal(r.result, 'escaped', `${spec.name} must detect its own escape unconfined: ${r.detail}`);
    } else if (spec.unconfined_expect === 'blocked-by-kernel') {
      assert.equal(r.result, 'blocked', r.detail ?? '');
      t.diagnostic(`escape check skipped: the kernel itself refuses this unconfined (${r.detail})`);
    }

    // Independent evidence that the escape really happened, and that nothing was left behind.
    switch (spec.name) {
      case 'tiocsti':
        assert.ok(
          await waitFor(() => env.ptyOutput().slice(ptyBefore).includes(env.ptyInject), 2000),
          `the pty master never saw ${env.ptyInject}: ${JSON.stringify(env.ptyOutput())}`,
        );
        break;
      case 'tcp_egress':
        assert.ok(await waitFor(() => env.tcpConnections() > tcpBefore, 2000), 'the TCP listener saw no connection');
        assert.match(r.detail ?? '', /stockade-outside-tcp/);
        break;
      case 'abstract_unix':
        assert.ok(await waitFor(() => env.abstractConnections() > abstractBefore, 2000), 'the listener saw no connection');
        assert.match(r.detail ?? '', /stockade-outside-abstract/);
        break;
      case 'umount_detach':
        assert.equal(env.isMounted(env.mntDir), false, 'the throwaway tmpfs is still mounted');
        break;
      case 'kill_outside':
      case 'ptrace_attach':
      case 'process_vm_readv':
        process.kill(env.outsidePid, 0); // still alive and well
        break;
      case 'suid_regain':
        assert.match(r.detail ?? '', /euid became 0/);
        break;
      case 'proc_self_exe': {
        // The kernel's ETXTBSY says nothing about the probe: show it detects a successful open.
        assert.match(r.detail ?? '', /ETXTBSY/);
        const copy = join(env.rwDir, 'not-running-exe');
        copyFileSync(bins.get('suid_target') as string, copy);
        const w = await run('proc_self_exe', [copy]);
        say(t, w);
        assertContract(w);
        assert.equal(w.result, 'escaped', w.detail ?? '');
        assert.equal(readFileSync(copy).equals(readFileSync(bins.get('suid_target') as string)), true, 'the file changed');
        rmSync(copy);
        break;
      }
    }
    assert.deepEqual(readdirSync(env.rwDir).sort(), rwBefore, 'the probe left files in {rw_dir}');
    assert.deepEqual(readdirSync(env.roDir).sort(), roBefore, 'the probe left files in {ro_dir}');
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), corePattern, 'core_pattern changed');
  });
}
