/**
 * Seccomp verdicts from the kernel log. A filter loaded with SECCOMP_FILTER_FLAG_LOG makes the
 * kernel log each denial (and each SECCOMP_RET_LOG "would deny") as an audit record, type 1326,
 * readable from /dev/kmsg by root. This module reads the records a run produced and attributes
 * them to the sandbox: by pid namespace for processes still alive, by pid for the workload.
 * The kernel rate-limits these messages: a workload that makes thousands of denied calls a second
 * loses some (the summary says how many were seen, not that it is every one).
 */
import { closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { actionKind } from '../../seccomp/actions.js';
import { syscallName } from '../../seccomp/syscalls.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT, type Arch } from '../../seccomp/arch.js';

export interface SeccompRecord {
  /** The audit login id of the process (stockade tags each reporting run with its own). */
  auid: number;
  pid: number;
  syscall: number;
  name: string | undefined;
  arch: number;
  /** The 32-bit SECCOMP_RET_* value the filter returned. */
  code: number;
  comm: string;
  exe: string;
}

function parse(line: string): SeccompRecord | undefined {
  if (!line.includes('type=1326')) return undefined;
  const field = (k: string) => new RegExp(`\\b${k}=("([^"]*)"|\\S+)`).exec(line);
  const num = (k: string, radix = 10) => {
    const m = field(k);
    return m ? parseInt(m[1]!.replace(/^0x/, ''), m[1]!.startsWith('0x') ? 16 : radix) : NaN;
  };
  const pid = num('pid');
  const syscall = num('syscall');
  const arch = num('arch', 16);
  const code = num('code', 16);
  if ([pid, syscall, arch, code].some(Number.isNaN)) return undefined;
  const a: Arch | undefined = arch === AUDIT_ARCH.x86 ? 'x86' : arch === AUDIT_ARCH.aarch64 ? 'aarch64' : arch === AUDIT_ARCH.x86_64 ? (syscall >= X32_SYSCALL_BIT ? 'x32' : 'x86_64') : undefined;
  return {
    auid: num('auid'), pid, syscall, arch, code: code >>> 0,
    name: a ? syscallName(a, syscall) : undefined,
    comm: field('comm')?.[2] ?? field('comm')?.[1] ?? '',
    exe: field('exe')?.[2] ?? field('exe')?.[1] ?? '',
  };
}

export function describeRecord(r: SeccompRecord): string {
  // The audit record carries the action, not its data (the errno): name the action only.
  return `${r.name ?? `syscall ${r.syscall}`} (${r.syscall}) by ${r.comm || '?'}: ${actionKind(r.code) ?? `0x${r.code.toString(16)}`}`;
}

/** A position in /dev/kmsg: records after it belong to the runs started after it. */
export class KernelLog {
  private constructor(private readonly fd: number) {}

  /** Opens /dev/kmsg at its end; undefined when it cannot be read (not root). */
  static open(): KernelLog | undefined {
    let fd: number;
    try {
      fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    const log = new KernelLog(fd);
    log.read(); // skip what is already there
    return log;
  }

  /** Every record since the last read (each read() of /dev/kmsg returns one record). */
  read(): string[] {
    const out: string[] = [];
    const buf = Buffer.alloc(8192);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records were overwritten while we read: go on
        break; // EAGAIN: no more records
      }
      if (n <= 0) break;
      out.push(buf.toString('utf8', 0, n));
    }
    return out;
  }

  /** The seccomp records of processes tagged with audit login id `auid`. */
  recordsOf(auid: number): SeccompRecord[] {
    return this.read().map((l) => parse(l.slice(l.indexOf(';') + 1))).filter((r): r is SeccompRecord => r !== undefined && r.auid === auid);
  }

  /** The seccomp records of the sandbox whose workload has pid `workload` (pid namespace `pidns`). */
  seccompRecords(workload: number | undefined, pidns: number | undefined): SeccompRecord[] {
    const mine = (pid: number) => {
      if (pid === workload) return true;
      if (pidns === undefined) return false;
      try {
        return statSync(`/proc/${pid}/ns/pid`).ino === pidns;
      } catch {
        return false;
      }
    };
    return this.read().map((l) => parse(l.slice(l.indexOf(';') + 1))).filter((r): r is SeccompRecord => r !== undefined && mine(r.pid));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * A wrapper that gives the helper, and so every process of the sandbox, its own audit login id:
 * the kernel stamps it on each seccomp record, which attributes records to this run exactly, even
 * for processes that have exited. Needs CAP_AUDIT_CONTROL and a login id not yet made immutable.
 */
export function auditTagWrapper(auid: number): string[] {
  return ['/bin/sh', '-c', `echo ${auid} > /proc/self/loginuid && exec "$@"`, 'stockade-audit-tag'];
}

/** A fresh audit login id for one run (outside the range real logins use). */
export function freshAuditId(): number {
  return 3_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
}

/** The pid namespace inode of a live process, to recognise its siblings later. */
export function pidNamespaceOf(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/pid`).ino;
  } catch {
    return undefined;
  }
}
