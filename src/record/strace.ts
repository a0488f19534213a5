/**
 * Reading strace's output (`strace -f -qq -s 4096 -y`, the helper traced from outside) into an
 * Observation. Only the workload counts: the process that execs the command, from that execve on,
 * and its descendants; the helper's own setup never appears.
 */
import { posix } from 'node:path';
import { addFirstArg, addSyscall, emptyObservation, type Observation } from './observation.js';
import { NARROW_FIRST_ARG } from './observation.js';
import { PATH_SYSCALLS } from './syscall-paths.js';
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

/** One strace string literal ("..." with C escapes) -> its text; undefined when `arg` is not one. */
function unquote(arg: string): string | undefined {
  const m = /^"((?:[^"\\]|\\.)*)"/.exec(arg.trim());
  if (!m) return undefined;
  const bytes: number[] = [];
  const body = m[1]!;
  const simple: Record<string, number> = { n: 10, t: 9, v: 11, f: 12, r: 13, a: 7, b: 8, '"': 34, '\\': 92, "'": 39, '?': 63 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const n = body[++i] ?? '';
    const oct = /^[0-7]{1,3}/.exec(body.slice(i));
    const hex = /^x([0-9a-fA-F]{1,2})/.exec(body.slice(i));
    if (oct) {
      bytes.push(parseInt(oct[0], 8) & 0xff);
      i += oct[0].length - 1;
    } else if (hex) {
      bytes.push(parseInt(hex[1]!, 16));
      i += hex[0].length - 1;
    } else bytes.push(simple[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** An argument list as strace prints it, split into its top-level arguments (up to the closing paren). */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === '"') {
      for (i++; i < args.length && args[i] !== '"'; i++) if (args[i] === '\\') i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ')') {
      if (depth === 0) {
        out.push(args.slice(start, i).trim());
        return out;
      }
      depth--;
    } else if (c === ',' && depth === 0) {
      out.push(args.slice(start, i).trim());
      start = i + 1;
    } else if (c === '<' && depth === 0) {
      // -y decorations (3</usr/lib>) may hold any character: skip to the closing '>'.
      const end = args.indexOf('>', i);
      if (end > 0) i = end;
    }
  }
  out.push(args.slice(start).trim());
  return out;
}

/**
 * The path a directory-descriptor argument stands for: -y prints `3</usr/lib>`, and AT_FDCWD with
 * the working directory (`AT_FDCWD</srv/job>`); undefined for a bare AT_FDCWD (the caller's working
 * directory as tracked), null for a descriptor strace could not name.
 */
function dirfdPath(arg: string | undefined): string | null | undefined {
  if (arg === undefined) return undefined;
  const m = /^(?:AT_FDCWD|-?\d+)<([^>]*)>/.exec(arg);
  if (m) return m[1]!;
  return /^AT_FDCWD\b/.test(arg) ? undefined : null;
}

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
  const start = lines.findIndex((l) => l.name === 'execve' && unquote(splitArgs(l.args)[0] ?? '') === program && l.ret === '0');
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
    const argv = splitArgs(l.args);
    const resolve = (p: string | undefined, dirfd: number | undefined) => {
      if (p === undefined || p === '') return undefined;
      if (p.startsWith('/')) return posix.normalize(p);
      const d = dirfd === undefined ? undefined : dirfdPath(argv[dirfd]);
      if (d === null) return undefined;
      return posix.normalize(posix.join(d ?? cwdOf(l.pid), p));
    };
    const spec = PATH_SYSCALLS[l.name];
    if (spec) {
      const paths = spec.paths.map((a) => resolve(unquote(argv[a.arg] ?? ''), a.dirfd));
      const flagsText = spec.flags !== undefined ? argv[spec.flags] : spec.flagsAt !== undefined ? /flags=([^,}]*)/.exec(argv[spec.flagsAt] ?? '')?.[1] : undefined;
      const writes = flagsText !== undefined && /\b(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND)\b/.test(flagsText);
      const cls = spec.cls === 'open' ? (writes ? 'write' : 'read') : spec.cls;
      for (const p of paths) if (p) (cls === 'write' ? o.files.write : cls === 'exec' ? o.files.exec : cls === 'stat' ? o.files.stat : o.files.read).add(p);
      if (l.name === 'chdir' && paths[0]) cwds.set(l.pid, paths[0]);
    } else if (l.name === 'fchdir') {
      const d = dirfdPath(argv[0]);
      if (d) cwds.set(l.pid, d);
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
