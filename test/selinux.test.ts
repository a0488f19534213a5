/**
 * SELinux: CIL modules generated from policies compile with the real secilc against stockade's
 * templates and stub base with no optional block dropped, are byte-stable, and refuse what a
 * type-based policy cannot express. Plus the `stockade selinux` commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeFor, StockadeError } from '../src/errors.js';
import { formatOf, parsePolicyText } from '../src/policy/load.js';
import type { Policy } from '../src/policy/types.js';
import { generateSelinux, selinuxModuleName } from '../src/selinux/generate.js';
import { SECRET_TYPES, TYPE_RULES, typeOfPath, typesOfTree, DEFAULT_TYPE } from '../src/selinux/file-types.js';
import { parseSecilcOutput, selinuxEnabled, STUB_FILE, TEMPLATE_FILE, templateDir, validateSelinux } from '../src/selinux/validate.js';
import { findProgram } from '../src/apparmor/validate.js';
import { selinuxCommand } from '../src/cli/selinux.js';
import type { Io } from '../src/cli/io.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpusDir = join(root, 'test', 'fixtures', 'policies');
const tmp = mkdtempSync(join(tmpdir(), 'stockade-selinux-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const noSecilc = findProgram('secilc') ? false : 'secilc is not installed (apt-get install secilc)';

/** Varied policies a type-based module can express (the refusals are tested below). */
const INLINE: Record<string, string> = {
  minimal: 'command: [ls]\n',
  'write-and-read': 'command: [/usr/bin/python3, app.py]\ncwd: /srv/app\nfilesystem:\n  write: [/srv/app/out, /var/cache/app]\n  read: [/data/models]\n',
  'loopback-caps': 'command: [node]\nnetwork: loopback\ncapabilities: [CAP_NET_BIND_SERVICE, CAP_CHOWN]\n',
  'host-net-caps2': 'command: [agent]\nnetwork: host\ncapabilities: [CAP_NET_RAW, CAP_BPF, CAP_PERFMON, CAP_SYSLOG, CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN]\n',
  rootfs: 'command: [/app/bin/server]\ncwd: /app\nfilesystem:\n  root: /srv/rootfs\n  read: [/data/models]\n  write: [/var/lib/app]\n  tmpfs: [/tmp, /run]\n  hide: []\n',
  'custom-hide-home-write': 'command: [make]\ncwd: /home/dev/proj\nfilesystem:\n  write: [/home/dev/proj]\n  hide: [/etc/shadow, /root, /home/*/.ssh, /home/*/.gnupg]\n',
  'write-var-tree': 'command: [backup]\nfilesystem:\n  write: [/var]\n  hide: [/var/lib/docker, /etc/shadow]\n',
  'kernel-paths': 'command: [monitor]\nfilesystem:\n  read: [/proc/cpuinfo, /sys/class/net, /dev/urandom]\n  write: [/dev/shm/mon, /dev/null]\n',
  'no-hide-no-tmpfs': 'command: ["true"]\nfilesystem:\n  tmpfs: []\n  hide: []\n  write: [/mnt/out, /opt/tool/cache]\n',
  'odd-paths': 'command: ["/opt/my tool/run"]\nfilesystem:\n  write: ["/srv/my data/out", "/srv/a\\"b;c"]\n  hide: ["/opt/semi;colon\\nnewline"]\n',
  'cwd-root': 'command: [id]\ncwd: /\nuser: {uid: 0, gid: 0}\n',
};

function load(name: string, text: string): Policy {
  return parsePolicyText(text, `${name}.yaml`);
}

function write(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

function corpus(): { cases: Array<{ name: string; policy: Policy }>; note: string } {
  const cases = Object.entries(INLINE).map(([name, text]) => ({ name, policy: load(name, text) }));
  if (!existsSync(corpusDir)) return { cases, note: `${corpusDir} absent: inline policies only` };
  let n = 0;
  for (const f of readdirSync(corpusDir).filter((x) => /\.(ya?ml|json|toml)$/.test(x)).sort()) {
    const path = join(corpusDir, f);
    let policy: Policy;
    try {
      policy = parsePolicyText(readFileSync(path, 'utf8'), f, formatOf(path));
    } catch (e) {
      if (e instanceof StockadeError) continue;
      throw e;
    }
    cases.push({ name: `corpus/${f}`, policy });
    n++;
  }
  return { cases, note: `${n} corpus policies from ${corpusDir}` };
}

test('every generated module compiles with secilc, no optional block dropped', { skip: noSecilc }, (t) => {
  const { cases, note } = corpus();
  t.diagnostic(note);
  let generated = 0;
  for (const c of cases) {
    for (const mode of ['enforcing', 'permissive'] as const) {
      let text: string;
      try {
        text = generateSelinux(c.policy, { mode });
      } catch (e) {
        assert.ok(e instanceof StockadeError && e.code === 'input', `${c.name}: ${String(e)}`);
        assert.match(e.message, /cannot be expressed in SELinux: /, c.name);
        assert.ok(c.name.startsWith('corpus/'), `inline policy ${c.name} refused: ${e.message}`);
        if (mode === 'enforcing') t.diagnostic(`${c.name}: refused: ${e.message}`);
        continue;
      }
      generated++;
      const file = write(`${c.name.replace(/\W/g, '_')}.${mode}.cil`, text);
      const r = validateSelinux(file);
      assert.deepEqual(r.diagnostics, [], `${c.name} (${mode})`);
      assert.equal(r.ok, true);
      assert.equal(text.includes('(typepermissive process)'), mode === 'permissive');
      assert.doesNotMatch(text, /\(optional/);
    }
  }
  assert.ok(generated >= 2 * Object.keys(INLINE).length, `only ${generated} modules generated`);
});

test('the templates and stub compile alone, declare every type the generator names, and have no optional', { skip: noSecilc }, () => {
  const dir = templateDir();
  const stub = readFileSync(join(dir, STUB_FILE), 'utf8');
  const tpl = readFileSync(join(dir, TEMPLATE_FILE), 'utf8');
  for (const t of new Set([...TYPE_RULES.map((r) => r.type), ...SECRET_TYPES, DEFAULT_TYPE])) {
    assert.match(stub, new RegExp(`^\\(type ${t}\\)$`, 'm'), `${t} is not in ${STUB_FILE}`);
  }
  assert.doesNotMatch(tpl, /\(optional/);
  const empty = write('empty.cil', '; nothing\n');
  assert.deepEqual(validateSelinux(empty), { ok: true, diagnostics: [] });
});

test('negative control: an optional block secilc drops is reported, with its line', { skip: noSecilc }, () => {
  const text = '(block stockade_neg\n    (blockinherit stockade_container)\n    (optional neg_extra\n        (allow process no_such_t (file (read)))\n    )\n)\n';
  const file = write('dropped.cil', text);
  const r = validateSelinux(file);
  assert.equal(r.ok, false);
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]!.file, file);
  assert.equal(r.diagnostics[0]!.line, 4);
  assert.match(r.diagnostics[0]!.message, /failed to resolve allow statement; secilc dropped optional block 'neg_extra' \(line 3\)/);
  // The same module without the undefined type compiles: the failure above is the optional's.
  assert.equal(validateSelinux(write('kept.cil', text.replace('no_such_t', 'etc_t'))).ok, true);
});

test('negative control: compile errors are reported one per line with file and line', { skip: noSecilc }, () => {
  const cases: Array<[string, number, RegExp]> = [
    ['(block stockade_a\n    (blockinherit stockade_container)\n    (allow process no_such_t (file (read)))\n)\n', 3, /failed to resolve allow statement/i],
    ['(block stockade_b\n    (blockinherit stockade_container)\n    (allow process etc_t (file (bogus)))\n)\n', 3, /resolve permission bogus/],
    ['(block stockade_c\n    (blockinherit stockade_container)\n    (frobnicate process)\n)\n', 3, /Unknown keyword frobnicate/],
    ['(block stockade_d\n    (blockinherit stockade_container)\n    (allow process etc_t (file (read)))\n', 4, /Open parenthesis without matching close/],
    // Found while copying the template: secilc names the blockinherit line and the template's.
    ['(block stockade_e\n    (blockinherit stockade_container)\n    (type process)\n)\n', 2, /Re-declaration of type process.*\(at .*stockade-container\.cil:\d+\)/],
  ];
  for (const [text, line, re] of cases) {
    const file = write('err.cil', text);
    const r = validateSelinux(file);
    assert.equal(r.ok, false, text);
    assert.ok(r.diagnostics.length >= 1, text);
    const mine = r.diagnostics.filter((d) => d.file === file);
    assert.equal(mine.length, 1, JSON.stringify(r.diagnostics));
    assert.equal(mine[0]!.line, line, JSON.stringify(r.diagnostics));
    assert.match(mine[0]!.message, re);
  }
});

test('secilc output parsing', () => {
  const out = 'Parsing a.cil\nResolving AST\nFailed to resolve permission bogus\nFailed to resolve allow statement at m.cil:3\nProblem at m.cil:3\nPass 14 of resolution failed\nFailed to resolve AST\n';
  assert.deepEqual(parseSecilcOutput(out, false, [], 'm.cil'), [{ file: 'm.cil', line: 3, message: 'Failed to resolve permission bogus: Failed to resolve allow statement' }]);
  const dropped = 'Resolving AST\nFailed to resolve allow statement at m.cil:6\nDisabling optional \'o\' at m.cil:5\nResetting declarations\n';
  assert.deepEqual(parseSecilcOutput(dropped, true, [], 'm.cil'), [{ file: 'm.cil', line: 6, message: 'failed to resolve allow statement; secilc dropped optional block \'o\' (line 5) instead of failing' }]);
});

test('byte-stable: twice, and from YAML, JSON and TOML', () => {
  const yaml = 'command: [python3, app.py]\ncwd: /srv/app\nnetwork: loopback\ncapabilities: [CAP_NET_RAW, CAP_CHOWN, CAP_BPF]\nfilesystem:\n  write: [/srv/b, /var/a]\n';
  const json = JSON.stringify({ command: ['python3', 'app.py'], cwd: '/srv/app', network: 'loopback', capabilities: ['CAP_NET_RAW', 'CAP_CHOWN', 'CAP_BPF'], filesystem: { write: ['/srv/b', '/var/a'] } });
  const toml = 'command = ["python3", "app.py"]\ncwd = "/srv/app"\nnetwork = "loopback"\ncapabilities = ["CAP_NET_RAW", "CAP_CHOWN", "CAP_BPF"]\n[filesystem]\nwrite = ["/srv/b", "/var/a"]\n';
  const a = generateSelinux(parsePolicyText(yaml, 'p.yaml'));
  assert.equal(generateSelinux(parsePolicyText(yaml, 'p.yaml')), a);
  assert.equal(generateSelinux(parsePolicyText(json, 'elsewhere/p.json')), a);
  assert.equal(generateSelinux(parsePolicyText(toml, 'p.toml')), a);
  assert.doesNotMatch(a, /p\.yaml|p\.json/);
});

test('rules follow the policy', () => {
  const text = generateSelinux(load('p', 'command: [/usr/bin/Node.JS]\ncwd: /srv/app\nnetwork: loopback\ncapabilities: [CAP_NET_BIND_SERVICE, CAP_BPF]\nfilesystem:\n  write: [/srv/app/out]\n'), { mode: 'permissive' });
  assert.match(text, /^\(block stockade_node_js$/m);
  assert.match(text, /^ {4}\(blockinherit stockade_container\)\n {4}\(blockinherit stockade_net_loopback\)$/m);
  assert.match(text, /^ {4}\(typeattributeset withheld \(admin_home_t container_var_lib_t container_var_run_t etc_t gpg_secret_t shadow_t ssh_home_t sshd_key_t sssd_var_lib_t user_home_t var_run_t\)\)$/m);
  assert.match(text, /^ {4}\(typeattributeset readable \(and file_type \(not withheld\)\)\)$/m);
  assert.match(text, /^ {4}\(typeattributeset writable \(var_t\)\)$/m);
  assert.match(text, /filesystem\.hide\[4\] "\/etc\/sudoers": etc_t; shared type etc_t: every file of that type is withheld too/);
  assert.match(text, /^ {4}\(allow process self \(capability \(net_bind_service\)\)\)\n {4}\(allow process self \(cap_userns \(net_bind_service\)\)\)\n {4}\(allow process self \(capability2 \(bpf\)\)\)\n {4}\(allow process self \(cap2_userns \(bpf\)\)\)$/m);
  assert.match(text, /^ {4}\(typepermissive process\)$/m);
  const none = generateSelinux(load('p', 'command: [ls]\nfilesystem: {hide: []}\n'));
  assert.doesNotMatch(none, /blockinherit stockade_net/);
  assert.doesNotMatch(none, /typeattributeset withheld/);
  assert.doesNotMatch(none, /typepermissive|capability/);
  assert.match(generateSelinux(load('p', 'network: host\n')), /^ {4}\(blockinherit stockade_net_host\)$/m);
  const rootfs = generateSelinux(load('p', 'filesystem: {root: /srv/rootfs, read: [/usr/share/zoneinfo], hide: []}\n'));
  assert.match(rootfs, /^ {4}\(typeattributeset readable \(usr_t var_t\)\)$/m);
  assert.equal(selinuxModuleName(load('p', '{}\n')), 'stockade_sandbox');
  assert.equal(selinuxModuleName(load('p', '{}\n'), 'my-app'), 'stockade_my_app');
});

test('the path -> type table', () => {
  assert.equal(typeOfPath('/etc/shadow'), 'shadow_t');
  assert.equal(typeOfPath('/etc/nginx/nginx.conf'), 'etc_t');
  assert.equal(typeOfPath('/home/alice'), 'user_home_dir_t');
  assert.equal(typeOfPath('/home/alice/src/x.c'), 'user_home_t');
  assert.equal(typeOfPath('/home/*/.ssh'), 'ssh_home_t');
  assert.equal(typeOfPath('/home/alice/.ssh/id_rsa'), 'ssh_home_t');
  assert.equal(typeOfPath('/etc/ssh/ssh_host_ed25519_key'), 'sshd_key_t');
  assert.equal(typeOfPath('/etc/ssh/ssh_host_*_key'), 'sshd_key_t');
  assert.equal(typeOfPath('/data/models'), 'default_t');
  assert.equal(typeOfPath('/'), 'root_t');
  assert.deepEqual(typesOfTree('/var/lib'), ['container_var_lib_t', 'sssd_var_lib_t', 'var_lib_t']);
  assert.deepEqual(typesOfTree('/home/*'), ['gpg_secret_t', 'ssh_home_t', 'user_home_dir_t', 'user_home_t']);
});

test('what SELinux cannot express is refused, naming the rule and the format', () => {
  const cases: Array<[string, RegExp]> = [
    ['filesystem: {write: [/home/dev/proj]}\n', /^p\.yaml: filesystem\.write\[0\]: "\/home\/dev\/proj" cannot be expressed in SELinux: it typically has type user_home_t, which filesystem\.hide\[10\] "\/home\/\*\/\.aws" also has; SELinux grants by type/],
    ['filesystem: {write: [/home/dev], hide: [/home/dev/.aws]}\n', /^p\.yaml: filesystem\.write\[0\]: "\/home\/dev" cannot be expressed in SELinux: what is in it typically has type user_home_t, which filesystem\.hide\[0\]/],
    ['filesystem: {read: [/etc/nginx]}\n', /^p\.yaml: filesystem\.read\[1\]|^p\.yaml: filesystem\.read\[0\]: "\/etc\/nginx" cannot be expressed in SELinux: it typically has type etc_t, which filesystem\.hide\[4\] "\/etc\/sudoers"/],
    ['filesystem: {read: [/root/data], hide: [/root]}\n', /^p\.yaml: filesystem\.read\[0\]: "\/root\/data" cannot be expressed in SELinux: it typically has type admin_home_t/],
    ['filesystem: {root: /srv/rootfs}\n', /^p\.yaml: filesystem\.root: "\/srv\/rootfs" cannot be expressed in SELinux: it typically has type var_t, which filesystem\.hide\[0\] "\/etc\/shadow" also has \(inside a root file system directory/],
    ['filesystem: {hide: [/proc/kallsyms]}\n', /^p\.yaml: filesystem\.hide\[0\]: "\/proc\/kallsyms" cannot be expressed in SELinux: files in \/proc share types/],
    ['filesystem: {hide: [/dev/shm]}\n', /^p\.yaml: filesystem\.hide\[0\]: "\/dev\/shm" cannot be expressed in SELinux: device files share types/],
    ['filesystem: {read: [/dev/kvm]}\n', /^p\.yaml: filesystem\.read\[0\]: "\/dev\/kvm" cannot be expressed in SELinux: device files have types stockade does not map/],
    ['filesystem: {write: [/sys/kernel/mm]}\n', /^p\.yaml: filesystem\.write\[0\]: "\/sys\/kernel\/mm" cannot be expressed in SELinux: only stockade run's \/dev entries can be granted for writing/],
  ];
  for (const [yaml, re] of cases) {
    const policy = load('p', yaml);
    assert.throws(() => generateSelinux(policy), (e: unknown) => {
      assert.ok(e instanceof StockadeError, String(e));
      assert.equal(e.code, 'input');
      assert.equal(e.message.split('\n').length, 1);
      assert.match(e.message, re);
      return true;
    }, yaml);
  }
});

test('paths in comments cannot break out of them', { skip: noSecilc }, () => {
  const text = generateSelinux(load('p', 'filesystem: {write: ["/srv/x\\n(allow process shadow_t (file (read)))"], hide: [/etc/shadow]}\n'));
  assert.ok(text.split('\n').every((l) => !l.startsWith('(allow')));
  assert.equal(validateSelinux(write('inject.cil', text)).ok, true);
});

// ---- the CLI (main.ts wiring is not assumed: errors are handled as main.ts handles them)

function cli(...argv: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  try {
    return { code: selinuxCommand(argv, io), out, err };
  } catch (e) {
    if (!(e instanceof StockadeError)) throw e;
    err.push(`stockade: ${e.message}`);
    return { code: exitCodeFor(e), out, err };
  }
}

test('cli: generate to stdout and to a file', () => {
  const policy = write('web.yaml', 'command: [/usr/bin/nginx]\nnetwork: loopback\n');
  const r = cli('generate', policy);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.equal(`${r.out.join('\n')}\n`, generateSelinux(parsePolicyText(readFileSync(policy, 'utf8'), policy)));
  const out = join(tmp, 'web.cil');
  const w = cli('generate', policy, '--mode', 'permissive', '--name', 'web', '-o', out);
  assert.equal(w.code, 0, w.err.join('\n'));
  assert.deepEqual(w.out, []);
  assert.match(w.err.join('\n'), /wrote SELinux module stockade_web \(permissive\)/);
  assert.match(readFileSync(out, 'utf8'), /^\(block stockade_web$/m);
  assert.equal(cli('generate', policy, '--mode', 'enforce').code, 2);
  assert.equal(cli('generate').code, 2);
  const bad = write('bad.yaml', 'filesystem: {hide: [/proc/x]}\n');
  const b = cli('generate', bad);
  assert.equal(b.code, 2);
  assert.equal(b.err.length, 1);
  assert.match(b.err[0]!, /^stockade: .*bad\.yaml: filesystem\.hide\[0\]: "\/proc\/x" cannot be expressed in SELinux/);
});

test('cli: validate exits 0 for a valid module and 2 with one line per error', { skip: noSecilc }, () => {
  const good = join(tmp, 'cli-good.cil');
  assert.equal(cli('generate', write('g.yaml', 'command: [ls]\n'), '-o', good).code, 0);
  const ok = cli('validate', good);
  assert.equal(ok.code, 0, ok.err.join('\n'));
  assert.deepEqual(ok.out, [`${good}: valid`]);
  const text = readFileSync(good, 'utf8').replace('    ; Enforcing.', '    (optional x (allow process nope_t (file (read))))\n    (allow process etc_t (file (frob)))');
  const bad = cli('validate', write('cli-bad.cil', text));
  assert.equal(bad.code, 2);
  assert.ok(bad.err.length >= 1);
  for (const l of bad.err) assert.match(l, /^.+\.cil:\d+: \S/);
  const dropped = cli('validate', write('cli-dropped.cil', readFileSync(good, 'utf8').replace('    ; Enforcing.', '    (optional x (allow process nope_t (file (read))))')));
  assert.equal(dropped.code, 2);
  assert.equal(dropped.err.length, 1);
  assert.match(dropped.err[0]!, /cli-dropped\.cil:\d+: failed to resolve allow statement; secilc dropped optional block 'x'/);
  assert.equal(cli('validate', join(tmp, 'nope.cil')).code, 1);
});

test('cli: install refuses where SELinux is not enabled (exit 1, one line)', { skip: selinuxEnabled() ? 'SELinux is enabled here: not installing a test module' : false }, () => {
  const file = write('install.cil', generateSelinux(load('i', 'command: [ls]\n')));
  const r = cli('install', file);
  assert.equal(r.code, 1);
  assert.deepEqual(r.out, []);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /^stockade: selinux is not enabled on this host \(no \/sys\/fs\/selinux\/enforce\): .*then run this again$/);
});
