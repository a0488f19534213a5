/**
 * AppArmor: profiles generated from policies are valid for the real apparmor_parser (3.0, -Q -K,
 * no kernel support needed), byte-stable, refuse what AppArmor cannot express, and hide exactly
 * what stockade run hides. Plus the `stockade apparmor` commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeFor, StockadeError } from '../src/errors.js';
import { formatOf, parsePolicyText } from '../src/policy/load.js';
import { DEFAULT_HIDDEN } from '../src/policy/defaults.js';
import type { Policy } from '../src/policy/types.js';
import { appArmorProfileName, generateAppArmor, sandboxName } from '../src/apparmor/generate.js';
import { complementOf } from '../src/apparmor/paths.js';
import { apparmorEnabled, findProgram, parseApparmorOutput, validateAppArmor } from '../src/apparmor/validate.js';
import { apparmorCommand } from '../src/cli/apparmor.js';
import type { Io } from '../src/cli/io.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const corpusDir = join(root, 'test', 'fixtures', 'policies');
const tmp = mkdtempSync(join(tmpdir(), 'stockade-apparmor-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const parser = findProgram('apparmor_parser');
const noParser = parser ? false : 'apparmor_parser is not installed (apt-get install apparmor)';

/** Varied policies, written here so the suite does not depend on the shared corpus. */
const INLINE: Record<string, string> = {
  minimal: 'command: [ls]\n',
  'python-app': 'command: [/usr/bin/python3, app.py]\ncwd: /srv/app\nfilesystem:\n  write: [/srv/app/out]\n  read: [/data/models]\n',
  'loopback-caps-limits': 'command: [node, server.js]\nnetwork: loopback\ncapabilities: [CAP_NET_BIND_SERVICE]\nlimits: {openFiles: 1024, cpuTime: 10s, fileSize: 1G, memory: 512M, pids: 64}\n',
  'host-net-many-caps': 'command: [/usr/sbin/agent]\nnetwork: host\ncapabilities: [net_admin, CAP_NET_RAW, sys_time, CAP_BPF, CAP_CHECKPOINT_RESTORE, CAP_SYSLOG, CAP_PERFMON]\n',
  rootfs: 'command: [/app/bin/server]\ncwd: /app\nfilesystem:\n  root: /srv/rootfs\n  tmpfs: [/tmp, /run]\n  hide: []\n',
  'grants-inside-hidden': 'command: [make]\ncwd: /root/proj\nfilesystem:\n  write: [/root/work, /root/proj]\n  read: [/home/alice/.ssh/known_hosts, /home/bob/.ssh/config]\n',
  'nothing-extra': 'command: ["true"]\nfilesystem:\n  tmpfs: []\n  hide: []\n',
  'odd-paths': 'command: ["/opt/my tool/run"]\nfilesystem:\n  write: ["/srv/my data/out", "/opt/app+1/x@y", "/srv/a,b#c=d"]\n  read: ["/srv/ünïcode/data", "/a//b/./c/"]\n  hide: ["/home/*/.cache*", "/srv/my data/secret", "/etc/ssh/ssh_host_*_key"]\n',
  'write-root-and-tmp': 'command: [sh]\nfilesystem:\n  write: [/]\n  tmpfs: [/tmp, /var/tmp]\n',
  'many-grants-one-hide': 'command: [report]\nfilesystem:\n  read: [/data/a, /data/ab, /data/b/c, "/data/-x", /data/A]\n  hide: [/data, /opt/secret]\n',
  'cwd-root-user-root': 'command: [id]\ncwd: /\nuser: {uid: 0, gid: 0}\nnetwork: none\n',
  'dev-grants': 'command: [qemu]\nfilesystem:\n  write: [/dev/kvm, /dev/shm/q]\n  read: [/dev/dri]\n',
  'hide-everything-but': 'command: [tool]\nfilesystem:\n  read: [/usr, /lib, /lib64, /etc/ld.so.cache]\n  hide: [/]\n',
};

function load(name: string, text: string): Policy {
  return parsePolicyText(text, `${name}.yaml`);
}

interface Case {
  name: string;
  policy: Policy;
}

function corpus(): { cases: Case[]; note: string } {
  const cases = Object.entries(INLINE).map(([name, text]) => ({ name, policy: load(name, text) }));
  if (!existsSync(corpusDir)) return { cases, note: `${corpusDir} absent: inline policies only` };
  let n = 0;
  for (const f of readdirSync(corpusDir).filter((x) => /\.(ya?ml|json|toml)$/.test(x)).sort()) {
    const path = join(corpusDir, f);
    let policy: Policy;
    try {
      policy = parsePolicyText(readFileSync(path, 'utf8'), f, formatOf(path));
    } catch (e) {
      if (e instanceof StockadeError) continue; // a deliberately invalid policy is not ours to test
      throw e;
    }
    cases.push({ name: `corpus/${f}`, policy });
    n++;
  }
  return { cases, note: `${n} corpus policies from ${corpusDir}` };
}

function write(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

test('every generated profile passes apparmor_parser -Q -K -q (enforce and complain)', { skip: noParser }, (t) => {
  const { cases, note } = corpus();
  t.diagnostic(note);
  assert.ok(cases.length >= 10);
  let generated = 0;
  for (const c of cases) {
    for (const mode of ['enforce', 'complain'] as const) {
      let text: string;
      try {
        text = generateAppArmor(c.policy, { mode });
      } catch (e) {
        // A refusal must be the documented kind: bad input naming the rule and the format.
        assert.ok(e instanceof StockadeError && e.code === 'input', `${c.name}: ${String(e)}`);
        assert.match(e.message, /cannot be expressed in AppArmor 3\.0/, c.name);
        t.diagnostic(`${c.name}: refused: ${e.message}`);
        continue;
      }
      generated++;
      const file = write(`${c.name.replace(/\W/g, '_')}.${mode}`, text);
      const r = validateAppArmor(file);
      assert.deepEqual(r.diagnostics, [], `${c.name} (${mode})`);
      assert.equal(r.ok, true, c.name);
      if (mode === 'complain') assert.match(text, /flags=\(attach_disconnected,mediate_deleted,complain\) \{/);
      else assert.doesNotMatch(text, /complain/);
    }
  }
  assert.ok(generated >= 2 * Object.keys(INLINE).length, `only ${generated} profiles generated`);
});

test('negative control: a broken profile is reported with its line', { skip: noParser }, () => {
  const good = generateAppArmor(load('x', 'command: [ls]\n'));
  const lines = good.split('\n');
  const at = lines.findIndex((l) => l.trim() === 'deny mount,');
  lines[at] = '  deny mount'; // the comma is missing: the next line cannot be parsed
  const broken = write('broken.profile', lines.join('\n'));
  const r = validateAppArmor(broken);
  assert.equal(r.ok, false);
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0]!.file, broken);
  assert.equal(r.diagnostics[0]!.line, at + 2);
  // An error apparmor_parser gives without a line (a bad character class) points at the profile.
  const regex = write('regex.profile', 'abi <abi/3.0>,\n\nprofile stockade-x {\n  /a r,\n  /b/[^a-]* r,\n}\n');
  const r2 = validateAppArmor(regex);
  assert.equal(r2.ok, false);
  assert.deepEqual(r2.diagnostics.map((d) => d.line), [3]);
  assert.match(r2.diagnostics[0]!.message, /processing regexs/);
});

test('parser messages become FILE:LINE: message', () => {
  const out = 'Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 compatibility patch.)\n'
    + 'AppArmor parser error for f in profile f at line 3: syntax error, unexpected TOK_ID, expecting TOK_MODE\n';
  assert.deepEqual(parseApparmorOutput(out, 'f', 'profile x {\n'), [{ file: 'f', line: 3, message: 'syntax error, unexpected TOK_ID, expecting TOK_MODE' }]);
});

test('byte-stable: twice, and from YAML, JSON and TOML', () => {
  const yaml = 'command: [python3, app.py]\ncwd: /srv/app\nnetwork: loopback\ncapabilities: [CAP_NET_RAW, CAP_CHOWN]\nfilesystem:\n  write: [/srv/b, /srv/a]\n  read: [/root/r]\nlimits: {openFiles: 64}\n';
  const json = JSON.stringify({ command: ['python3', 'app.py'], cwd: '/srv/app', network: 'loopback', capabilities: ['CAP_NET_RAW', 'CAP_CHOWN'], filesystem: { write: ['/srv/b', '/srv/a'], read: ['/root/r'] }, limits: { openFiles: 64 } });
  const toml = 'command = ["python3", "app.py"]\ncwd = "/srv/app"\nnetwork = "loopback"\ncapabilities = ["CAP_NET_RAW", "CAP_CHOWN"]\n[filesystem]\nwrite = ["/srv/b", "/srv/a"]\nread = ["/root/r"]\n[limits]\nopenFiles = 64\n';
  const a = generateAppArmor(parsePolicyText(yaml, 'p.yaml'));
  assert.equal(generateAppArmor(parsePolicyText(yaml, 'p.yaml')), a);
  assert.equal(generateAppArmor(parsePolicyText(json, 'other/p.json')), a);
  assert.equal(generateAppArmor(parsePolicyText(toml, 'p.toml')), a);
  // Capabilities and paths are sorted, so the order in the policy does not matter either.
  const reordered = yaml.replace('[CAP_NET_RAW, CAP_CHOWN]', '[CAP_CHOWN, CAP_NET_RAW]').replace('[/srv/b, /srv/a]', '[/srv/a, /srv/b]');
  assert.equal(generateAppArmor(parsePolicyText(reordered, 'p.yaml')), a);
  assert.doesNotMatch(a, /p\.yaml|p\.json/);
});

test('the generators are pure: no file system, processes, clock or environment', () => {
  for (const f of ['src/apparmor/generate.ts', 'src/apparmor/paths.ts', 'src/selinux/generate.ts', 'src/selinux/file-types.ts']) {
    const text = readFileSync(join(root, f), 'utf8');
    assert.doesNotMatch(text, /from 'node:/, f);
    assert.doesNotMatch(text, /\bprocess\.|\bDate\b|Math\.random|require\(/, f);
  }
});

test('rules follow the policy', () => {
  const text = generateAppArmor(load('p', 'command: [/usr/bin/Python3.11]\ncwd: /srv/app\nnetwork: none\ncapabilities: [CAP_NET_BIND_SERVICE, CAP_CHOWN]\nfilesystem:\n  write: [/srv/app/out]\nlimits: {openFiles: 100, cpuTime: 5s, fileSize: 1M}\n'));
  assert.match(text, /^profile stockade-python3-11 flags=\(attach_disconnected,mediate_deleted\) \{$/m);
  assert.match(text, /^abi <abi\/3\.0>,$/m);
  assert.match(text, /^ {2}\/\*\* rmkix,$/m);
  assert.match(text, /^ {2}\/srv\/app\/out\{,\/\*\*\} rwlk,$/m);
  assert.match(text, /^ {2}\/srv\/app\{,\/\*\*\} rwlk,$/m); // the explicit cwd, as stockade run grants it
  assert.match(text, /^ {2}owner \/tmp\/\*\* rwlk,$/m);
  assert.match(text, /^ {2}capability chown,\n {2}capability net_bind_service,$/m);
  assert.match(text, /^ {2}network unix,\n {2}deny network inet,\n {2}deny network inet6,$/m);
  assert.doesNotMatch(text, /^ {2}network,$/m);
  for (const r of ['deny mount,', 'deny umount,', 'deny pivot_root,', 'signal (receive) peer=unconfined,', 'signal (send, receive) peer=stockade-python3-11,',
    'deny /proc/sys{,/**} wl,', 'deny /sys/** wl,', 'deny /proc/*/mem{,/**} mrwlkx,', 'set rlimit nofile <= 100,', 'set rlimit cpu <= 5,', 'set rlimit fsize <= 1048576,', 'set rlimit core <= 0,']) {
    assert.ok(text.includes(`\n  ${r}\n`), r);
  }
  // The default hide list, * kept within one component.
  for (const h of DEFAULT_HIDDEN) assert.ok(text.includes(`\n  deny ${h}{,/**} mrwlkx,\n`), h);
  assert.ok(text.includes('\n  deny /home/*/.ssh{,/**} mrwlkx,\n'));
  // Without cwd in the policy, only the explicit write paths are writable, and the profile says so.
  const noCwd = generateAppArmor(load('p', 'command: [ls]\nfilesystem: {write: [/srv/out]}\n'));
  assert.deepEqual(noCwd.split('\n').filter((l) => / rwlk,$/.test(l) && !/owner/.test(l)), ['  /srv/out{,/**} rwlk,']);
  assert.match(noCwd, /a profile\n {2}# cannot know; only the paths above are writable/);
  const lo = generateAppArmor(load('p', 'network: loopback\n'));
  assert.match(lo, /AppArmor cannot restrict addresses/);
  assert.match(lo, /^ {2}network inet stream,$/m);
  assert.match(generateAppArmor(load('p', 'network: host\n')), /^ {2}network,$/m);
  assert.match(generateAppArmor(load('p', 'network: host\n'), { mode: 'complain', name: 'web_1' }), /^profile stockade-web_1 flags=\(attach_disconnected,mediate_deleted,complain\) \{$/m);
});

test('profile names', () => {
  assert.equal(appArmorProfileName(load('p', '{}\n')), 'stockade-sandbox');
  assert.equal(appArmorProfileName(load('p', 'command: [/usr/bin/node]\n')), 'stockade-node');
  assert.equal(appArmorProfileName(load('p', 'command: ["./My App.sh"]\n')), 'stockade-my-app-sh');
  assert.equal(appArmorProfileName(load('p', 'command: ["/x/..."]\n')), 'stockade-sandbox');
  assert.equal(sandboxName(load('p', 'command: [ls]\n'), 'web_1'), 'web_1');
  assert.throws(() => sandboxName(load('p', '{}\n'), 'Web'), (e: unknown) => e instanceof StockadeError && e.code === 'usage' && /--name/.test(e.message));
});

/** The subset of AppArmor globbing the generator writes, as a JavaScript regex. */
function globRegex(glob: string): RegExp {
  let i = 0;
  const alt = (): string => {
    let out = '';
    while (i < glob.length) {
      const c = glob[i]!;
      if (c === '{') {
        i++;
        const parts = [alt()];
        while (glob[i] === ',') {
          i++;
          parts.push(alt());
        }
        assert.equal(glob[i], '}');
        i++;
        out += `(?:${parts.join('|')})`;
      } else if (c === ',' || c === '}') return out;
      else if (c === '[') {
        const end = glob.indexOf(']', i);
        const body = glob.slice(i + 1, end);
        out += `[${body.startsWith('^') ? `^${body.slice(1).replace(/[\]\\-]/g, '\\$&')}` : body}]`;
        i = end + 1;
      } else if (c === '*') {
        if (glob[i + 1] === '*') {
          out += '.*';
          i += 2;
        } else {
          out += '[^/]*';
          i++;
        }
      } else if (c === '?') {
        out += '[^/]';
        i++;
      } else {
        out += c.replace(/[.+^$()|\\]/g, '\\$&');
        i++;
      }
    }
    return out;
  };
  const body = alt();
  assert.equal(i, glob.length, glob);
  return new RegExp(`^${body}$`);
}

test('complementOf matches exactly the names not in the set', () => {
  const alphabet = ['a', 'b', '-', '.'];
  const all: string[] = [];
  const grow = (s: string) => {
    if (s.length > 0) all.push(s);
    if (s.length < 4) for (const c of alphabet) grow(s + c);
  };
  grow('');
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let trial = 0; trial < 60; trial++) {
    const names = all.filter(() => rand() < 0.02 + trial / 600);
    if (names.length === 0) continue;
    const globs = complementOf(names)!.map(globRegex);
    for (const n of all) assert.equal(globs.some((g) => g.test(n)), !names.includes(n), `${JSON.stringify(names)}: ${n}`);
  }
  assert.equal(complementOf(['caf\u00e9']), undefined);
});

test('hidden paths with grants inside: denied exactly where stockade run hides', () => {
  const policy = load('p', 'command: [x]\ncwd: /root/proj\nfilesystem:\n  write: [/root/work]\n  read: [/home/alice/.ssh/known_hosts, /data/a, /data/ab]\n  hide: [/root, /home/*/.ssh, /data, /etc/shadow]\n');
  const denies = generateAppArmor(policy).split('\n').filter((l) => /^ {2}deny \//.test(l) && / mrwlkx,$/.test(l))
    .map((l) => globRegex(l.replace(/^ {2}deny /, '').replace(/ mrwlkx,$/, '').replace(/^"|"$/g, '')));
  const denied = (p: string) => denies.some((re) => re.test(p));
  const hidden = ['/root/.bashrc', '/root/wor', '/root/workx', '/root/wor/k', '/root/proj2', '/home/bob/.ssh', '/home/bob/.ssh/id_rsa',
    '/home/alice/.ssh/id_rsa', '/home/alice/.ssh/known_hostsX', '/home/alicex/.ssh/a', '/home/a/.ssh', '/data/b', '/data/aa', '/data/abc/x', '/etc/shadow', '/dev/sda', '/dev/kvm', '/dev/nullx'];
  const visible = ['/root', '/root/', '/root/work', '/root/work/', '/root/work/a/b', '/root/proj/x', '/home/alice/.ssh/known_hosts', '/home/alice/.ssh/', '/home/alice/x',
    '/home/bob/.bashrc', '/data/a/x', '/data/ab', '/data/', '/etc/passwd', '/dev/null', '/dev/pts/3', '/dev/shm/x', '/usr/bin/ls'];
  for (const p of hidden) assert.ok(denied(p), `${p} should be denied`);
  for (const p of visible) assert.ok(!denied(p), `${p} should not be denied`);
});

test('what AppArmor cannot express is refused, naming the rule and the format', () => {
  const cases: Array<[string, RegExp]> = [
    ['filesystem: {write: [/a, /b, "/a/b[c]"]}\n', /^p\.yaml: filesystem\.write\[2\]: "\/a\/b\[c\]" cannot be expressed in AppArmor 3\.0: the path contains a glob character/],
    ['filesystem: {read: ["/x/y?"]}\n', /^p\.yaml: filesystem\.read\[0\]: "\/x\/y\?" cannot be expressed in AppArmor 3\.0: the path contains a glob character/],
    ['filesystem: {hide: ["/x/{a,b}"]}\n', /^p\.yaml: filesystem\.hide\[0\]: .* cannot be expressed in AppArmor 3\.0: the path contains a glob character .*only \*/],
    ['filesystem: {tmpfs: ["/x/a\\"b"]}\n', /^p\.yaml: filesystem\.tmpfs\[0\]: .* cannot be expressed in AppArmor 3\.0: the path contains a double quote/],
    ['filesystem: {write: ["/x/a\\nb"]}\n', /^p\.yaml: filesystem\.write\[0\]: .* cannot be expressed in AppArmor 3\.0: the path contains a control character/],
    ['filesystem: {write: ["/x/a\\\\b"]}\n', /^p\.yaml: filesystem\.write\[0\]: .* cannot be expressed in AppArmor 3\.0: the path contains a backslash/],
    ['cwd: "/x/@{HOME}"\n', /^p\.yaml: cwd: .* cannot be expressed in AppArmor 3\.0/],
    ['filesystem: {read: [/etc/ssh/ssh_host_rsa_key]}\n', /^p\.yaml: filesystem\.read\[0\]: "\/etc\/ssh\/ssh_host_rsa_key" cannot be expressed in AppArmor 3\.0: it lies inside filesystem\.hide\[6\]/],
    ['filesystem: {read: ["/data/caf\u00e9/x"], hide: [/data]}\n', /^p\.yaml: filesystem\.read\[0\]: .* cannot be expressed in AppArmor 3\.0: .*not plain ASCII/],
  ];
  for (const [yaml, re] of cases) {
    const policy = load('p', yaml);
    assert.throws(() => generateAppArmor(policy), (e: unknown) => {
      assert.ok(e instanceof StockadeError, String(e));
      assert.equal(e.code, 'input');
      assert.equal(e.message.split('\n').length, 1);
      assert.match(e.message, re);
      return true;
    }, yaml);
  }
});

// ---- the CLI (main.ts wiring is not assumed: errors are handled as main.ts handles them)

function cli(...argv: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  try {
    return { code: apparmorCommand(argv, io), out, err };
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
  const text = `${r.out.join('\n')}\n`;
  assert.equal(text, generateAppArmor(parsePolicyText(readFileSync(policy, 'utf8'), policy)));
  assert.match(text, /^profile stockade-nginx /m);
  const out = join(tmp, 'web.profile');
  const w = cli('generate', policy, '--mode', 'complain', '--name', 'web', '-o', out);
  assert.equal(w.code, 0, w.err.join('\n'));
  assert.deepEqual(w.out, []);
  assert.match(w.err.join('\n'), /wrote AppArmor profile stockade-web \(complain\)/);
  assert.match(readFileSync(out, 'utf8'), /^profile stockade-web flags=\(attach_disconnected,mediate_deleted,complain\) \{$/m);
  assert.equal(cli('generate', policy, '--mode', 'enforcing').code, 2);
  assert.equal(cli('generate', policy, '--name', 'Bad Name').code, 2);
  assert.equal(cli('generate').code, 2);
  const bad = write('bad.yaml', 'filesystem: {write: ["/a/b*"]}\n');
  const b = cli('generate', bad);
  assert.equal(b.code, 2);
  assert.deepEqual(b.err, [`stockade: ${bad}: filesystem.write[0]: "/a/b*" cannot be expressed in AppArmor 3.0: the path contains a glob character (*)`]);
  assert.equal(cli('generate', join(tmp, 'missing.yaml')).code, 1);
  assert.equal(cli('frobnicate').code, 2);
  assert.equal(cli('--help').code, 0);
});

test('cli: validate exits 0 for a valid profile and 2 with one line per error', { skip: noParser }, () => {
  const good = join(tmp, 'cli-good.profile');
  assert.equal(cli('generate', write('g.yaml', 'command: [ls]\n'), '-o', good).code, 0);
  const ok = cli('validate', good);
  assert.equal(ok.code, 0, ok.err.join('\n'));
  assert.deepEqual(ok.out, [`${good}: valid`]);
  const broken = write('cli-bad.profile', readFileSync(good, 'utf8').replace('  capability', '  capability').replace('  deny pivot_root,', '  deny pivot_root'));
  const bad = cli('validate', broken);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.length, 1);
  const line = readFileSync(broken, 'utf8').split('\n').findIndex((l) => l === '  deny pivot_root') + 2;
  assert.match(bad.err[0]!, new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}: `));
  const bad2 = write('cli-bad2.profile', 'profile stockade-x {\n  /a rwq,\n  capability frob,\n}\n');
  const r2 = cli('validate', bad2);
  assert.equal(r2.code, 2);
  for (const l of r2.err) assert.match(l, /^.+:\d+: \S/);
  assert.equal(cli('validate', join(tmp, 'nope.profile')).code, 1);
});

test('cli: install refuses on a kernel without AppArmor (exit 1, one line)', { skip: apparmorEnabled() ? 'AppArmor is enabled here: not installing a test profile' : false }, () => {
  const file = join(tmp, 'install.profile');
  writeFileSync(file, generateAppArmor(load('i', 'command: [ls]\n')));
  const r = cli('install', file);
  assert.equal(r.code, 1);
  assert.deepEqual(r.out, []);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /^stockade: apparmor is not enabled in this kernel .*: .*apparmor=1.*then run this again$/);
});
