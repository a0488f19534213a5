/** `stockade record`: run a workload once, watched, and write the smallest policy that runs it. */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { StockadeError } from '../errors.js';
import { hostFacts, start } from '../backends/native/run.js';
import { fastRecorder, fastRecorderUnavailable } from '../record/ebpf.js';
import type { Policy } from '../policy/types.js';
import { which, type HostFacts } from '../host/probe.js';
import type { Observation } from '../record/observation.js';
import { defaultPolicy } from '../policy/defaults.js';
import { applyOverrides } from '../policy/overrides.js';
import { capabilitiesHeader, recordedPolicy } from '../record/generate.js';
import { observeStrace } from '../record/strace.js';
import { mergeRecordings } from '../record/merge.js';
import { loadPolicyFile } from './run.js';
import { one, parseArgs } from './args.js';
import type { Io } from './io.js';

export const RECORD_HELP = `usage:
  stockade record [--policy BASE] [--via fast|strace] [--net MODE] [--read P] [--write P] -o OUT.yaml -- COMMAND [ARG...]
  stockade record --merge A.yaml B.yaml... -o OUT.yaml

Runs COMMAND once in the sandbox BASE describes (the default policy without --policy), with
seccomp observing instead of enforcing, and writes OUT.yaml and OUT.seccomp.json: the syscalls it
made, the paths it read, wrote and executed (collapsed to directories: docs/recording.md), its
network use and the capabilities it used. --merge unions recordings of different runs.

The fast recorder (eBPF; root and a cgroup v2 tree) records by default; where it cannot run,
strace does (a note on stderr says so). --via forces one.`;

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
  const forced = one(p, 'via');
  if (forced !== undefined && forced !== 'strace' && forced !== 'fast') throw new StockadeError('usage', `"${forced}" is not a recorder; use strace or fast`, '--via');
  const strace = which('strace');
  if (forced === 'strace' && !strace) throw new StockadeError('unsupported', 'strace is not installed: apt-get install strace', '--via strace');
  const base = applyOverrides(one(p, 'policy') ? loadPolicyFile(one(p, 'policy')!) : defaultPolicy(),
    { command: p.operands, read: p.flags.get('read'), write: p.flags.get('write'), net: one(p, 'net') }, process.cwd());
  if (base.command.length === 0) throw new StockadeError('usage', 'no command to record: put it after --', 'stockade record');
  // Recording observes syscalls: seccomp does not enforce; every other layer of BASE does.
  const observed = { ...base, syscalls: { ...base.syscalls, profile: 'unconfined' } };
  // The fast recorder unless told otherwise; strace where it cannot run (the same kind of recording).
  if (forced !== 'strace') {
    const host = hostFacts();
    let why = fastRecorderUnavailable(host);
    if (!why) {
      try {
        return await recordFast(base, observed, out, io, host);
      } catch (e) {
        if (!(e instanceof StockadeError && e.code === 'unsupported' && e.where === '--via fast')) throw e;
        why = e.message.replace(/^--via fast: /, '');
      }
    }
    const reason = why.replace(/^the fast recorder (cannot run here|could not attach): /, '');
    if (forced === 'fast') throw new StockadeError('usage', `the fast recorder cannot run here: ${reason}; use --via strace`, '--via fast');
    if (!strace) throw new StockadeError('unsupported', `no recorder can run here: the fast recorder cannot (${reason}) and strace is not installed (apt-get install strace)`, 'stockade record');
    io.err(`stockade: recording with strace: the fast recorder cannot run here (${reason})`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'stockade-record-'));
  const trace = join(tmp, 'trace');
  try {
    const started = start(observed, { helperWrapper: [strace!, '-f', '-qq', '-s', '4096', '-y', '-o', trace, '--'] });
    const result = await started.result;
    const text = readText(trace);
    const cwd = base.cwd ?? process.cwd();
    const program = result.events.find((e) => e.kind === 'started') ? programOf(text) : undefined;
    const o = observeStrace(text, program ?? '', cwd);
    if (result.signal) {
      o.complete = false;
      o.notes = [`the workload was killed by ${result.signal}`];
    }
    return writeRecorded(o, base, cwd, out, io, 'strace', result.signal ?? result.exitCode);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * What the kernel opens during execve without a syscall of the program's: an ELF program's
 * interpreter (PT_INTERP) and a script's #! interpreter (which may itself be an ELF program).
 */
export function addExecHelpers(o: Observation): void {
  const queue = [...o.files.exec];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const exe = queue.shift()!;
    const interp = elfInterpreter(exe);
    if (interp) o.files.read.add(interp);
    const script = scriptInterpreter(exe);
    if (script && !seen.has(script)) {
      seen.add(script);
      o.files.exec.add(script);
      queue.push(script);
    }
  }
}

/** The interpreter a script names on its #! line, or undefined. */
export function scriptInterpreter(path: string): string | undefined {
  let head: string;
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(256);
      head = buf.toString('latin1', 0, readSync(fd, buf, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const m = /^#!\s*(\/\S+)/.exec(head);
  return m ? m[1] : undefined;
}

/** Both recorders end here: the policy, the profile, the header, the summary line. */
function writeRecorded(o: Observation, base: Policy, cwd: string, out: string, io: Io, via: 'strace' | 'fast', exit: string | number | null): number {
  addExecHelpers(o);
  const { policy, profile } = recordedPolicy(o, base, cwd, basename(profilePathFor(out)), isDir);
  writeRecording(out, policy, profile, [
    `recorded by stockade record --via ${via}: ${base.command.join(' ')}`,
    `complete: ${o.complete ? 'yes' : 'no'}${o.notes.length ? ` (${o.notes.join('; ')})` : ''}`,
    capabilitiesHeader(o, base, via),
    `exit: ${exit}`,
  ]);
  if (!o.complete) {
    io.err(`stockade: the recording is incomplete (${o.notes.join('; ')}); wrote what was seen to ${out}`);
    return 1;
  }
  io.err(`stockade: recorded ${o.syscalls.x86_64?.size ?? 0} syscalls (${via === 'fast' ? 'fast recorder' : 'strace'}); wrote ${out} and ${basename(profilePathFor(out))}`);
  return 0;
}

/** The fast recorder (eBPF) watches the run: the same kind of recording, without a ptrace stop per syscall. */
async function recordFast(base: Policy, observed: Policy, out: string, io: Io, host: HostFacts): Promise<number> {
  const cwd = base.cwd ?? process.cwd();
  const recorder = fastRecorder({ cwd });
  const result = await start(observed, { watchers: [recorder], host }).result;
  const o = recorder.observation();
  if (result.signal) {
    o.complete = false;
    o.notes.push(`the workload was killed by ${result.signal}`);
  }
  return writeRecorded(o, base, cwd, out, io, 'fast', result.signal ?? result.exitCode);
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


