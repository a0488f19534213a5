#!/usr/bin/env node
// Generates src/seccomp/tables.gen.ts: syscall name -> number tables for x86_64, x86 (i386), x32 and aarch64.
//
// Sources (both pinned, so the output is the same bytes on every machine):
//   1. Debian 12's linux-libc-dev 6.1.x headers: asm/unistd_{64,32,x32}.h for the x86 ABIs, and
//      asm-generic/unistd.h for aarch64, evaluated with the macros arm64's uapi asm/unistd.h sets.
//   2. scripts/syscall-facts/post-6.1.json: syscalls added after 6.1, with numbers checked against
//      the kernel's syscall tables, plus syscall names of arches we build no tables for.
//
// Usage: node scripts/gen-syscall-tables.mjs          rewrite src/seccomp/tables.gen.ts
//        node scripts/gen-syscall-tables.mjs --check  exit 1 if the file is stale, 0 if up to date
// Exit 2: the pinned headers are missing or not 6.1.x. Exit 3: the facts file is inconsistent.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'src', 'seccomp', 'tables.gen.ts');
const FACTS_REL = 'scripts/syscall-facts/post-6.1.json';
const INCLUDE = '/usr/include';
const HEADERS = {
  x86_64: `${INCLUDE}/x86_64-linux-gnu/asm/unistd_64.h`,
  x86: `${INCLUDE}/x86_64-linux-gnu/asm/unistd_32.h`,
  x32: `${INCLUDE}/x86_64-linux-gnu/asm/unistd_x32.h`,
  aarch64: `${INCLUDE}/asm-generic/unistd.h`,
};
const ARCHES = ['x86_64', 'x86', 'x32', 'aarch64'];
const X32_SYSCALL_BIT = 0x40000000;
// What arch/arm64/include/uapi/asm/unistd.h defines before including asm-generic/unistd.h.
const ARM64_DEFINES = ['__ARCH_WANT_RENAMEAT', '__ARCH_WANT_NEW_STAT', '__ARCH_WANT_SET_GET_RLIMIT',
  '__ARCH_WANT_TIME32_SYSCALLS', '__ARCH_WANT_SYS_CLONE3', '__ARCH_WANT_MEMFD_SECRET'];
const ARM64_BITS_PER_LONG = 64;
// __NR_* macros in asm-generic/unistd.h that are not syscalls.
const GENERIC_NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall']);

/** Print one line and exit with `code`. */
function die(code, message) {
  process.stderr.write(`gen-syscall-tables: ${message}\n`);
  process.exit(code);
}

/** The installed linux-libc-dev version; exits 2 unless every source we can read says 6.1.x. */
function pinnedHeadersVersion() {
  const found = [];
  try {
    const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'linux-libc-dev'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (v) found.push({ from: 'dpkg linux-libc-dev', version: v.replace(/^\d+:/, '') });
  } catch { /* no dpkg, or the package is not installed: fall back to version.h */ }
  const versionH = `${INCLUDE}/linux/version.h`;
  if (existsSync(versionH)) {
    const m = /#define\s+LINUX_VERSION_CODE\s+(\d+)/.exec(readFileSync(versionH, 'utf8'));
    if (m) {
      const code = Number(m[1]);
      found.push({ from: versionH, version: `${code >> 16}.${(code >> 8) & 0xff}.${code & 0xff}` });
    }
  }
  if (found.length === 0) die(2, 'pinned linux-libc-dev 6.1.x headers not found (apt-get install linux-libc-dev on Debian 12)');
  for (const { from, version } of found) {
    if (!/^6\.1\.\d+/.test(version)) die(2, `${from} is ${version}, but the tables are pinned to linux-libc-dev 6.1.x (Debian 12)`);
  }
  for (const [arch, file] of Object.entries(HEADERS)) {
    if (!existsSync(file)) die(2, `pinned header for ${arch} missing: ${file} (needs Debian 12 linux-libc-dev 6.1.x on amd64)`);
  }
  return found[0].version;
}

/** `#define __NR_name 12` lines of asm/unistd_64.h or unistd_32.h. */
function parseFlat(file) {
  const table = new Map();
  for (const m of readFileSync(file, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) table.set(m[1], Number(m[2]));
  return table;
}

/** `#define __NR_name (__X32_SYSCALL_BIT + 12)` lines of asm/unistd_x32.h; numbers keep the x32 bit. */
function parseX32(file) {
  const table = new Map();
  const re = /^#define __NR_(\w+)\s+\(__X32_SYSCALL_BIT \+ (\d+)\)\s*$/gm;
  for (const m of readFileSync(file, 'utf8').matchAll(re)) table.set(m[1], X32_SYSCALL_BIT + Number(m[2]));
  return table;
}

/**
 * asm-generic/unistd.h as arm64 sees it: a small preprocessor that follows #if/#ifdef/#else/#endif
 * with arm64's macros, records numeric __NR_* / __NR3264_* defines, and resolves the
 * `#define __NR_fstat __NR3264_fstat` aliases of the 64-bit branch.
 */
function parseGenericForArm64(file) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\\\n/g, ' ');
  const defined = new Set(ARM64_DEFINES);
  const numbers = new Map(); // macro name -> syscall number
  const stack = []; // one entry per open #if: { active: this branch is taken, done: some branch was taken }
  const live = () => stack.every((f) => f.active);

  const evaluate = (expr) => {
    const c = expr
      .replace(/defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)/g, (_, a, b) => (defined.has(a ?? b) ? '1' : '0'))
      .replace(/\b__BITS_PER_LONG\b/g, String(ARM64_BITS_PER_LONG));
    if (!/^[\d\s()!=<>&|]+$/.test(c)) die(3, `cannot evaluate #if ${expr.trim()} in ${file}`);
    return Boolean(new Function(`return (${c});`)()); // only digits and C/JS operators remain
  };

  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('#')) continue;
    const [, directive, rest = ''] = /^#\s*(\w+)\s*(.*)$/.exec(line) ?? [];
    if (directive === 'if' || directive === 'ifdef' || directive === 'ifndef') {
      const cond = directive === 'if' ? evaluate(rest) : defined.has(rest.trim()) === (directive === 'ifdef');
      const active = live() && cond;
      stack.push({ active, done: active, outer: live() });
    } else if (directive === 'else') {
      const top = stack.at(-1) ?? die(3, `#else without #if in ${file}`);
      top.active = top.outer && !top.done;
      top.done ||= top.active;
    } else if (directive === 'endif') {
      if (!stack.pop()) die(3, `#endif without #if in ${file}`);
    } else if (!live()) {
      continue;
    } else if (directive === 'define') {
      const [, name, value = ''] = /^(\w+)(?:\([^)]*\))?\s*(.*)$/.exec(rest);
      defined.add(name);
      if (!/^__NR(3264)?_/.test(name)) continue;
      if (/^\d+$/.test(value)) numbers.set(name, Number(value));
      else if (numbers.has(value)) numbers.set(name, numbers.get(value));
    } else if (directive === 'undef') {
      defined.delete(rest.trim());
      numbers.delete(rest.trim());
    } else if (directive !== 'include') {
      die(3, `unexpected #${directive} in ${file}`);
    }
  }
  if (stack.length) die(3, `unterminated #if in ${file}`);

  const table = new Map();
  for (const [macro, nr] of numbers) {
    const name = macro.startsWith('__NR_') ? macro.slice('__NR_'.length) : undefined;
    if (name !== undefined && !GENERIC_NOT_SYSCALLS.has(name)) table.set(name, nr);
  }
  return table;
}

/** Adds the post-6.1 facts to the header tables, refusing anything that contradicts them. */
function applyFacts(tables, facts) {
  const since = new Map();
  for (const { name, since: version, nr } of facts.syscalls) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name) || !/^\d+\.\d+$/.test(version)) die(3, `bad facts entry ${JSON.stringify(name)}`);
    for (const [arch, raw] of Object.entries(nr)) {
      const table = tables[arch] ?? die(3, `facts: ${name} names unknown arch ${arch}`);
      const number = arch === 'x32' ? X32_SYSCALL_BIT + raw : raw;
      if (table.has(name)) die(3, `facts: ${name} is already in the pinned ${arch} header; drop it from ${FACTS_REL}`);
      const clash = [...table].find(([, n]) => n === number);
      if (clash) die(3, `facts: ${name} ${arch} number ${raw} is already ${clash[0]}`);
      table.set(name, number);
    }
    since.set(name, version);
  }
  return since;
}

/** Names from other arches, minus those any of our tables has; sorted, unique. */
function otherArchNames(tables, facts) {
  const ours = new Set(ARCHES.flatMap((a) => [...tables[a].keys()]));
  const names = Object.entries(facts.otherArchNames).filter(([k]) => k !== 'about').flatMap(([, v]) => v);
  return [...new Set(names)].filter((n) => !ours.has(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function render(version, tables, others, since) {
  const out = [];
  const pinned = version.replace(/^(\d+\.\d+)\..*$/, '$1.x');
  out.push(`// generated by scripts/gen-syscall-tables.mjs from linux-libc-dev ${pinned} and ${FACTS_REL}; do not edit`);
  out.push('// Regenerate with `npm run gen:syscalls`; x32 numbers include the x32 bit (0x40000000).', '');
  out.push('export const SYSCALL_TABLES: {');
  for (const arch of ARCHES) out.push(`  readonly ${arch}: Readonly<Record<string, number>>;`);
  out.push('} = Object.freeze({');
  for (const arch of ARCHES) {
    const rows = [...tables[arch]].sort((a, b) => a[1] - b[1]);
    out.push(`  ${arch}: Object.freeze({`, ...rows.map(([n, nr]) => `    ${n}: ${nr},`), '  }),');
  }
  out.push('});', '');
  out.push('/** Syscall names that exist only on Linux arches without tables here (arm, ppc, s390, riscv, mips, ...). */');
  out.push('export const OTHER_ARCH_SYSCALL_NAMES: readonly string[] = Object.freeze([');
  out.push(...others.map((n) => `  '${n}',`), ']);', '');
  out.push('/** kernel version that introduced syscalls newer than the pinned headers, for minKernel-style checks */');
  out.push('export const SYSCALL_SINCE: Readonly<Record<string, string>> = Object.freeze({');
  out.push(...[...since].map(([n, v]) => `  ${n}: '${v}',`), '});', '');
  return out.join('\n');
}

function main() {
  const check = process.argv.includes('--check');
  const version = pinnedHeadersVersion();
  const tables = {
    x86_64: parseFlat(HEADERS.x86_64),
    x86: parseFlat(HEADERS.x86),
    x32: parseX32(HEADERS.x32),
    aarch64: parseGenericForArm64(HEADERS.aarch64),
  };
  for (const arch of ARCHES) if (tables[arch].size < 300) die(2, `${HEADERS[arch]} yields only ${tables[arch].size} syscalls`);
  const facts = JSON.parse(readFileSync(join(ROOT, FACTS_REL), 'utf8'));
  const since = applyFacts(tables, facts);
  const text = render(version, tables, otherArchNames(tables, facts), since);

  if (check) {
    const current = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
    if (current !== text) die(1, 'src/seccomp/tables.gen.ts is stale; run node scripts/gen-syscall-tables.mjs');
    return;
  }
  writeFileSync(OUT, text);
  const counts = ARCHES.map((a) => `${a} ${tables[a].size}`).join(', ');
  process.stdout.write(`wrote src/seccomp/tables.gen.ts (${counts})\n`);
}

main();
