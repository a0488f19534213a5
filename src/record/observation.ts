/** What a recording saw: syscalls, argument values, files, network use. Recorders fill it. */
import type { Arch } from '../seccomp/arch.js';

export interface Endpoint {
  family: 'inet' | 'inet6';
  address: string;
  port: number;
}

export interface Observation {
  /** Syscall names per arch (x86 when a 32-bit program ran). */
  syscalls: Partial<Record<Arch, Set<string>>>;
  /** Distinct first-argument values of the syscalls recorded narrowly (socket families, personality). */
  firstArgs: Map<string, Set<bigint>>;
  /** `stat`: looked at but not opened (stat, access, readlink): a directory on the way to a file needs no grant. */
  files: { read: Set<string>; write: Set<string>; exec: Set<string>; stat: Set<string> };
  /** `bound`: local addresses getsockname reported (the ports bind(0) got). */
  network: { families: Set<number>; connect: Endpoint[]; bind: Endpoint[]; bound: Endpoint[] };
  /**
   * Capability numbers the workload was checked for, by outcome (the kernel's cap_capable
   * tracepoint); undefined when the recorder cannot see them (strace, kernels before 6.14).
   */
  capabilities?: { granted: Set<number>; denied: Set<number> };
  /** False when the run did not finish normally: the policy may miss what the rest would have done. */
  complete: boolean;
  notes: string[];
}

/** Syscalls whose first argument is recorded and turned into conditions. */
export const NARROW_FIRST_ARG: readonly string[] = ['socket', 'socketpair', 'personality'];

export function emptyObservation(): Observation {
  return {
    syscalls: {},
    firstArgs: new Map(),
    files: { read: new Set(), write: new Set(), exec: new Set(), stat: new Set() },
    network: { families: new Set(), connect: [], bind: [], bound: [] },
    complete: true,
    notes: [],
  };
}

export function addSyscall(o: Observation, arch: Arch, name: string): void {
  (o.syscalls[arch] ??= new Set()).add(name);
}

export function addFirstArg(o: Observation, name: string, value: bigint): void {
  let s = o.firstArgs.get(name);
  if (!s) o.firstArgs.set(name, (s = new Set()));
  s.add(value);
}
