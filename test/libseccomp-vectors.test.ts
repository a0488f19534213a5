/**
 * libseccomp's own regression vectors (shared/data/seccomp/libseccomp-vectors): every expected
 * verdict reproduces with stockade's compiler, through the emulator and through the shared checker
 * script. 08, 42 and 43 give one syscall rules with different actions, so their expectations encode
 * libseccomp's conflict resolution: stockade's rule (the most specific matching rule wins) gives the
 * same verdicts there; docs/seccomp.md explains the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFilter } from '../src/seccomp/compile.js';
import { emulate } from '../src/seccomp/emulate.js';
import { formatAction, parseActionText } from '../src/seccomp/actions.js';
import { profileFromJson } from '../src/seccomp/profile.js';
import { resolveProfile } from '../src/seccomp/resolve.js';
import { U64, type Cond, type Rule, type SeccompFilter } from '../src/seccomp/rules.js';
import type { CmpOp } from '../src/seccomp/profile.js';
import { parseJsonExact, type JsonValue } from '../src/json-exact.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.STOCKADE_SHARED ?? join(root, '..', 'shared');
const dir = join(shared, 'data', 'seccomp', 'libseccomp-vectors');
const checker = join(shared, 'tools', 'check_bpf_vectors.py');

interface VectorFile {
  filter: {
    default_action: string;
    rules: Array<{ action: string; nr: number; syscall: string | null; args: Array<{ arg: number; op: CmpOp; value: number | bigint; mask?: number | bigint }> }>;
  };
  oci_seccomp: JsonValue | null;
  multi_action_per_syscall: boolean;
  vectors: Array<{ nr: number; args: string[]; expect: string }>;
}

function action(text: string): number {
  const v = parseActionText(text);
  assert.ok(v !== undefined, `unknown action ${text}`);
  return v;
}

function filterOf(f: VectorFile): SeccompFilter {
  const rules: Rule[] = f.filter.rules.map((r, order) => ({
    nr: r.nr,
    name: r.syscall ?? `nr${r.nr}`,
    action: action(r.action),
    order,
    source: `rules[${order}]`,
    conds: r.args.map((a): Cond => a.op === 'MASKED_EQ'
      ? { index: a.arg, op: a.op, mask: BigInt(a.mask ?? 0), value: BigInt(a.value) & BigInt(a.mask ?? 0) }
      : { index: a.arg, op: a.op, mask: U64, value: BigInt(a.value) }),
  }));
  return { arches: ['x86_64'], defaultAction: action(f.filter.default_action), rules: { x86_64: rules }, flags: [] };
}

/** Vector files hold 64-bit values: parse them exactly. */
function load(name: string): VectorFile {
  return parseJsonExact(readFileSync(join(dir, name), 'utf8'), name) as unknown as VectorFile;
}

const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+-sim-.*\.json$/.test(f)).sort() : [];

test('libseccomp vectors: every expected verdict reproduces', (t) => {
  if (files.length === 0) {
    t.skip(`vectors not found at ${dir} (set STOCKADE_SHARED)`);
    return;
  }
  let total = 0;
  for (const name of files) {
    const f = load(name);
    const programs = [{ via: 'rules', program: compileFilter(filterOf(f)).program }];
    if (f.oci_seccomp) {
      const profile = profileFromJson(f.oci_seccomp, name);
      programs.push({ via: 'oci', program: compileFilter(resolveProfile(profile, { native: 'x86_64', caps: [], kernel: [6, 18] })).program });
    }
    for (const { via, program } of programs) {
      for (const v of f.vectors) {
        const got = emulate(program, { nr: v.nr, arch: 0xc000003e, args: v.args.map((a) => BigInt(a)) }).action;
        assert.equal(formatAction(got), formatAction(action(v.expect)), `${name} (${via}) nr ${v.nr} args ${v.args.join(',')}`);
        total++;
      }
    }
  }
  console.log(`# ${files.length} vector files, ${total} verdicts reproduced`);
  assert.ok(total >= 4380, `expected at least 4380 verdicts, checked ${total}`);
});

test('libseccomp vectors: the shared checker passes our compiled programs', (t) => {
  const py = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', '0']).status === 0);
  if (files.length === 0 || !existsSync(checker) || !py) {
    t.skip(`needs ${checker} and python3`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'stockade-vectors-'));
  try {
    let passed = 0;
    for (const name of files) {
      const f = load(name);
      const bpf = join(tmp, `${name}.bpf`);
      writeFileSync(bpf, compileFilter(filterOf(f)).bytes);
      const r: { stdout: string; stderr: string } = spawnSync(py, [checker, '--bpf', bpf, join(dir, name)], { encoding: 'utf8' });
      const m = /(\d+) passed, (\d+) failed/.exec(r.stdout);
      assert.ok(m, `${name}: checker printed ${r.stdout} ${r.stderr}`);
      assert.equal(m[2], '0', `${name}: ${r.stdout}`);
      passed += Number(m[1]);
    }
    assert.ok(passed >= 4380);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
