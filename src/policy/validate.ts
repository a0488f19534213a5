/**
 * Turning an untyped document (from YAML, JSON or TOML) into a Policy, with errors that name the
 * file and the path of the bad field (`limits.memory: "12X" is not a size like 512M`).
 */
import { posix } from 'node:path';
import { StockadeError } from '../errors.js';
import { CAPABILITY_NAMES } from './capabilities.js';
import { defaultPolicy } from './defaults.js';
import type { Limits, Policy } from './types.js';

type Doc = Record<string, unknown>;

class Fields {
  constructor(readonly source: string) {}
  fail(path: string, msg: string): never {
    throw new StockadeError('input', msg, `${this.source}: ${path}`);
  }
  obj(v: unknown, path: string, allowed: readonly string[]): Doc {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path || '(top level)', 'must be a mapping');
    for (const k of Object.keys(v as Doc)) {
      if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
    }
    return v as Doc;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(path, 'must be a non-empty string');
    if ((v as string).includes('\0')) this.fail(path, 'must not contain a NUL byte');
    return v as string;
  }
  strs(v: unknown, path: string): string[] {
    if (!Array.isArray(v)) this.fail(path, 'must be a list of strings');
    return (v as unknown[]).map((x, i) => this.str(x, `${path}[${i}]`));
  }
  absPath(v: unknown, path: string): string {
    const s = this.str(v, path);
    if (!s.startsWith('/')) this.fail(path, `"${s}" must be an absolute path`);
    if (s.split('/').includes('..')) this.fail(path, `"${s}" must not contain ".."`);
    return s.length > 1 ? s.replace(/\/+$/, '') : s;
  }
  absPaths(v: unknown, path: string): string[] {
    if (!Array.isArray(v)) this.fail(path, 'must be a list of absolute paths');
    return (v as unknown[]).map((x, i) => this.absPath(x, `${path}[${i}]`));
  }
  oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T)) this.fail(path, `must be one of ${options.join(', ')}`);
    return v as T;
  }
  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `must be an integer from ${min} to ${max}`);
    return v as number;
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** `512M`, `1G`, `1048576` -> bytes. */
export function parseSize(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v) : null;
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) {
    throw new StockadeError('input', `${JSON.stringify(v)} is not a size like 512M, 2G or 1048576`, where);
  }
  return Math.round(Number(m[1]) * unit);
}

/** `30s`, `500ms`, `2m`, `10` (seconds) -> milliseconds. */
export function parseDuration(v: unknown, where: string): number {
  if (typeof v === 'number' && v > 0) return Math.round(v * 1000);
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v) : null;
  const unit = m ? TIME_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) {
    throw new StockadeError('input', `${JSON.stringify(v)} is not a duration like 30s, 500ms or 2m`, where);
  }
  return Math.round(Number(m[1]) * unit);
}

export function parseCapability(name: string, where: string): string {
  const up = name.trim().toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!CAPABILITY_NAMES.includes(full)) throw new StockadeError('input', `unknown capability "${name}"`, where);
  return full;
}

function limits(f: Fields, v: unknown): Limits {
  const o = f.obj(v, 'limits', ['memory', 'pids', 'cpu', 'wallTime', 'cpuTime', 'openFiles', 'fileSize']);
  const out: Limits = {};
  const at = (k: string) => `${f.source}: limits.${k}`;
  if (o.memory !== undefined) out.memory = parseSize(o.memory, at('memory'));
  if (o.pids !== undefined) out.pids = f.int(o.pids, 'limits.pids', 1, 4_194_304);
  if (o.cpu !== undefined) {
    if (typeof o.cpu !== 'number' || !(o.cpu > 0) || o.cpu > 1024) f.fail('limits.cpu', 'must be a number of CPUs greater than 0, like 0.5 or 2');
    out.cpu = o.cpu as number;
  }
  if (o.wallTime !== undefined) out.wallTimeMs = parseDuration(o.wallTime, at('wallTime'));
  if (o.cpuTime !== undefined) out.cpuTimeSec = Math.max(1, Math.ceil(parseDuration(o.cpuTime, at('cpuTime')) / 1000));
  if (o.openFiles !== undefined) out.openFiles = f.int(o.openFiles, 'limits.openFiles', 3, 1 << 30);
  if (o.fileSize !== undefined) out.fileSize = parseSize(o.fileSize, at('fileSize'));
  return out;
}

/** Validates a parsed document and fills in the defaults. */
export function policyFromDocument(doc: unknown, source: string): Policy {
  const f = new Fields(source);
  const p = defaultPolicy();
  p.source = source;
  const o = f.obj(doc ?? {}, '', ['command', 'cwd', 'env', 'user', 'hostname', 'filesystem', 'network', 'ports', 'syscalls', 'capabilities', 'limits', 'landlock', 'enforcement', 'terminal']);
  if (o.command !== undefined) {
    p.command = typeof o.command === 'string' ? [f.str(o.command, 'command')] : f.strs(o.command, 'command');
    if (p.command.length === 0) f.fail('command', 'must name a program');
  }
  if (o.cwd !== undefined) p.cwd = f.absPath(o.cwd, 'cwd');
  if (o.env !== undefined) {
    const e = f.obj(o.env, 'env', ['inherit', 'set']);
    if (e.inherit !== undefined) p.env.inherit = f.strs(e.inherit, 'env.inherit');
    if (e.set !== undefined) {
      const s = f.obj(e.set, 'env.set', Object.keys(e.set as Doc));
      p.env.set = {};
      for (const [k, val] of Object.entries(s)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) f.fail(`env.set.${k}`, 'is not a valid environment variable name');
        if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') f.fail(`env.set.${k}`, 'must be a string');
        p.env.set[k] = String(val);
      }
    }
  }
  if (o.user !== undefined) {
    const u = f.obj(o.user, 'user', ['uid', 'gid']);
    const uid = f.int(u.uid, 'user.uid', 0, 0xfffffffe);
    p.user = { uid, gid: u.gid === undefined ? uid : f.int(u.gid, 'user.gid', 0, 0xfffffffe) };
  }
  if (o.hostname !== undefined) {
    p.hostname = f.str(o.hostname, 'hostname');
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(p.hostname)) f.fail('hostname', 'must be a host name of letters, digits, dots and dashes (at most 63)');
  }
  if (o.filesystem !== undefined) {
    const fs = f.obj(o.filesystem, 'filesystem', ['root', 'read', 'write', 'tmpfs', 'hide']);
    if (fs.root !== undefined) p.filesystem.root = fs.root === 'host' || fs.root === 'empty' ? fs.root : f.absPath(fs.root, 'filesystem.root');
    if (fs.read !== undefined) p.filesystem.read = f.absPaths(fs.read, 'filesystem.read');
    if (fs.write !== undefined) p.filesystem.write = f.absPaths(fs.write, 'filesystem.write');
    if (fs.tmpfs !== undefined) p.filesystem.tmpfs = f.absPaths(fs.tmpfs, 'filesystem.tmpfs');
    if (fs.hide !== undefined) p.filesystem.hide = f.absPaths(fs.hide, 'filesystem.hide');
  }
  if (o.network !== undefined) p.network = f.oneOf(o.network, 'network', ['none', 'loopback', 'host'] as const);
  if (o.ports !== undefined) {
    const ports = f.obj(o.ports, 'ports', ['bind', 'connect']);
    const list = (k: 'bind' | 'connect') => {
      const v = ports[k];
      if (!Array.isArray(v)) f.fail(`ports.${k}`, 'must be a list of TCP port numbers');
      return [...new Set((v as unknown[]).map((x, i) => f.int(x, `ports.${k}[${i}]`, 0, 65535)))].sort((a, b) => a - b);
    };
    p.ports = {};
    if (ports.bind !== undefined) p.ports.bind = list('bind');
    if (ports.connect !== undefined) p.ports.connect = list('connect');
  }
  if (o.syscalls !== undefined) {
    if (typeof o.syscalls === 'string') p.syscalls.profile = f.str(o.syscalls, 'syscalls');
    else {
      const s = f.obj(o.syscalls, 'syscalls', ['profile', 'onViolation']);
      if (s.profile !== undefined) p.syscalls.profile = f.str(s.profile, 'syscalls.profile');
      if (s.onViolation !== undefined) p.syscalls.onViolation = f.oneOf(s.onViolation, 'syscalls.onViolation', ['errno', 'kill', 'log'] as const);
    }
    // A relative profile path is relative to the policy file (recorded policies sit beside theirs).
    const prof = p.syscalls.profile;
    if (!prof.startsWith('/') && !prof.startsWith('stockade:') && prof !== 'unconfined' && source.includes('/')) {
      p.syscalls.profile = posix.join(posix.dirname(source), prof);
    }
  }
  if (o.capabilities !== undefined) {
    p.capabilities = f.strs(o.capabilities, 'capabilities').map((c, i) => parseCapability(c, `${source}: capabilities[${i}]`));
  }
  if (o.limits !== undefined) p.limits = limits(f, o.limits);
  if (o.landlock !== undefined) p.landlock = f.oneOf(o.landlock, 'landlock', ['required', 'best-effort', 'off'] as const);
  if (o.enforcement !== undefined) p.enforcement = f.oneOf(o.enforcement, 'enforcement', ['required', 'best-effort'] as const);
  if (o.terminal !== undefined) {
    if (typeof o.terminal !== 'boolean' && o.terminal !== 'auto') f.fail('terminal', 'must be true, false or auto');
    p.terminal = o.terminal as boolean | 'auto';
  }
  checkConsistency(p, f);
  return p;
}

/** Contradictions between fields: a path both written and hidden, and the like. */
export function checkConsistency(p: Policy, f = new Fields(p.source)): void {
  for (const w of p.filesystem.write) {
    if (p.filesystem.hide.includes(w)) f.fail('filesystem.write', `"${w}" is also in filesystem.hide; a path cannot be both writable and hidden`);
  }
  if (p.ports && p.network === 'none') f.fail('ports', 'network none has no TCP at all: remove ports, or use network: loopback or host');
  if (p.ports && p.landlock === 'off') f.fail('ports', 'TCP port rules are enforced by Landlock: set landlock to required or best-effort');
}
