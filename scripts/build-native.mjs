#!/usr/bin/env node
// Builds the C programs under native/ with the machine's cc. Run by `npm install` and `npm test`.
// Each target is rebuilt only when a source is newer than the binary, so repeated runs cost nothing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'native', 'build');
const cflags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-fstack-protector-strong', '-D_FORTIFY_SOURCE=2'];

/** name -> source files (relative to native/). Missing sources mean the target is not part of this tree yet. */
const targets = {
  'seccomp-probe': ['probe/seccomp_probe.c'],
  // every .c file of native/helper/ (a new source file is picked up without editing this list)
  'stockade-helper': existsSync(join(root, 'native', 'helper'))
    ? readdirSync(join(root, 'native', 'helper')).filter((f) => f.endsWith('.c')).sort().map((f) => `helper/${f}`)
    : ['helper/main.c'],
  'host-probe': ['probe/host_probe.c'],
  'filter-bench': ['bench/filter_bench.c'],
  'ebpf-recorder': ['recorder/ebpf_recorder.c', 'recorder/recorder_bpf.c', 'recorder/recorder_btf.c', 'recorder/recorder_emit.c', 'recorder/recorder_prog_task.c', 'recorder/recorder_prog_syscall.c', 'recorder/recorder_ring.c', 'recorder/recorder_report.c'],
  'device-filter': ['cgroup/device_filter.c'],
  // bin/stockade-runtime's native front: start, kill and delete without Node
  'stockade-runtime-front': ['runtime/front.c', 'runtime/front_ops.c', 'runtime/front_create.c', 'runtime/front_json.c'],
};

if (process.platform !== 'linux') {
  console.error('stockade: native helper builds only on linux; skipping');
  process.exit(0);
}
mkdirSync(out, { recursive: true });
const cc = process.env.CC || 'cc';
let failed = false;
for (const [name, sources] of Object.entries(targets)) {
  const paths = sources.map((s) => join(root, 'native', s));
  if (!paths.every((p) => existsSync(p))) continue;
  const bin = join(out, name);
  // Headers beside any of the sources count as inputs too.
  const dirs = [...new Set(paths.map((p) => dirname(p)))];
  const headers = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.h')).map((f) => join(d, f)));
  const newest = Math.max(...[...paths, ...headers].map((p) => statSync(p).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) continue;
  const r = spawnSync(cc, [...cflags, '-o', bin, ...paths], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`stockade: building native/${sources.join(' ')} with ${cc} failed; install a C compiler (apt-get install gcc) and retry`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
