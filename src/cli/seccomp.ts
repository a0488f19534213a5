/** `stockade seccomp ...`: compile, disasm, emulate, explain, lint, diff, show. */
import { readFileSync, writeFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';
import { runningKernel } from '../host/kernel.js';
import { formatAction } from '../seccomp/actions.js';
import { AUDIT_ARCH, hostArch, parseArch, X32_SYSCALL_BIT, type Arch } from '../seccomp/arch.js';
import { decodeProgram, type Insn } from '../seccomp/bpf.js';
import { builtinProfile, isBuiltinName } from '../seccomp/builtin.js';
import { compileFilter } from '../seccomp/compile.js';
import { defaultProfileJson } from '../seccomp/default-profile.js';
import { disassemble } from '../seccomp/disasm.js';
import { checkProgram, emulate } from '../seccomp/emulate.js';
import { diffFilters, explainFilter } from '../seccomp/explain.js';
import { lintProfile } from '../seccomp/lint.js';
import { parseProfile, type SeccompProfile } from '../seccomp/profile.js';
import { DOCKER_DEFAULT_CAPS, parseKernelVersion, resolveProfile, type Target } from '../seccomp/resolve.js';
import type { SeccompFilter } from '../seccomp/rules.js';
import { syscallNumber } from '../seccomp/syscalls.js';
import { one, parseArgs, subcommand, type Parsed } from './args.js';
import type { Io } from './io.js';

export const SECCOMP_HELP = `usage:
  stockade seccomp compile PROFILE [--arch ARCH]... [--caps LIST] [--kernel X.Y] -o FILE
  stockade seccomp disasm FILE.bpf
  stockade seccomp emulate PROFILE|FILE.bpf SYSCALL [ARG...] [--arch ARCH] [--trace]
  stockade seccomp explain PROFILE [--arch ARCH] [--json]
  stockade seccomp lint PROFILE [--json]
  stockade seccomp diff A B [--arch ARCH] [--json]
  stockade seccomp show PROFILE            print the profile as Docker/OCI JSON

PROFILE is a Docker/OCI seccomp JSON file or a built-in name (stockade:default).
--caps LIST   capabilities the workload keeps, comma-separated (default: Docker's default set;
              "none" for none); decides includes/excludes.caps entries
--kernel X.Y  kernel version for minKernel entries (default: the running kernel)
--arch ARCH   x86_64, x86, x32 or aarch64 (compile: repeat for a multi-arch filter)`;

const TARGET_FLAGS = { arch: { value: true, repeat: true }, caps: { value: true }, kernel: { value: true } } as const;

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

export function loadProfile(nameOrPath: string): SeccompProfile {
  return isBuiltinName(nameOrPath) ? builtinProfile(nameOrPath) : parseProfile(readText(nameOrPath), nameOrPath);
}

function knownArch(name: string): Arch {
  const arch = parseArch(name, '--arch');
  if (!arch) throw new StockadeError('usage', `stockade has no syscall tables for ${name}; use x86_64, x86, x32 or aarch64`, '--arch');
  return arch;
}

function targetOf(p: Parsed): Target {
  const arches = (p.flags.get('arch') ?? []).map(knownArch);
  const capsFlag = one(p, 'caps');
  const caps = capsFlag === undefined ? DOCKER_DEFAULT_CAPS
    : capsFlag === 'none' || capsFlag === '' ? []
    : capsFlag.split(',').map((c) => {
      const cap = c.trim().toUpperCase();
      const full = cap.startsWith('CAP_') ? cap : `CAP_${cap}`;
      if (!/^CAP_[A-Z_]+$/.test(full)) throw new StockadeError('usage', `"${c}" is not a capability name`, '--caps');
      return full;
    });
  const kernelFlag = one(p, 'kernel');
  const kernel = kernelFlag === undefined ? runningKernel() : parseKernelVersion(kernelFlag, '--kernel');
  const native = arches[0] === 'x86' || arches[0] === 'x32' ? hostArch() : arches[0] ?? hostArch();
  const t: Target = { native, caps, kernel };
  if (arches.length > 0) t.arches = arches;
  return t;
}

function operands(p: Parsed, n: number, usage: string): string[] {
  if (p.operands.length !== n) throw new StockadeError('usage', `expected ${usage}`, 'stockade seccomp');
  return p.operands;
}

function compile(argv: string[], io: Io): number {
  const p = parseArgs(argv, { ...TARGET_FLAGS, output: { value: true, short: 'o' } }, 'seccomp compile');
  const [src] = operands(p, 1, 'PROFILE (see stockade seccomp --help)');
  const out = one(p, 'output');
  if (!out) throw new StockadeError('usage', 'needs -o FILE for the compiled program', 'stockade seccomp compile');
  const compiled = compileFilter(resolveProfile(loadProfile(src!), targetOf(p)), src);
  try {
    writeFileSync(out, compiled.bytes);
  } catch (e) {
    throw new StockadeError('io', `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, out);
  }
  io.err(`wrote ${compiled.program.length} instructions for ${compiled.filter.arches.join(', ')} to ${out}`);
  return 0;
}

function readProgram(path: string): Insn[] {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
  const prog = decodeProgram(buf, path);
  const bad = checkProgram(prog);
  if (bad) throw new StockadeError('input', `the kernel would refuse this program: ${bad}`, path);
  return prog;
}

function disasm(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'seccomp disasm');
  const [file] = operands(p, 1, 'FILE.bpf');
  for (const line of disassemble(readProgram(file!))) io.out(line);
  return 0;
}

/** A profile file starts with `{`; anything else is taken as a raw BPF program. */
function looksLikeProfile(path: string): boolean {
  if (isBuiltinName(path)) return true;
  try {
    const head = readFileSync(path).subarray(0, 64).toString('utf8');
    return head.trimStart().startsWith('{');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

function parseU64(text: string, where: string): bigint {
  const t = text.trim();
  try {
    if (/^-\d+$/.test(t)) {
      const v = BigInt(t);
      if (v >= -(1n << 63n)) return v & ((1n << 64n) - 1n);
    } else if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) {
      const v = BigInt(t);
      if (v < 1n << 64n) return v;
    }
  } catch {
    /* fall through */
  }
  throw new StockadeError('usage', `"${text}" is not a 64-bit integer (decimal, 0x hex, or negative)`, where);
}

function emulateCmd(argv: string[], io: Io): number {
  const p = parseArgs(argv, { ...TARGET_FLAGS, trace: {} }, 'seccomp emulate');
  if (p.operands.length < 2) throw new StockadeError('usage', 'expected PROFILE|FILE.bpf SYSCALL [ARG...]', 'stockade seccomp emulate');
  if (p.operands.length > 8) throw new StockadeError('usage', 'a syscall has at most 6 arguments', 'stockade seccomp emulate');
  const [src, sc, ...rawArgs] = p.operands as [string, string, ...string[]];
  const archFlags = p.flags.get('arch') ?? [];
  if (archFlags.length > 1) throw new StockadeError('usage', 'emulate takes one --arch (the arch of the call)', '--arch');
  const callArch: Arch = archFlags[0] ? knownArch(archFlags[0]) : hostArch();
  let nr: number;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(sc)) nr = Number(sc) >>> 0;
  else {
    const n = syscallNumber(callArch, sc);
    if (n === undefined) throw new StockadeError('usage', `${callArch} has no syscall named "${sc}"`, 'SYSCALL');
    nr = n;
  }
  if (callArch === 'x32' && nr < X32_SYSCALL_BIT) nr = (nr | X32_SYSCALL_BIT) >>> 0;
  const args = rawArgs.map((a, i) => parseU64(a, `ARG ${i}`));
  let program: Insn[];
  if (looksLikeProfile(src)) {
    const t = targetOf({ ...p, flags: new Map([...p.flags].filter(([k]) => k !== 'arch')) });
    const profile = loadProfile(src);
    const filter = resolveProfile(profile, t);
    if (!filter.arches.includes(callArch)) t.arches = [...filter.arches, callArch];
    program = compileFilter(t.arches ? resolveProfile(profile, t) : filter, src).program;
  } else program = readProgram(src);
  const result = emulate(program, { nr, arch: AUDIT_ARCH[callArch], args });
  io.out(formatAction(result.action));
  if (p.bools.has('trace')) {
    const lines = disassemble(program);
    for (const pc of result.path) io.out(lines[pc]!);
  }
  return 0;
}

function resolveFor(src: string, p: Parsed): { profile: SeccompProfile; filter: SeccompFilter; arch: Arch } {
  const t = targetOf(p);
  const profile = loadProfile(src);
  const arch = t.arches?.[0] ?? t.native;
  return { profile, filter: resolveProfile(profile, t), arch };
}

function explain(argv: string[], io: Io): number {
  const p = parseArgs(argv, { ...TARGET_FLAGS, json: {} }, 'seccomp explain');
  const [src] = operands(p, 1, 'PROFILE');
  const { filter, arch } = resolveFor(src!, p);
  const rows = explainFilter(filter, arch);
  if (p.bools.has('json')) {
    io.out(JSON.stringify({ arch, arches: filter.arches, defaultAction: formatAction(filter.defaultAction), syscalls: rows }, null, 2));
    return 0;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  io.out(`${'syscall'.padEnd(width)}  ${'nr'.padStart(10)}  action   (${arch}; filter arches ${filter.arches.join(', ')}; default ${formatAction(filter.defaultAction)})`);
  for (const r of rows) io.out(`${r.name.padEnd(width)}  ${String(r.nr).padStart(10)}  ${r.summary}`);
  return 0;
}

function lint(argv: string[], io: Io): number {
  const p = parseArgs(argv, { ...TARGET_FLAGS, json: {} }, 'seccomp lint');
  const [src] = operands(p, 1, 'PROFILE');
  const { profile, filter } = resolveFor(src!, p);
  const findings = lintProfile(profile, filter);
  if (p.bools.has('json')) io.out(JSON.stringify(findings, null, 2));
  else {
    for (const f of findings) io.out(`${f.severity.padEnd(7)} ${f.where}: ${f.message}`);
    const count = (s: string) => findings.filter((f) => f.severity === s).length;
    io.out(`${count('error')} errors, ${count('warning')} warnings, ${count('info')} notes`);
  }
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}

function diff(argv: string[], io: Io): number {
  const p = parseArgs(argv, { ...TARGET_FLAGS, json: {} }, 'seccomp diff');
  const [a, b] = operands(p, 2, 'two profiles: A B');
  const ra = resolveFor(a!, p);
  const rb = resolveFor(b!, p);
  const diffs = diffFilters(ra.filter, rb.filter, ra.arch);
  if (p.bools.has('json')) io.out(JSON.stringify({ arch: ra.arch, a, b, differences: diffs }, null, 2));
  else {
    for (const d of diffs) io.out(`${d.name} (${d.nr}):\n  ${a}: ${d.a}\n  ${b}: ${d.b}`);
    io.out(`${diffs.length} syscalls differ on ${ra.arch}`);
  }
  return 0;
}

function show(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'seccomp show');
  const [src] = operands(p, 1, 'PROFILE');
  if (src === 'stockade:default') io.out(JSON.stringify(defaultProfileJson(), null, 2));
  else {
    loadProfile(src!);
    io.out(readText(src!).trimEnd());
  }
  return 0;
}

export function seccompCommand(argv: string[], io: Io): number {
  return subcommand(argv, io, 'seccomp', SECCOMP_HELP, { compile, disasm, emulate: emulateCmd, explain, lint, diff, show });
}
