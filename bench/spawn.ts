/**
 * bench:spawn — wall time to run /bin/true with every layer on, from the library (no Node start-up)
 * and through the CLI, beside other sandboxes measured in the same run. Prints; never asserts.
 * Targets (issue 3): library at most 1.5x bwrap; CLI at most `node -e 0` plus 10 ms.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/index.js';
import { which } from '../src/host/probe.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const ROUNDS = Number(process.env.STOCKADE_BENCH_ROUNDS ?? 40);

function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('close', (code) => resolve(code ?? 128));
  });
}

interface Row {
  name: string;
  run: () => Promise<unknown>;
  samples: number[];
  note?: string;
}

const work = mkdtempSync('/var/tmp/stockade-bench-');
process.chdir(work);
const rows: Row[] = [];
const add = (name: string, fn: () => Promise<unknown>, note?: string) => rows.push({ name, run: fn, samples: [], ...(note ? { note } : {}) });

add('stockade library run()', () => run({ command: ['/bin/true'] }, { stdio: ['ignore', 'ignore', 'ignore'] }));
add('stockade CLI', () => exec(process.execPath, [cli, 'run', '--', '/bin/true']));
add('plain /bin/true (spawned from node)', () => exec('/bin/true', []));
add('node -e 0', () => exec(process.execPath, ['-e', '0']));
const bwrap = which('bwrap');
if (bwrap) add('bwrap --ro-bind / / --unshare-all --die-with-parent', () => exec(bwrap, ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '/bin/true']));
const unshare = which('unshare');
if (unshare) add('unshare -Urpf --mount-proc', () => exec(unshare, ['-Urpf', '--mount-proc', '/bin/true']));
const firejail = which('firejail');
if (firejail) add('firejail --quiet --noprofile', () => exec(firejail, ['--quiet', '--noprofile', '/bin/true']));
const missing = ['firejail', 'runc'].filter((t) => !which(t));

// Warm up (first runs pay for page cache and JIT), then interleave rounds so drift hits all alike.
for (const r of rows) await r.run();
for (let i = 0; i < ROUNDS; i++) {
  for (const r of rows) {
    const t = performance.now();
    await r.run();
    r.samples.push(performance.now() - t);
  }
}
rmSync(work, { recursive: true, force: true });

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1]!, min: s[0]! };
};
const w = Math.max(...rows.map((r) => r.name.length));
console.log(`bench:spawn — /bin/true, ${ROUNDS} interleaved rounds (ms)`);
console.log(`${'command'.padEnd(w)}  ${'median'.padStart(7)}  ${'min'.padStart(7)}`);
const stats = new Map(rows.map((r) => [r.name, stat(r.samples)]));
for (const r of rows) {
  const s = stats.get(r.name)!;
  console.log(`${r.name.padEnd(w)}  ${s.median.toFixed(2).padStart(7)}  ${s.min.toFixed(2).padStart(7)}`);
}
for (const t of missing) console.log(`${t.padEnd(w)}  not installed`);
const lib = stats.get('stockade library run()')!;
const cliS = stats.get('stockade CLI')!;
const node = stats.get('node -e 0')!;
const bw = bwrap ? stats.get('bwrap --ro-bind / / --unshare-all --die-with-parent') : undefined;
console.log('');
if (bw) console.log(`library / bwrap (median): ${(lib.median / bw.median).toFixed(2)}x   (target <= 1.5x)`);
console.log(`CLI - node -e 0 (median): ${(cliS.median - node.median).toFixed(1)} ms   (target <= 10 ms)`);
console.log('anchors (shared/design/ANCHORS.md, same kind of machine): bwrap 3.6 median, unshare 1.6, firejail 26, runc ~27, node -e 0 60-160');
