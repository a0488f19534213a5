/**
 * The fast recorder: native/build/ebpf-recorder (eBPF on tracepoints, filtered by the sandbox's
 * cgroup v2 id; no ptrace stop per syscall). This module starts it around a run and turns its
 * report into an Observation. It sees syscalls and first arguments, not paths.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../errors.js';
import type { HostFacts } from '../host/probe.js';
import { syscallName, syscallNumber } from '../seccomp/syscalls.js';
import { addFirstArg, addSyscall, emptyObservation, NARROW_FIRST_ARG, type Observation } from './observation.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'build', 'ebpf-recorder');
let counter = 0;

export interface FastRecorder {
  /** cgroup.procs of the v2 cgroup the sandbox must join. */
  procsFile: string;
  /** Stops the recorder and returns what it saw. */
  finish(): Promise<Observation>;
  /** Stops without reading (setup failed). */
  abort(): void;
}

interface Report {
  syscalls: number[];
  args: Array<{ nr: number; arg0: number[] }>;
  lost: number;
}

/** `excludeComm`: tasks with this name are not recorded (a strace running inside, for comparison). */
export async function startFastRecorder(host: HostFacts, opts: { excludeComm?: string } = {}): Promise<FastRecorder> {
  if (host.uid !== 0) throw new StockadeError('unsupported', 'the fast recorder loads eBPF programs, which needs root (CAP_BPF and CAP_PERFMON); use --via strace', '--via fast');
  if (!host.cgroup.v2Root) throw new StockadeError('unsupported', 'the fast recorder follows a cgroup v2 id and this host mounts no cgroup v2 tree; use --via strace', '--via fast');
  if (!existsSync(bin)) throw new StockadeError('unsupported', `${bin} is not built; run npm install`, '--via fast');
  const dir = join(host.cgroup.v2Root, `stockade-rec-${process.pid}-${counter++}`);
  mkdirSync(dir);
  const id = statSync(dir).ino;
  const argNrs = NARROW_FIRST_ARG.map((n) => syscallNumber('x86_64', n)!).flatMap((nr) => ['--arg-syscall', String(nr)]);
  const exclude = opts.excludeComm ? ['--exclude-comm', opts.excludeComm] : [];
  const child: ChildProcess = spawn(bin, ['--cgroup-id', String(id), ...argNrs, ...exclude, '--ready-fd', '3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const cleanup = () => {
    try {
      rmdirSync(dir);
    } catch {
      /* a process is still leaving */
    }
  };
  const ready = await new Promise<boolean>((resolve) => {
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(true); });
    void closed.then(() => resolve(false));
  });
  if (!ready) {
    cleanup();
    throw new StockadeError('unsupported', `the fast recorder could not attach: ${err.trim().split('\n')[0] ?? 'no reason given'}`, '--via fast');
  }
  return {
    procsFile: join(dir, 'cgroup.procs'),
    async finish() {
      child.stdin!.end();
      const code = await closed;
      cleanup();
      if (code !== 0) throw new StockadeError('unsupported', `the fast recorder failed: ${err.trim().split('\n')[0]}`, '--via fast');
      const r = JSON.parse(out) as Report;
      const o = emptyObservation();
      for (const nr of r.syscalls) {
        const name = syscallName('x86_64', nr);
        if (name) addSyscall(o, 'x86_64', name);
        else o.notes.push(`syscall ${nr} has no x86_64 name`);
      }
      for (const a of r.args) {
        const name = syscallName('x86_64', a.nr);
        if (name && o.syscalls.x86_64?.has(name)) for (const v of a.arg0) addFirstArg(o, name, BigInt(v));
      }
      if (r.lost > 0) {
        o.complete = false;
        o.notes.push(`the recorder's maps overflowed ${r.lost} times`);
      }
      return o;
    },
    abort() {
      child.kill('SIGKILL');
      cleanup();
    },
  };
}
