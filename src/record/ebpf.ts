/**
 * The fast recorder: native/build/ebpf-recorder (eBPF on tracepoints, filtered by the sandbox's
 * cgroup v2 id; no ptrace stop per syscall). This module starts it around a run, follows its
 * stream of records (tracker.ts) and turns its report into an Observation: syscalls and first
 * arguments, paths read, written, executed and looked at, addresses connected to and bound,
 * capabilities checked. In `watch` mode (enforcing runs) it collects the calls that failed with
 * EPERM, ENOENT, EACCES or EROFS instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../errors.js';
import type { Plan } from '../helper/plan.js';
import type { HostFacts } from '../host/probe.js';
import { syscallName, syscallNumber } from '../seccomp/syscalls.js';
import type { SandboxEvent } from '../backends/native/events.js';
import { sandboxCgroupV2, type RunWatcher } from '../backends/native/watch.js';
import { addFirstArg, addSyscall, emptyObservation, NARROW_FIRST_ARG, type Observation } from './observation.js';
import { ADDRESS_SYSCALLS, FD_SYSCALLS, PATH_SYSCALLS, recorderConfig } from './syscall-paths.js';
import { RecordStream, Tracker, type Failure } from './tracker.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'build', 'ebpf-recorder');

export interface FastRecorder extends RunWatcher {
  /** After finish(): what the workload did. */
  observation(): Observation;
  /** After finish() in watch mode: the calls that failed with EPERM, ENOENT, EACCES or EROFS. */
  failures(): Failure[];
}

export interface FastRecorderOptions {
  /** `record` (default): what succeeded; `watch`: what failed, for naming what a run blocked. */
  mode?: 'record' | 'watch';
  /** The workload's starting directory (relative paths resolve against it). */
  cwd: string;
  /** Tasks with this name are not recorded (a strace running inside, for comparison). */
  excludeComm?: string;
}

interface Report {
  syscalls: number[];
  args: Array<{ nr: number; arg0: number[] }>;
  caps: { granted: number[]; denied: number[] } | null;
  lost: number;
  events_lost: number;
}

/** Whether `path` is a 32-bit ELF program (its syscalls would be i386 ones, in other registers). */
function elf32(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = Buffer.alloc(5);
      return readSync(fd, b, 0, 5, 0) === 5 && b.readUInt32BE(0) === 0x7f454c46 && b[4] === 1;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Why the fast recorder cannot run on this host, from what can be known without loading it. */
export function fastRecorderUnavailable(host: HostFacts): string | undefined {
  if (host.uid !== 0) return 'it loads eBPF programs, which needs root (CAP_BPF and CAP_PERFMON)';
  if (!host.cgroup.v2Root) return 'it follows a cgroup v2 id and this host mounts no cgroup v2 tree';
  if (process.arch !== 'x64') return `it reads x86_64 syscall numbers and this is ${process.arch}`;
  if (!existsSync(bin)) return `${bin} is not built (run npm install)`;
  return undefined;
}

function configArgs(mode: 'record' | 'watch'): string[] {
  const out: string[] = [];
  for (const name of [...Object.keys(PATH_SYSCALLS), ...FD_SYSCALLS, ...ADDRESS_SYSCALLS]) {
    const nr = syscallNumber('x86_64', name);
    const cfg = recorderConfig(name, mode);
    if (nr !== undefined && cfg !== 0) out.push('--syscall', `${nr}:${cfg}`);
  }
  return out;
}

/** A recorder for one run: pass it to start() in `watchers`; it attaches before the helper starts. */
export function fastRecorder(opts: FastRecorderOptions): FastRecorder {
  const mode = opts.mode ?? 'record';
  const o = emptyObservation();
  const tracker = new Tracker(opts.cwd, o);
  const stream = new RecordStream();
  let child: ChildProcess | undefined;
  let closed: Promise<number | null> | undefined;
  let cgroup: { id: string; remove(): void } | undefined;
  let out = '';
  let err = '';
  let streamError: Error | undefined;
  let done = false;
  const cleanup = () => cgroup?.remove();
  return {
    async attach(plan: Plan, host: HostFacts) {
      const why = fastRecorderUnavailable(host);
      if (why) throw new StockadeError('unsupported', `the fast recorder cannot run here: ${why}`, '--via fast');
      cgroup = sandboxCgroupV2(plan, host);
      const id = cgroup.id;
      const argNrs = NARROW_FIRST_ARG.map((n) => syscallNumber('x86_64', n)!).flatMap((nr) => ['--arg-syscall', String(nr)]);
      const exclude = opts.excludeComm ? ['--exclude-comm', opts.excludeComm] : [];
      const args = ['--cgroup-id', id, ...argNrs, ...exclude, '--caps', '--events-fd', '4', ...configArgs(mode), '--ready-fd', '3'];
      const c = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      (c.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
        if (streamError) return;
        try {
          stream.push(d, (r) => tracker.add(r));
        } catch (e) {
          streamError = e as Error;
        }
      });
      closed = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
      const ready = await new Promise<boolean>((resolve) => {
        (c.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(true); });
        void closed!.then(() => resolve(false));
      });
      if (!ready) {
        cleanup();
        throw new StockadeError('unsupported', `the fast recorder could not attach: ${err.trim().split('\n')[0] || 'no reason given'}`, '--via fast');
      }
    },
    async finish(): Promise<SandboxEvent[]> {
      if (done || !child) return [];
      done = true;
      child.stdin!.end();
      const code = await closed;
      cleanup();
      if (code !== 0) throw new StockadeError('internal', `the fast recorder failed: ${err.trim().split('\n')[0] ?? `exit ${code}`}`, '--via fast');
      if (streamError) throw new StockadeError('internal', streamError.message, '--via fast');
      const r = JSON.parse(out) as Report;
      for (const nr of r.syscalls) {
        const name = syscallName('x86_64', nr);
        if (name) addSyscall(o, 'x86_64', name);
        else o.notes.push(`syscall ${nr} has no x86_64 name`);
      }
      for (const a of r.args) {
        const name = syscallName('x86_64', a.nr);
        if (!name || !o.syscalls.x86_64?.has(name)) continue;
        for (const v of a.arg0) {
          addFirstArg(o, name, BigInt(v));
          if (name !== 'personality') o.network.families.add(v);
        }
      }
      if (r.caps) o.capabilities = { granted: new Set(r.caps.granted), denied: new Set(r.caps.denied) };
      const lost: string[] = [];
      if (r.lost > 0) lost.push(`the recorder's maps overflowed ${r.lost} times`);
      if (r.events_lost > 0) lost.push(`${r.events_lost} records did not reach user space (ring buffer full)`);
      if (stream.leftover > 0) lost.push('the record stream ended mid-record');
      if (tracker.unread > 0) lost.push(`${tracker.unread} paths could not be read from the workload's memory`);
      if (tracker.unresolved > 0) lost.push(`${tracker.unresolved} relative paths named a descriptor opened before the workload started`);
      // The programs read x86_64 syscall numbers and argument registers: a 32-bit program's are others.
      const bits32 = [...o.files.exec].filter(elf32);
      if (bits32.length > 0) lost.push(`${bits32.join(', ')} ${bits32.length > 1 ? 'are 32-bit programs' : 'is a 32-bit program'}, whose syscalls the fast recorder cannot read (record with --via strace)`);
      if (lost.length > 0) {
        o.complete = false;
        o.notes.push(...lost);
      }
      return [];
    },
    abort() {
      if (done) return;
      done = true;
      child?.kill('SIGKILL');
      cleanup();
    },
    observation: () => o,
    failures: () => tracker.failures,
  };
}
