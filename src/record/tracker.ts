/**
 * The fast recorder's records (native/recorder/ebpf_recorder.c, --events-fd) -> what the workload
 * did with files and addresses. Paths reach us as the workload wrote them; relative ones are
 * resolved here the way the kernel does, against the calling process's working directory or the
 * directory descriptor an *at call names. So this follows, per process, its working directory
 * (chdir, fchdir, inherited at fork) and which path each descriptor was opened as (open, dup,
 * fcntl F_DUPFD, close, inherited at fork; threads share both).
 */
import { posix } from 'node:path';
import { syscallName } from '../seccomp/syscalls.js';
import type { Endpoint, Observation } from './observation.js';
import { ADDRESS_SYSCALLS, effectiveClass, PATH_SYSCALLS, type PathClass } from './syscall-paths.js';

/** Record header layout (ebpf_recorder.c). */
export const HDR = 120;
const MAX_RECORD = HDR + 2 * 4096;
const REC_SYSCALL = 1;
const REC_EXEC = 2;
const REC_FORK = 3;
const AT_FDCWD = -100;
const EINPROGRESS = 115;

export interface RawRecord {
  kind: number;
  tid: number;
  tgid: number;
  nr: number;
  ret: number;
  /** The arguments' low and high 32 bits (every use here needs the low half, or whether one is 0). */
  args: number[];
  argsHi: number[];
  /** The low 32 bits of aux (open flags). */
  aux: number;
  /** CLOCK_MONOTONIC nanoseconds (a double: exact to well beyond a year of uptime). */
  time: number;
  comm: string;
  data0: Buffer;
  data1: Buffer;
}

/** Splits a byte stream into records; keeps a partial one for the next chunk. */
export class RecordStream {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, each: (r: RawRecord) => void): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 4) {
      const size = buf.readUInt32LE(at);
      if (size < HDR || size > MAX_RECORD) throw new Error(`the recorder's stream is corrupt (a record of ${size} bytes)`);
      if (buf.length - at < size) break;
      each(decode(buf.subarray(at, at + size)));
      at += size;
    }
    buf = buf.subarray(at);
    this.pending = Buffer.from(buf);
  }

  /** Bytes left over at the end: a truncated stream. */
  get leftover(): number {
    return this.pending.length;
  }
}

function cstring(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

function decode(b: Buffer): RawRecord {
  const len0 = b.readUInt32LE(96);
  const len1 = b.readUInt32LE(100);
  return {
    kind: b.readUInt32LE(4),
    tid: b.readUInt32LE(8),
    tgid: b.readUInt32LE(12),
    nr: b.readInt32LE(16),
    ret: b.readInt32LE(28) * 2 ** 32 + b.readUInt32LE(24),
    args: [b.readUInt32LE(32), b.readUInt32LE(40), b.readUInt32LE(48), b.readUInt32LE(56), b.readUInt32LE(64), b.readUInt32LE(72)],
    argsHi: [b.readUInt32LE(36), b.readUInt32LE(44), b.readUInt32LE(52), b.readUInt32LE(60), b.readUInt32LE(68), b.readUInt32LE(76)],
    aux: b.readUInt32LE(80),
    time: b.readUInt32LE(92) * 2 ** 32 + b.readUInt32LE(88),
    comm: cstring(b.subarray(104, 120)),
    data0: b.subarray(HDR, HDR + len0),
    data1: b.subarray(HDR + len0, HDR + len0 + len1),
  };
}


/** An IPv6 address as inet_ntop writes it (RFC 5952; IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6Text(b: Buffer): string {
  const words = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => b.readUInt16BE(i * 2));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** An AF_INET or AF_INET6 socket address, or undefined (AF_UNIX and the rest). */
export function sockaddr(b: Buffer): Endpoint | undefined {
  if (b.length < 16) return undefined;
  const family = b.readUInt16LE(0);
  if (family === 2) return { family: 'inet', port: b.readUInt16BE(2), address: `${b[4]}.${b[5]}.${b[6]}.${b[7]}` };
  if (family === 10 && b.length >= 24) return { family: 'inet6', port: b.readUInt16BE(2), address: ipv6Text(b.subarray(8, 24)) };
  return undefined;
}

/** A call that failed with EPERM, ENOENT, EACCES or EROFS (watch mode). */
export interface Failure {
  syscall: string;
  errno: number;
  cls?: PathClass;
  /** Open flags (open, openat, openat2). */
  flags?: number;
  /** The resolved path, when the call names one. */
  path?: string;
  /** The address, for connect and bind. */
  endpoint?: Endpoint;
  /** The host pid of the process (its tgid) and of the thread. */
  pid: number;
  tid: number;
  /** What the process last exec'd, or its comm. */
  program: string;
  /** CLOCK_MONOTONIC nanoseconds. */
  time: number;
}

interface Proc {
  cwd: string | undefined;
  fds: Map<number, string>;
  exe?: string;
}

export class Tracker {
  private readonly procs = new Map<number, Proc>();
  readonly failures: Failure[] = [];
  /** Paths the recorder could not copy, or resolve (a descriptor opened before the workload). */
  unread = 0;
  unresolved = 0;
  records = 0;

  /** `cwd`: the workload's starting directory; `o`: where what it did goes (files, network). */
  constructor(private readonly cwd: string, private readonly o: Observation) {}

  private proc(tgid: number): Proc {
    let p = this.procs.get(tgid);
    if (!p) this.procs.set(tgid, (p = { cwd: this.cwd, fds: new Map() }));
    return p;
  }

  /** Resolved paths by (base, name): workloads name the same few paths over and over. */
  private readonly memo = new Map<string, string>();

  private resolve(p: Proc, s: string, dirfd: number | undefined): string | undefined {
    if (s === '') return undefined; // AT_EMPTY_PATH: the descriptor itself
    const base = s.startsWith('/') ? '' : dirfd === undefined || dirfd === AT_FDCWD ? p.cwd : p.fds.get(dirfd);
    if (base === undefined) {
      this.unresolved++;
      return undefined;
    }
    const key = `${base}\0${s}`;
    let out = this.memo.get(key);
    if (out === undefined) {
      out = base === '' ? posix.normalize(s) : posix.normalize(posix.join(base, s));
      if (this.memo.size >= 65536) this.memo.clear();
      this.memo.set(key, out);
    }
    return out;
  }

  add(r: RawRecord): void {
    this.records++;
    if (r.kind === REC_FORK) {
      // A copy of the parent's view; for a thread the copy is never used (its records carry the tgid).
      const parent = this.proc(r.tgid);
      this.procs.set(r.tid, { cwd: parent.cwd, fds: new Map(parent.fds), ...(parent.exe ? { exe: parent.exe } : {}) });
      return;
    }
    const p = this.proc(r.tgid);
    if (r.kind === REC_EXEC) {
      // The name as execve got it; execveat of a descriptor shows as /dev/fd/N[/name].
      let name = cstring(r.data0);
      const viaFd = /^\/dev\/fd\/(\d+)(\/.*)?$/.exec(name);
      if (viaFd) {
        const base = p.fds.get(Number(viaFd[1]));
        name = base ? base + (viaFd[2] ?? '') : '';
        if (!base) this.unresolved++;
      }
      const path = name ? this.resolve(p, name, undefined) : undefined;
      if (path) {
        this.o.files.exec.add(path);
        p.exe = path;
      }
      return;
    }
    if (r.kind !== REC_SYSCALL) return;
    const name = syscallName('x86_64', r.nr);
    if (!name) return;
    const ok = r.ret >= 0 || (name === 'connect' && r.ret === -EINPROGRESS);
    const spec = PATH_SYSCALLS[name];
    if (spec) {
      const strs = [r.data0, r.data1];
      const paths = spec.paths.map((a, i) => {
        if (r.args[a.arg] === 0 && r.argsHi[a.arg] === 0) return undefined; // a NULL path (utimensat on a descriptor)
        if (strs[i]!.length === 0) {
          this.unread++;
          return undefined;
        }
        return this.resolve(p, cstring(strs[i]!), a.dirfd === undefined ? undefined : r.args[a.dirfd]! | 0);
      });
      const flags = spec.flags !== undefined ? r.args[spec.flags]! : spec.flagsAt !== undefined ? r.aux : undefined;
      if (!ok) {
        this.fail(r, p, name, { cls: spec.cls, ...(flags !== undefined ? { flags } : {}), ...(paths[0] ? { path: paths[0] } : {}) });
        return;
      }
      const cls = effectiveClass(spec.cls, flags);
      for (const path of paths) {
        if (!path) continue;
        (cls === 'write' ? this.o.files.write : cls === 'exec' ? this.o.files.exec : cls === 'stat' ? this.o.files.stat : this.o.files.read).add(path);
      }
      if (spec.cls === 'open' && paths[0]) p.fds.set(r.ret, paths[0]);
      if (name === 'chdir' && paths[0]) p.cwd = paths[0];
      return;
    }
    if (ADDRESS_SYSCALLS.includes(name)) {
      const e = sockaddr(r.data0);
      if (!ok) {
        this.fail(r, p, name, e ? { endpoint: e } : {});
        return;
      }
      if (!e) return;
      (name === 'connect' ? this.o.network.connect : name === 'bind' ? this.o.network.bind : this.o.network.bound).push(e);
      return;
    }
    if (!ok) return;
    const a = (i: number) => r.args[i]! | 0;
    const copy = (from: number, to: number) => {
      const path = p.fds.get(from);
      if (path === undefined) p.fds.delete(to);
      else p.fds.set(to, path);
    };
    switch (name) {
      case 'close':
        p.fds.delete(a(0));
        break;
      case 'close_range': {
        if ((r.args[2]! & 4) !== 0) break; // CLOSE_RANGE_CLOEXEC: closed only at the next exec
        const first = r.args[0]!;
        const last = r.args[1]!;
        for (const fd of [...p.fds.keys()]) if (fd >= first && fd <= last) p.fds.delete(fd);
        break;
      }
      case 'dup':
        copy(a(0), r.ret);
        break;
      case 'dup2':
      case 'dup3':
        copy(a(0), a(1));
        break;
      case 'fcntl':
        if (a(1) === 0 || a(1) === 1030) copy(a(0), r.ret); // F_DUPFD, F_DUPFD_CLOEXEC
        break;
      case 'fchdir':
        p.cwd = p.fds.get(a(0));
        break;
    }
  }

  private fail(r: RawRecord, p: Proc, syscall: string, what: Partial<Failure>): void {
    this.failures.push({ syscall, errno: -r.ret, pid: r.tgid, tid: r.tid, program: p.exe ?? r.comm, time: r.time, ...what });
  }
}
