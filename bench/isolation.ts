/**
 * bench:isolation — what each isolation level costs, measured side by side in one run: /bin/true
 * (start-up) and a syscall-heavy loop (dd copying one byte at a time: two syscalls per byte) under
 * no sandbox, the native backend, runc and gVisor (runsc, ptrace platform), each runtime both through
 * stockade (`--isolation runc|gvisor`: facts, bundle, seccomp rewrite, cleanup) and run directly on
 * a bundle prepared once. Then the same two commands through podman (`podman --runtime R run --rm
 * --network none IMAGE CMD`, isolated storage, busybox-static image: test/support/podman.ts) with
 * runc and with stockade-runtime (bin/stockade-runtime), and the ratio of the two: podman's own
 * cost (conmon, storage, the libpod database) is in both rows, so the ratio shows the runtime's
 * share. In the image, /bin/true and /bin/dd are busybox applets. Prints median and min; never
 * asserts.
 *
 * STOCKADE_BENCH_ROUNDS (default 10) rounds of /bin/true; STOCKADE_BENCH_LOOP_ROUNDS (default 3)
 * rounds of the loop; STOCKADE_BENCH_DD_COUNT (default 100000) bytes for dd.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { start } from '../src/backends/native/run.js';
import { hostFacts } from '../src/backends/native/run.js';
import { createBundle, removeBundle } from '../src/backends/oci/bundle.js';
import { startIsolated } from '../src/backends/oci/run.js';
import { forceDelete, runtimeInfo, type Isolation } from '../src/backends/oci/runtime.js';
import { which } from '../src/host/probe.js';
import { defaultPolicy } from '../src/policy/defaults.js';
import type { Policy } from '../src/policy/types.js';
import { describeResult, podmanSession, RUNC, runtimeUnavailable, STOCKADE_RUNTIME, type Podman } from '../test/support/podman.js';

const ROUNDS = Number(process.env.STOCKADE_BENCH_ROUNDS ?? 10);
const LOOP_ROUNDS = Number(process.env.STOCKADE_BENCH_LOOP_ROUNDS ?? 3);
const DD_COUNT = Number(process.env.STOCKADE_BENCH_DD_COUNT ?? 100000);
const DD = ['/bin/dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${DD_COUNT}`, 'status=none'];

const work = mkdtempSync('/var/tmp/stockade-bench-isolation-');
if (process.getuid?.() === 0) chownSync(work, 65534, 65534);
process.chdir(work);

function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', (code) => resolve(code ?? 128));
  });
}

function policy(command: string[], landlock: Policy['landlock']): Policy {
  return { ...defaultPolicy(), command, landlock, terminal: false };
}

async function nativeRun(command: string[]): Promise<void> {
  const r = await start(policy(command, 'best-effort'), { stdio: ['ignore', 'ignore', 'ignore'] }).result;
  if (r.exitCode !== 0) throw new Error(`native: ${command[0]} exited ${r.exitCode}`);
}

async function isolatedRun(isolation: Isolation, command: string[]): Promise<void> {
  const r = await startIsolated(policy(command, 'off'), { isolation, stdio: ['ignore', 'ignore', 'ignore'] }).result;
  if (r.exitCode !== 0) throw new Error(`${isolation}: ${command[0]} exited ${r.exitCode}`);
}

/** A bundle prepared once (by stockade, same config) and run directly with `runc|runsc run`. */
function direct(isolation: Isolation, command: string[]): { run: () => Promise<void>; close: () => void } {
  const p = policy(command, 'off');
  const info = runtimeInfo(isolation, p);
  const b = createBundle(p, hostFacts(), info, { cwd: work, terminal: false });
  let n = 0;
  const ids: string[] = [];
  return {
    run: async () => {
      const id = `${b.id}-${n++}`;
      ids.push(id);
      const code = await exec(info.bin, [...info.global, 'run', '--bundle', b.dir, id]);
      if (code !== 0) throw new Error(`${info.runtime} run exited ${code}`);
    },
    close: () => {
      for (const id of ids.slice(-1)) forceDelete(info, id);
      removeBundle(b.dir);
    },
  };
}

interface Row {
  name: string;
  run: () => Promise<unknown>;
  samples: number[];
}

async function measure(title: string, rows: Row[], rounds: number): Promise<Map<string, { median: number; min: number }>> {
  for (const r of rows) await r.run(); // warm-up: page cache, JIT, seccomp rewrite cache
  for (let i = 0; i < rounds; i++) {
    for (const r of rows) {
      const t = performance.now();
      await r.run();
      r.samples.push(performance.now() - t);
    }
  }
  const stats = new Map<string, { median: number; min: number }>();
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`\n${title}, ${rounds} interleaved rounds (ms)`);
  console.log(`${'command'.padEnd(w)}  ${'median'.padStart(9)}  ${'min'.padStart(9)}`);
  for (const r of rows) {
    const s = [...r.samples].sort((a, b) => a - b);
    const st = { median: s[s.length >> 1]!, min: s[0]! };
    stats.set(r.name, st);
    console.log(`${r.name.padEnd(w)}  ${st.median.toFixed(1).padStart(9)}  ${st.min.toFixed(1).padStart(9)}`);
  }
  return stats;
}

const have = { runc: which('runc') !== undefined, gvisor: which('runsc') !== undefined };
const closers: Array<() => void> = [];

// podman rows: runtimes that can run a container here (each checked with one run first).
const PODMAN_ROWS = [
  { name: 'runc via podman', runtime: RUNC },
  { name: 'stockade-runtime via podman', runtime: STOCKADE_RUNTIME },
];
let pm: Podman | undefined;
const podmanNotes: string[] = []; // printed under the title
const podmanRuntimes: Array<{ name: string; runtime: string }> = [];
try {
  const s = await podmanSession();
  if ('reason' in s) {
    for (const r of PODMAN_ROWS) podmanNotes.push(`${r.name}: skipped: ${s.reason}`);
  } else {
    pm = s;
    for (const r of PODMAN_ROWS) {
      const why = runtimeUnavailable(r.runtime);
      if (why) {
        podmanNotes.push(`${r.name}: skipped: ${why}`);
        continue;
      }
      const probe = await s.run(r.runtime, [], ['/bin/true']);
      if (probe.code !== 0) {
        podmanNotes.push(`${r.name}: skipped: a trial run failed:\n${describeResult(probe)}`);
        continue;
      }
      podmanRuntimes.push(r);
    }
  }
} catch (e) {
  podmanNotes.push(`podman rows: skipped: ${(e as Error).message}`);
}

async function podmanRun(runtime: string, command: string[]): Promise<void> {
  const r = await pm!.run(runtime, [], command, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`podman --runtime ${runtime}: ${command[0]} failed\n${describeResult(r)}`);
}

const rowsFor = (command: string[]): Row[] => {
  const rows: Row[] = [];
  const add = (name: string, run: () => Promise<unknown>) => rows.push({ name, run, samples: [] });
  add('no sandbox (spawned from node)', () => exec(command[0]!, command.slice(1)));
  add('native (src/backends/native start)', () => nativeRun(command));
  for (const iso of ['runc', 'gvisor'] as const) {
    if (!have[iso]) continue;
    add(`stockade --isolation ${iso}`, () => isolatedRun(iso, command));
    const d = direct(iso, command);
    closers.push(d.close);
    add(`${iso === 'gvisor' ? 'runsc' : 'runc'} run, bundle prepared once`, d.run);
  }
  for (const r of podmanRuntimes) add(r.name, () => podmanRun(r.runtime, command));
  return rows;
};

try {
  console.log('bench:isolation — the same policy under each isolation level (landlock off for the OCI runtimes, which cannot carry it)');
  for (const t of ['runc', 'runsc'] as const) if (!which(t)) console.log(`${t}: not installed (apt-get install ${t})`);
  for (const n of podmanNotes) console.log(n);
  if (pm) console.log(`podman rows: ${pm.bin}, storage driver ${pm.driver}, --network none, image of busybox-static`);
  const start1 = await measure('/bin/true', rowsFor(['/bin/true']), ROUNDS);
  const loop = await measure(`dd bs=1 count=${DD_COUNT} (${2 * DD_COUNT} syscalls)`, rowsFor(DD), LOOP_ROUNDS);
  console.log('\nper syscall, (loop - /bin/true) / syscalls, from medians and from mins (start-up noise dominates below ~1 us):');
  for (const [name, s] of loop) {
    const t = start1.get(name);
    if (!t) continue;
    const us = (a: number, b: number) => Math.max(0, ((a - b) * 1000) / (2 * DD_COUNT)).toFixed(2);
    console.log(`  ${name}: ${us(s.median, t.median)} us (median), ${us(s.min, t.min)} us (min)`);
  }
  const n = start1.get('native (src/backends/native start)')!;
  for (const name of ['stockade --isolation runc', 'stockade --isolation gvisor']) {
    const s = start1.get(name);
    if (s) console.log(`${name} / native, /bin/true (median): ${(s.median / n.median).toFixed(1)}x`);
  }
  for (const [title, stats] of [['/bin/true', start1], ['dd loop', loop]] as const) {
    const sr = stats.get('stockade-runtime via podman');
    const rc = stats.get('runc via podman');
    if (sr && rc) {
      console.log(`stockade-runtime / runc via podman, ${title}: ${(sr.median / rc.median).toFixed(2)}x (median), ${(sr.min / rc.min).toFixed(2)}x (min)`);
    } else {
      console.log(`stockade-runtime / runc via podman, ${title}: n/a (${!rc ? 'runc via podman' : 'stockade-runtime via podman'} not measured)`);
    }
  }
  console.log('anchors (shared/design/ANCHORS.md, same kind of machine): runc run ~27 ms, runsc run 150-230 ms (min 113); runsc ~58 us per syscall against 0.3 us in runc');
} finally {
  await pm?.close();
  for (const c of closers) c();
  rmSync(work, { recursive: true, force: true });
}
