/** `stockade doctor`: what the host can enforce, as the kernel answers it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

test('doctor --json reports the layers, agreeing with the kernel', () => {
  const r = spawnSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, STOCKADE_CACHE: 'off' } });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { facts: { seccomp: boolean; landlockAbi: number; kernel: number[]; cgroup: { mode: string } }; rows: Array<{ layer: string; ok: boolean; status: string }> };
  const layers = doc.rows.map((row) => row.layer);
  for (const l of ['seccomp', 'seccomp action cache', 'user namespaces', 'landlock', 'apparmor', 'selinux', 'cgroups', 'kvm', 'runc', 'crun', 'runsc', 'qemu-system-x86_64']) {
    assert.ok(layers.includes(l), `doctor lists ${l}`);
  }
  // Cross-check with what the kernel exposes directly.
  assert.equal(doc.facts.seccomp, /^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8')));
  const lsm = existsSync('/sys/kernel/security/lsm') ? readFileSync('/sys/kernel/security/lsm', 'utf8') : '';
  if (lsm) assert.equal(doc.facts.landlockAbi > 0, lsm.split(',').includes('landlock'));
  const fs = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.equal(doc.facts.cgroup.mode === 'v2' || doc.facts.cgroup.mode === 'hybrid', / - cgroup2 /.test(fs));
  const table = spawnSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
  assert.equal(table.status, 0);
  assert.match(table.stdout, /^(ok |-- ) seccomp /m);
});
