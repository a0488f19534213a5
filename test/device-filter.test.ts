// native/build/device-filter against the real kernel: a device program is attached to a fresh
// cgroup v2 directory, a child process moves itself into that cgroup and then opens and mknods
// device nodes; the kernel's answers must follow the rules (later rules override earlier ones, per
// access bit; default deny). The same probe outside the cgroup succeeds, so an EPERM is the
// program's doing. Needs root and a cgroup v2 mount (on hybrid hosts .../unified, which needs no
// controllers for device programs); skipped with the reason otherwise. Usage errors need only the
// binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachDeviceFilter, deviceFilterArg } from '../src/oci-runtime/device-filter.js';
import type { OciDeviceRule } from '../src/oci-runtime/spec.js';
import { StockadeError } from '../src/errors.js';
import { removeCgroupDir } from '../src/host/cgroup-dir.js';
import { cgroupFacts } from '../src/host/probe.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'native', 'build', 'device-filter');
const PYTHON = '/usr/bin/python3';
const IS_ROOT = process.getuid?.() === 0;

// argv: OP... with OP "open:PATH:r|w|rw" or "mknod:PATH:MAJOR:MINOR" (a char device, mode 0600).
// Prints {"cgroup": <the 0:: line of /proc/self/cgroup>, "results": {OP: "ok" | errno name}}.
const PROBE = `
import errno, json, os, sys
modes = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}
out = {}
for op in sys.argv[1:]:
    kind, path, *rest = op.split(":")
    try:
        if kind == "open":
            os.close(os.open(path, modes[rest[0]]))
        else:
            os.mknod(path, 0o600 | 0o020000, os.makedev(int(rest[0]), int(rest[1])))
        out[op] = "ok"
    except OSError as e:
        out[op] = errno.errorcode.get(e.errno, str(e.errno))
cg = [l for l in open("/proc/self/cgroup").read().split("\\n") if l.startswith("0::")]
print(json.dumps({"cgroup": cg[0][3:] if cg else "", "results": out}))
`;

let cgroupRoot: string | undefined;
let scratch = '';
let seq = 0;
const cgroups: string[] = [];

before(() => {
  spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-native.mjs')], { cwd: ROOT, stdio: 'inherit' });
  cgroupRoot = cgroupFacts().v2Root;
  scratch = mkdtempSync(join(tmpdir(), 'stockade-devtest-'));
});

after(() => {
  // Every child was run synchronously, so it has exited; its cgroup may still be releasing it.
  for (const dir of cgroups) removeCgroupDir(dir, 100, 50);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});


/** Why the kernel tests cannot run here, or undefined. */
function unavailable(): string | undefined {
  if (!IS_ROOT) return 'attaching a cgroup device program needs root';
  if (!cgroupRoot) return 'no cgroup v2 hierarchy is mounted';
  if (!existsSync(BIN)) return `${BIN} is not built (no C compiler?)`;
  if (!existsSync(PYTHON)) return `${PYTHON} is missing (the probe is a python script)`;
  return undefined;
}

/** A fresh cgroup v2 directory, removed in after(). */
function freshCgroup(): string {
  const dir = join(cgroupRoot!, `stockade-devtest-${process.pid}-${seq++}`);
  mkdirSync(dir);
  cgroups.push(dir);
  return dir;
}

interface ProbeOut { cgroup: string; results: Record<string, string> }

/** Runs the probe; with `cgroup`, the shell first moves itself there, then execs python. */
function probe(cgroup: string | undefined, ops: string[]): ProbeOut {
  const r = cgroup
    ? spawnSync('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, PYTHON, '-c', PROBE, ...ops], { encoding: 'utf8' })
    : spawnSync(PYTHON, ['-c', PROBE, ...ops], { encoding: 'utf8' });
  assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeOut;
}

const rule = (allow: boolean, type: 'a' | 'b' | 'c', major: number | undefined, minor: number | undefined, access: string): OciDeviceRule => {
  const d: OciDeviceRule = { allow, type, access };
  if (major !== undefined) d.major = major;
  if (minor !== undefined) d.minor = minor;
  return d;
};

/** Attaches `rules`, runs `ops` inside and outside the cgroup; outside every op must succeed. */
function check(t: { skip(msg: string): void }, rules: OciDeviceRule[], expected: Record<string, string>): boolean {
  const why = unavailable();
  if (why) {
    t.skip(why);
    return false;
  }
  const dir = freshCgroup();
  attachDeviceFilter(dir, rules);
  const tag = `n${seq}`;
  const ops = Object.keys(expected).map((op) => op.replace('@', join(scratch, tag)));
  const inside = probe(dir, ops);
  assert.equal(inside.cgroup, `/${dir.slice(cgroupRoot!.length + 1)}`, 'the probe did not run in the test cgroup');
  const got: Record<string, string> = {};
  Object.keys(expected).forEach((op, i) => (got[op] = inside.results[ops[i]!]!));
  assert.deepEqual(got, expected);
  // Control: the same operations outside the cgroup all succeed (fresh mknod paths).
  const outsideOps = Object.keys(expected).map((op) => op.replace('@', join(scratch, `${tag}-outside`)));
  const outside = probe(undefined, outsideOps);
  for (const op of outsideOps) assert.equal(outside.results[op], 'ok', `${op} fails even outside the cgroup`);
  return true;
}

test('rule arguments: wildcards, empty access as rwm, verdict', () => {
  assert.equal(deviceFilterArg({ allow: false, type: 'a', access: '' }), 'a * * rwm deny');
  assert.equal(deviceFilterArg(rule(true, 'c', 1, 3, 'rw')), 'c 1 3 rw allow');
  assert.equal(deviceFilterArg(rule(true, 'c', 136, undefined, 'rwm')), 'c 136 * rwm allow');
  assert.equal(deviceFilterArg(rule(false, 'b', undefined, 0, 'm')), 'b * 0 m deny');
});

test('kernel-enforced: deny all, allow null rwm, allow zero r', (t) => {
  check(t, [rule(false, 'a', undefined, undefined, 'rwm'), rule(true, 'c', 1, 3, 'rwm'), rule(true, 'c', 1, 5, 'r')], {
    'open:/dev/null:w': 'ok',
    'open:/dev/null:rw': 'ok',
    'open:/dev/zero:r': 'ok',
    'open:/dev/zero:w': 'EPERM',
    'open:/dev/zero:rw': 'EPERM',
    'open:/dev/full:r': 'EPERM',
    'open:/dev/full:w': 'EPERM',
    'mknod:@-zero:1:5': 'EPERM', // zero is allowed r only, not m
    'mknod:@-full:1:7': 'EPERM',
    'mknod:@-null:1:3': 'ok', // null is allowed m
  });
});

test('kernel-enforced: later rules override earlier ones, per access bit', (t) => {
  check(t, [
    rule(false, 'a', undefined, undefined, 'rwm'),
    rule(true, 'c', 1, 7, 'rwm'),
    rule(false, 'c', 1, 7, 'w'), // full: r and m stay allowed
    rule(true, 'c', 1, 5, 'r'),
    rule(true, 'c', 1, 5, 'w'), // zero: r and w from two rules, so O_RDWR is allowed
    rule(true, 'c', 4294967295, undefined, 'rwm'), // a major above INT32_MAX (a 64-bit immediate)
    rule(true, 'c', 1, undefined, 'm'), // mknod of any major-1 node
    rule(false, 'c', 1, 9, 'm'), // ... but urandom
  ], {
    'open:/dev/full:r': 'ok',
    'open:/dev/full:w': 'EPERM',
    'open:/dev/full:rw': 'EPERM',
    'open:/dev/zero:rw': 'ok',
    'open:/dev/null:r': 'EPERM',
    'mknod:@-full:1:7': 'ok',
    'mknod:@-null:1:3': 'ok',
    'mknod:@-urandom:1:9': 'EPERM',
    'mknod:@-mem:1:1': 'ok',
  });
});

test('kernel-enforced: a last allow-all makes the rules before it moot (and still loads)', (t) => {
  check(t, [rule(false, 'a', undefined, undefined, 'rwm'), rule(true, 'a', undefined, undefined, 'rwm'), rule(false, 'b', undefined, undefined, 'rwm')], {
    'open:/dev/full:w': 'ok',
    'open:/dev/zero:rw': 'ok',
    'mknod:@-full:1:7': 'ok',
  });
});

test('kernel-enforced: what no rule matches is denied', (t) => {
  check(t, [rule(true, 'c', 1, 3, 'rwm'), rule(true, 'c', 1, 5, 'r')], {
    'open:/dev/null:rw': 'ok',
    'open:/dev/zero:r': 'ok',
    'open:/dev/zero:w': 'EPERM',
    'open:/dev/full:r': 'EPERM',
    'mknod:@-full:1:7': 'EPERM',
  });
});

test('kernel-enforced: a type-a rule with a major matches char devices', (t) => {
  check(t, [rule(false, 'a', undefined, undefined, 'rwm'), rule(true, 'a', 1, undefined, 'rw'), rule(false, 'a', 1, 8, 'r')], {
    'open:/dev/null:rw': 'ok',
    'open:/dev/random:w': 'ok',
    'open:/dev/random:r': 'EPERM',
    'mknod:@-null:1:3': 'EPERM',
  });
});

test('bad rules are usage errors (exit 2)', (t) => {
  if (!existsSync(BIN)) return t.skip(`${BIN} is not built (no C compiler?)`);
  const cases: string[][] = [
    [],
    ['--cgroup', '/nonexistent'],
    ['c 1 3 rwm allow'],
    ['--cgroup', '/nonexistent', 'x 1 3 rwm allow'],
    ['--cgroup', '/nonexistent', 'c 1 3 rwx allow'],
    ['--cgroup', '/nonexistent', 'c 1 3 rr allow'],
    ['--cgroup', '/nonexistent', 'c 1 3  allow'],
    ['--cgroup', '/nonexistent', 'c 1 3 rwm'],
    ['--cgroup', '/nonexistent', 'c 1 3 rwm maybe'],
    ['--cgroup', '/nonexistent', 'c -1 3 rwm allow'],
    ['--cgroup', '/nonexistent', 'c 4294967296 3 rwm allow'],
    ['--cgroup', '/nonexistent', 'c 1 3x rwm allow'],
    ['--cgroup', '/nonexistent', 'c 1 3 rwm allow extra'],
    ['--cgroup', '/nonexistent', 'a * * rwm deny', 'c 1'],
  ];
  for (const args of cases) {
    const r = spawnSync(BIN, args, { encoding: 'utf8' });
    assert.equal(r.status, 2, `${JSON.stringify(args)}: exit ${String(r.status)}, ${r.stderr}`);
    assert.match(r.stderr, /^device-filter: .*\nusage: device-filter --cgroup DIR RULE/, JSON.stringify(args));
  }
  // Through the runtime's wrapper: a StockadeError naming linux.resources.devices with the tool's message.
  assert.throws(
    () => attachDeviceFilter('/nonexistent', [{ allow: true, type: 'x' as 'c', access: 'rwm' }]),
    (e: unknown) => e instanceof StockadeError && e.code === 'unsupported' && e.where === 'linux.resources.devices' && /the type must be a, b or c/.test(e.message),
  );
});

test('a missing cgroup directory is reported with the step', (t) => {
  const why = unavailable();
  if (why) return t.skip(why);
  assert.throws(
    () => attachDeviceFilter(join(cgroupRoot!, `stockade-devtest-${process.pid}-missing`), [rule(false, 'a', undefined, undefined, 'rwm')]),
    (e: unknown) => e instanceof StockadeError && e.code === 'unsupported' && /device-filter: open .*: No such file or directory/.test(e.message),
  );
});
