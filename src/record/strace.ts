/**
 * Reading strace's output (`strace -f -qq -s 4096 -y`, the helper traced from outside) into an
 * Observation. Only the workload counts: the process that execs the command, from that execve on,
 * and its descendants; the helper's own setup never appears.
 */
import { posix } from 'node:path';
import { addFirstArg, addSyscall, emptyObservation, type Observation } from './observation.js';
import { NARROW_FIRST_ARG } from './observation.js';
import type { Arch } from '../seccomp/arch.js';

interface Line {
  pid: number;
  name: string;
  args: string;
  ret: string | undefined;
}

// strace pads the pid to a common width ("5129  execve(" beside "12345 execve("): allow any spacing.
const CALL = /^(\d+) +([a-z_][a-z_0-9]*)\((.*)$/;
const RESUMED = /^(\d+) +<\.\.\. ([a-z_][a-z_0-9]*) resumed>(.*)$/;
const RET = /\)\s+= (-?\d+|0x[0-9a-f]+|\?)(?: ([A-Z0-9]+))?.*$/;

function parseLines(text: string): { lines: Line[]; bits32: Set<number> } {
  const lines: Line[] = [];
  const pending = new Map<number, { name: string; args: string }>();
  const bits32 = new Set<number>();
  for (const raw of text.split('\n')) {
    const m32 = /^\[ Process PID=(\d+) runs in 32 bit mode\. \]/.exec(raw) ?? /^(\d+) +\[ Process PID=\d+ runs in 32 bit mode\. \]/.exec(raw);
    if (m32) {
      bits32.add(Number(m32[1]));
      continue;
    }
    const r = RESUMED.exec(raw);
    if (r) {
      const pid = Number(r[1]);
      const start = pending.get(pid);
      pending.delete(pid);
      const rest = r[3]!;
      const ret = RET.exec(rest)?.[1];
      lines.push({ pid, name: r[2]!, args: (start?.args ?? '') + rest, ret });
      continue;
    }
    const c = CALL.exec(raw);
    if (!c) continue; // signals, exits, attach messages
    const pid = Number(c[1]);
    if (c[3]!.endsWith('<unfinished ...>')) {
      pending.set(pid, { name: c[2]!, args: c[3]!.replace(/\s*<unfinished \.\.\.>$/, '') });
      continue;
    }
    lines.push({ pid, name: c[2]!, args: c[3]!, ret: RET.exec(c[3]!)?.[1] });
  }
  return { lines, bits32 };
}

/** The quoted strings of an argument list, in order, unescaped enough for paths. */
function strings(args: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(args))) out.push(m[1]!.replace(/\\(["\\])/g, '$1'));
  return out;
}

/** A directory descriptor argument printed by -y: `3</usr/lib>`, or AT_FDCWD. */
function dirfd(args: string): string | undefined {
  const m = /^\s*(?:AT_FDCWD|-?\d+<([^>]*)>)/.exec(args);
  return m?.[1];
}

const STATS = new Set(['stat', 'lstat', 'newfstatat', 'statx', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'statfs']);
const READS = new Set(['getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'chdir', 'getxattrat', 'listxattrat']);
const WRITES = new Set(['mkdir', 'mkdirat', 'unlink', 'unlinkat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmodat', 'fchmodat2', 'chown', 'lchown', 'fchownat', 'truncate', 'utimensat', 'utime', 'utimes', 'mknod', 'mknodat', 'creat', 'setxattr', 'lsetxattr', 'removexattr', 'lremovexattr', 'setxattrat', 'removexattrat']);
const AT_CALLS = /at2?$|^statx$|^openat2?$/;

function familyNumber(s: string): number | undefined {
  const names: Record<string, number> = { AF_UNIX: 1, AF_LOCAL: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };
  const m = /^\s*(AF_[A-Z0-9]+|\d+)/.exec(s);
  if (!m) return undefined;
  return names[m[1]!] ?? (/^\d+$/.test(m[1]!) ? Number(m[1]) : undefined);
}

function endpoint(args: string): { family: 'inet' | 'inet6'; address: string; port: number } | undefined {
  const v4 = /sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)/.exec(args);
  if (v4) return { family: 'inet', address: v4[2]!, port: Number(v4[1]) };
  const v6 = /sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*inet_pton\(AF_INET6, "([^"]+)"/.exec(args);
  if (v6) return { family: 'inet6', address: v6[2]!, port: Number(v6[1]) };
  return undefined;
}

/** Parses a trace; `program` is the workload's resolved path, `cwd` its starting directory. */
export function observeStrace(text: string, program: string, cwd: string): Observation {
  const o = emptyObservation();
  const { lines, bits32 } = parseLines(text);
  const start = lines.findIndex((l) => l.name === 'execve' && strings(l.args)[0] === program && l.ret === '0');
  if (start < 0) {
    o.complete = false;
    o.notes.push(`the trace never shows ${program} starting`);
    return o;
  }
  const root = lines[start]!.pid;
  // The helper's processes (monitor, init) all run before the workload's execve; every process that
  // appears only afterwards descends from the workload. (fork/clone return values cannot link them:
  // inside the sandbox they are pid-namespace numbers, while strace prints host pids.)
  const helper = new Set(lines.slice(0, start).map((l) => l.pid).filter((pid) => pid !== root));
  const cwds = new Map<number, string>([[root, cwd]]);
  const cwdOf = (pid: number) => cwds.get(pid) ?? cwds.get(root) ?? cwd;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i]!;
    if (helper.has(l.pid)) continue;
    const arch: Arch = bits32.has(l.pid) ? 'x86' : 'x86_64';
    addSyscall(o, arch, l.name);
    // A non-blocking connect answers EINPROGRESS and still connects: it counts as made.
    const ok = (l.ret !== undefined && l.ret !== '?' && !l.ret.startsWith('-')) || (l.name === 'connect' && / EINPROGRESS /.test(l.args));
    if (NARROW_FIRST_ARG.includes(l.name)) {
      const fam = l.name === 'personality' ? /^\s*(0x[0-9a-f]+|\d+)/.exec(l.args)?.[1] : String(familyNumber(l.args) ?? '');
      if (fam) addFirstArg(o, l.name, BigInt(fam));
      if (l.name !== 'personality' && fam) o.network.families.add(Number(fam));
    }
    if (!ok) continue;
    const strs = strings(l.args);
    const resolve = (p: string | undefined) => {
      if (p === undefined || p === '') return undefined;
      if (p.startsWith('/')) return posix.normalize(p);
      const base = AT_CALLS.test(l.name) ? dirfd(l.args) ?? cwdOf(l.pid) : cwdOf(l.pid);
      return posix.normalize(posix.join(base, p));
    };
    if (l.name === 'execve' || l.name === 'execveat') {
      const p = resolve(strs[0]);
      if (p) o.files.exec.add(p);
    } else if (l.name === 'open' || l.name === 'openat' || l.name === 'openat2' || l.name === 'creat') {
      const p = resolve(strs[0]);
      if (!p) continue;
      const writes = l.name === 'creat' || /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(l.args);
      (writes ? o.files.write : o.files.read).add(p);
    } else if (STATS.has(l.name)) {
      const p = resolve(strs[0]);
      if (p) o.files.stat.add(p);
    } else if (READS.has(l.name)) {
      const p = resolve(strs[0]);
      if (p) o.files.read.add(p);
      if (l.name === 'chdir' && p) cwds.set(l.pid, p);
    } else if (WRITES.has(l.name)) {
      for (const s of strs.slice(0, 2)) {
        const p = resolve(s);
        if (p) o.files.write.add(p);
      }
    } else if (l.name === 'connect' || l.name === 'bind') {
      const e = endpoint(l.args);
      if (e) (l.name === 'connect' ? o.network.connect : o.network.bind).push(e);
    } else if (l.name === 'getsockname') {
      const e = endpoint(l.args);
      if (e) o.network.bound.push(e);
    }
  }
  // A workload killed by a signal, or whose trace ends mid-call, did not finish what it would do.
  if (/\+\+\+ killed by SIG/.test(text.split('\n').filter((x) => new RegExp(`^${root} +`).test(x)).join('\n'))) {
    o.complete = false;
    o.notes.push('the workload was killed by a signal before it finished');
  }
  return o;
}
