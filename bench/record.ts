/**
 * bench:record — the cost of recording, in one run: (a) one million getppid calls, (b) a gcc
 * compile of a mid-sized C file, (c) 100,000 opens and closes of a file by a relative path (what the
 * fast recorder's path capture costs: a copy of the path and a record per successful open); each
 * native (in the sandbox, not recorded), under the fast recorder (eBPF) and under strace. Prints;
 * never asserts.
 * Targets (issue 4): fast at most 1.3x native on the compile; at least 20x faster than strace on
 * the loop.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync('/var/tmp/stockade-bench-record-');
const ROUNDS = Number(process.env.STOCKADE_BENCH_ROUNDS ?? 3);
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

writeFileSync(join(work, 'loop.c'), '#include <unistd.h>\n#include <sys/syscall.h>\nint main(void) { for (int i = 0; i < 1000000; i++) syscall(SYS_getppid); return 0; }\n');
writeFileSync(join(work, 'opens.c'), '#include <fcntl.h>\n#include <unistd.h>\nint main(void) { for (int i = 0; i < 100000; i++) { int fd = open("opens.c", O_RDONLY); if (fd < 0) return 1; close(fd); } return 0; }\n');
// A mid-sized translation unit: many functions and some arithmetic for the optimiser.
const fns = Array.from({ length: 400 }, (_, i) => `static long f${i}(long x) { long s = 0; for (long j = 0; j < x; j++) s += (j * ${i + 3}) ^ (s >> 3); return s + ${i}; }`).join('\n');
writeFileSync(join(work, 'mid.c'), `#include <stdio.h>\n${fns}\nint main(void) { long t = 0;\n${Array.from({ length: 400 }, (_, i) => `t += f${i}(${i % 17});`).join('\n')}\nprintf("%ld\\n", t); return 0; }\n`);
for (const prog of ['loop', 'opens']) if (spawnSync('cc', ['-O2', '-o', join(work, prog), join(work, `${prog}.c`)]).status !== 0) throw new Error('cc failed');

function wall(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return performance.now() - t;
}

const isRoot = process.getuid?.() === 0;
const workloads: Record<string, string[]> = {
  'getppid x 1,000,000': [join(work, 'loop')],
  'gcc -O2 mid.c': ['gcc', '-O2', '-c', '-o', join(work, 'mid.o'), join(work, 'mid.c')],
  'open+close x 100,000': [join(work, 'opens')],
};
const modes: Record<string, (cmd: string[]) => string[]> = {
  native: (cmd) => ['run', '--', ...cmd],
  ...(isRoot ? { fast: (cmd: string[]) => ['record', '--via', 'fast', '-o', join(work, 'f.yaml'), '--', ...cmd] } : {}),
  strace: (cmd) => ['record', '--via', 'strace', '-o', join(work, 's.yaml'), '--', ...cmd],
};

console.log(`bench:record — wall ms, median of ${ROUNDS} interleaved rounds (includes stockade start-up, same for all)`);
const results: Record<string, Record<string, number>> = {};
for (const [w, cmd] of Object.entries(workloads)) {
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < ROUNDS; i++) for (const [m, f] of Object.entries(modes)) (samples[m] ??= []).push(wall(f(cmd)));
  results[w] = Object.fromEntries(Object.entries(samples).map(([m, xs]) => [m, xs.sort((a, b) => a - b)[xs.length >> 1]!]));
  console.log(`  ${w.padEnd(22)} ${Object.entries(results[w]!).map(([m, v]) => `${m} ${v.toFixed(0).padStart(6)}`).join('   ')}`);
}
const loop = results['getppid x 1,000,000']!;
const gcc = results['gcc -O2 mid.c']!;
const opens = results['open+close x 100,000']!;
if (loop.fast !== undefined) {
  console.log(`fast / native on the compile: ${(gcc.fast! / gcc.native!).toFixed(2)}x (target <= 1.3x)`);
  console.log(`strace / fast on the loop: ${(loop.strace! / loop.fast).toFixed(1)}x (target >= 20x)`);
  console.log(`path capture: ${((opens.fast! - opens.native!) / 100).toFixed(1)} us per open+close pair over native (strace: ${((opens.strace! - opens.native!) / 100).toFixed(1)} us)`);
} else console.log('fast recorder: not measured (needs root)');
console.log(`strace / native on the loop: ${(loop.strace! / loop.native!).toFixed(1)}x (anchor: strace ~97x a plain getppid)`);
