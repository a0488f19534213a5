/** `stockade record`: run a workload once, watched, and write the smallest policy that runs it. */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { StockadeError } from '../errors.js';
import { hostFacts, start } from '../backends/native/run.js';
import { startFastRecorder } from '../record/ebpf.js';
import type { Policy } from '../policy/types.js';
import { which } from '../host/probe.js';
import { defaultPolicy } from '../policy/defaults.js';
import { applyOverrides } from '../policy/overrides.js';
import { recordedPolicy } from '../record/generate.js';
import { observeStrace } from '../record/strace.js';
import { mergeRecordings } from '../record/merge.js';
import { loadPolicyFile } from './run.js';
import { one, parseArgs } from './args.js';
import type { Io } from './io.js';

export const RECORD_HELP = `usage:
  stockade record [--policy BASE] [--via strace|fast] [--net MODE] [--read P] [--write P] -o OUT.yaml -- COMMAND [ARG...]
  stockade record --merge A.yaml B.yaml... -o OUT.yaml

Runs COMMAND once in the sandbox BASE describes (the default policy without --policy), with
seccomp observing instead of enforcing, and writes OUT.yaml and OUT.seccomp.json: the syscalls it
made, the paths it read, wrote and executed (collapsed to directories: docs/recording.md), and its
network use. --merge unions recordings of different runs.`;

const require = createRequire(import.meta.url);

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The ELF interpreter a program names (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2): the kernel
 * opens it during execve, so no trace shows it, yet the program cannot start without it.
 */
export function elfInterpreter(path: string): string | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    return undefined;
  }
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined; // 64-bit little-endian ELF
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > buf.length) return undefined;
    if (buf.readUInt32LE(at) !== 3) continue; // PT_INTERP
    const off = Number(buf.readBigUInt64LE(at + 8));
    const size = Number(buf.readBigUInt64LE(at + 32));
    if (off + size > buf.length || size < 2) return undefined;
    return buf.subarray(off, off + size - 1).toString('utf8');
  }
  return undefined;
}

function profilePathFor(out: string): string {
  return out.replace(/\.(ya?ml|json|toml)$/i, '') + '.seccomp.json';
}

/** Writes the policy (YAML with a header saying how it was recorded) and its profile. */
export function writeRecording(out: string, policy: Record<string, unknown>, profile: Record<string, unknown>, header: string[]): void {
  const yaml = require('yaml') as typeof import('yaml');
  const text = header.map((h) => `# ${h}`).join('\n') + '\n' + yaml.stringify(policy, { lineWidth: 0 });
  try {
    writeFileSync(profilePathFor(out), JSON.stringify(profile, null, 2) + '\n');
    writeFileSync(out, text);
  } catch (e) {
    throw new StockadeError('io', `cannot write the recording: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, out);
  }
}

export async function recordCommand(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, {
    policy: { value: true }, via: { value: true }, output: { value: true, short: 'o' }, merge: {}, help: {},
    read: { value: true, repeat: true }, write: { value: true, repeat: true }, net: { value: true },
  }, 'record');
  if (p.bools.has('help')) {
    io.out(RECORD_HELP);
    return 0;
  }
  const out = one(p, 'output');
  if (!out) throw new StockadeError('usage', 'needs -o OUT.yaml', 'stockade record');
  if (p.bools.has('merge')) {
    if (p.operands.length < 2) throw new StockadeError('usage', 'give at least two recordings to merge', 'stockade record --merge');
    const merged = mergeRecordings(p.operands.map((f) => ({ path: f, text: readText(f) })), (f) => readText(f));
    (merged.policy.syscalls as Record<string, unknown>).profile = basename(profilePathFor(out));
    writeRecording(out, merged.policy, merged.profile, [`merged by stockade record from ${p.operands.map((f) => basename(f)).join(', ')}`, `complete: ${merged.complete ? 'yes' : 'no'}`]);
    io.err(`stockade: merged ${p.operands.length} recordings into ${out}`);
    return merged.complete ? 0 : 1;
  }
  const via = one(p, 'via') ?? 'strace';
  if (via !== 'strace' && via !== 'fast') throw new StockadeError('usage', `"${via}" is not a recorder; use strace or fast`, '--via');
  const strace = which('strace');
  if (via === 'strace' && !strace) throw new StockadeError('unsupported', 'strace is not installed: apt-get install strace', '--via strace');
  const base = applyOverrides(one(p, 'policy') ? loadPolicyFile(one(p, 'policy')!) : defaultPolicy(),
    { command: p.operands, read: p.flags.get('read'), write: p.flags.get('write'), net: one(p, 'net') }, process.cwd());
  if (base.command.length === 0) throw new StockadeError('usage', 'no command to record: put it after --', 'stockade record');
  // Recording observes syscalls: seccomp does not enforce; every other layer of BASE does.
  const observed = { ...base, syscalls: { ...base.syscalls, profile: 'unconfined' } };
  if (via === 'fast') return recordFast(base, observed, out, io);
  const tmp = mkdtempSync(join(tmpdir(), 'stockade-record-'));
  const trace = join(tmp, 'trace');
  try {
    const started = start(observed, { helperWrapper: [strace!, '-f', '-qq', '-s', '4096', '-y', '-o', trace, '--'] });
    const result = await started.result;
    const text = readText(trace);
    const cwd = base.cwd ?? process.cwd();
    const program = result.events.find((e) => e.kind === 'started') ? programOf(text) : undefined;
    const o = observeStrace(text, program ?? '', cwd);
    for (const exe of [...o.files.exec]) {
      const interp = elfInterpreter(exe);
      if (interp) o.files.read.add(interp);
    }
    if (result.signal) {
      o.complete = false;
      o.notes = [`the workload was killed by ${result.signal}`];
    }
    const { policy, profile } = recordedPolicy(o, base, cwd, basename(profilePathFor(out)), isDir);
    const header = [`recorded by stockade record --via strace: ${base.command.join(' ')}`, `complete: ${o.complete ? 'yes' : 'no'}${o.notes.length ? ` (${o.notes.join('; ')})` : ''}`, `exit: ${result.signal ?? result.exitCode}`];
    writeRecording(out, policy, profile, header);
    if (!o.complete) {
      io.err(`stockade: the recording is incomplete (${o.notes.join('; ')}); wrote what was seen to ${out}`);
      return 1;
    }
    io.err(`stockade: recorded ${[...(o.syscalls.x86_64 ?? [])].length} syscalls; wrote ${out} and ${basename(profilePathFor(out))}`);
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `--via fast`: eBPF counts the syscalls; paths are not observed, so the view stays BASE's. */
async function recordFast(base: Policy, observed: Policy, out: string, io: Io): Promise<number> {
  const host = hostFacts();
  const recorder = await startFastRecorder(host);
  let result;
  try {
    result = await start(observed, { extraCgroupProcs: [recorder.procsFile], host }).result;
  } catch (e) {
    recorder.abort();
    throw e;
  }
  const o = await recorder.finish();
  if (result.signal) {
    o.complete = false;
    o.notes.push(`the workload was killed by ${result.signal}`);
  }
  const cwd = base.cwd ?? process.cwd();
  const { policy, profile } = recordedPolicy(o, base, cwd, basename(profilePathFor(out)), isDir, { pathsObserved: false });
  writeRecording(out, policy, profile, [`recorded by stockade record --via fast: ${base.command.join(' ')}`, `complete: ${o.complete ? 'yes' : 'no'}${o.notes.length ? ` (${o.notes.join('; ')})` : ''}`, 'paths: not observed by the fast recorder; the view is the one the recording ran under (use --via strace to narrow it)', `exit: ${result.signal ?? result.exitCode}`]);
  if (!o.complete) {
    io.err(`stockade: the recording is incomplete (${o.notes.join('; ')}); wrote what was seen to ${out}`);
    return 1;
  }
  io.err(`stockade: recorded ${o.syscalls.x86_64?.size ?? 0} syscalls (fast recorder); wrote ${out} and ${basename(profilePathFor(out))}`);
  return 0;
}

/** The workload's program: the second execve in the trace (the first is the helper's). */
function programOf(trace: string): string | undefined {
  const execs = [...trace.matchAll(/^\d+ +execve\("([^"]+)"/gm)].map((m) => m[1]!);
  return execs[1];
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}


