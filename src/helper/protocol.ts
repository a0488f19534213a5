/**
 * The wire protocol between stockade and its C helper (native/helper): the binary encoding of a Plan
 * (read by the helper on descriptor 3) and the status lines it writes on descriptor 4.
 * docs/protocol.md is the reference; test/helper-protocol.test.ts holds the vectors both sides share.
 *
 *   header  "STKP" | u16 version=1 | u16 flags (1 = verbose, 2 = detached, 4 = workloadIsInit) | u32 total length | u64 wallTimeoutMs | u32 op count
 *   op      u16 code | u16 0 | u32 body length | body
 *
 * Little-endian; strings are u32 length + UTF-8 bytes (no NUL); lists are u32 count + items. The encoder
 * refuses what the wire cannot carry (a NUL in a string, an integer out of range); limits (op count,
 * list lengths, total size) and the order of ops are checked by the helper, which refuses the whole
 * plan with a `plan` error before it does anything.
 */
import { StockadeError } from '../errors.js';
import { RLIMITS, type HelperStatus, type Plan, type PlanOp } from './plan.js';

export const PLAN_MAGIC = 'STKP';
export const PROTOCOL_VERSION = 1;
export const PLAN_HEADER_SIZE = 24;
/** Limits the helper enforces (docs/protocol.md). */
export const PLAN_LIMITS = { bytes: 16 << 20, ops: 4096, list: 65536, string: 1 << 20, path: 4095, bpfInsns: 4096 } as const;

/**
 * Op codes on the wire. 1..23 follow the order of PHASES; 24.. were appended later (the helper takes
 * each op's phase from a table, not from its code).
 */
export const OPCODES: Readonly<Record<PlanOp['op'], number>> = {
  namespaces: 1, idmap: 2, rootTmpfs: 3, rootBind: 4, bind: 5, tmpfs: 6, proc: 7, dev: 8, mkdir: 9, symlink: 10,
  hide: 11, readOnly: 12, pivotRoot: 13, hostname: 14, rlimit: 15, cgroup: 16, user: 17, capabilities: 18,
  setsid: 19, noNewPrivs: 20, landlock: 21, seccomp: 22, exec: 23,
  startGate: 24, consoleSocket: 25, oomScoreAdj: 26, joinNamespace: 27, rootfs: 28, mount: 29, sysctl: 30,
  capabilitySets: 31, seccompListener: 32, execLabel: 33,
};

/** Header flag bits. */
export const PLAN_FLAGS = { verbose: 1, detached: 2, workloadIsInit: 4 } as const;

/** The helper's own exit statuses; anything else is the workload's (128 + N for signal N). */
export const HELPER_EXIT = { setup: 125, execFailed: 126, notFound: 127 } as const;

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

class Writer {
  private readonly parts: Buffer[] = [];
  length = 0;

  constructor(private readonly where: string) {}

  raw(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  u8(v: number): void {
    this.raw(Buffer.from([v]));
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.raw(b);
  }

  /** A signed 32-bit integer in two's complement. */
  i32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new StockadeError('input', `${what} must be an integer from -2^31 to 2^31-1; got ${v}`, this.where);
    }
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.raw(b);
  }

  u32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
      throw new StockadeError('input', `${what} must be an integer from 0 to ${U32_MAX}; got ${v}`, this.where);
    }
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.raw(b);
  }

  u64(v: bigint | number, what: string): void {
    const big = typeof v === 'number' ? (Number.isSafeInteger(v) ? BigInt(v) : -1n) : v;
    if (big < 0n || big > U64_MAX) {
      throw new StockadeError('input', `${what} must be an integer from 0 to 2^64-1; got ${v}`, this.where);
    }
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(big);
    this.raw(b);
  }

  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  bytes(b: Buffer, what: string): void {
    this.u32(b.length, `${what} length`);
    this.raw(b);
  }

  str(s: string, what: string): void {
    if (s.includes('\0')) throw new StockadeError('input', `${what} contains a NUL character, which the kernel cannot take`, this.where);
    this.bytes(Buffer.from(s, 'utf8'), what);
  }

  strs(list: readonly string[], what: string): void {
    this.u32(list.length, `${what} count`);
    list.forEach((s, i) => this.str(s, `${what}[${i}]`));
  }

  concat(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

const NS_BITS = { user: 1, pid: 2, mount: 4, net: 8, uts: 16, ipc: 32, cgroup: 64 } as const;
const MOUNT_KINDS = { dir: 0, file: 1 } as const;
/** The execLabel op's LSM on the wire. */
export const LSM_CODES = { apparmor: 1, selinux: 2 } as const;

function encodeBody(op: PlanOp, w: Writer): void {
  switch (op.op) {
    case 'namespaces': {
      let bits = 0;
      for (const [name, bit] of Object.entries(NS_BITS)) if (op.ns[name as keyof typeof NS_BITS]) bits |= bit;
      w.u32(bits, 'namespaces');
      return;
    }
    case 'idmap':
      w.u32(op.uidInside, 'uidInside');
      w.u32(op.uidOutside, 'uidOutside');
      w.u32(op.uidCount, 'uidCount');
      w.u32(op.gidInside, 'gidInside');
      w.u32(op.gidOutside, 'gidOutside');
      w.u32(op.gidCount, 'gidCount');
      return;
    case 'rootTmpfs':
    case 'pivotRoot':
    case 'noNewPrivs':
      return;
    case 'rootBind':
      w.str(op.source, 'source');
      return;
    case 'bind':
      w.str(op.source, 'source');
      w.str(op.target, 'target');
      w.u32((op.readOnly ? 1 : 0) | (op.optional ? 2 : 0) | (op.idmapRoot ? 4 : 0), 'bind flags');
      return;
    case 'tmpfs':
      w.str(op.target, 'target');
      w.u64(op.sizeBytes, 'sizeBytes');
      w.u32(op.mode, 'mode');
      return;
    case 'proc':
    case 'dev':
    case 'hide':
    case 'readOnly':
      w.str(op.target, 'target');
      return;
    case 'mkdir':
      w.str(op.target, 'target');
      w.u32(op.mode, 'mode');
      return;
    case 'symlink':
      w.str(op.target, 'target');
      w.str(op.linkPath, 'linkPath');
      return;
    case 'hostname':
      w.str(op.name, 'name');
      return;
    case 'rlimit': {
      const nr = (RLIMITS as Record<string, number>)[op.resource];
      if (nr === undefined) throw new StockadeError('input', `unknown rlimit "${op.resource}"; known: ${Object.keys(RLIMITS).join(', ')}`);
      w.u32(nr, 'resource');
      w.u64(op.soft, 'soft');
      w.u64(op.hard, 'hard');
      return;
    }
    case 'cgroup':
      w.strs(op.procsFiles, 'procsFiles');
      return;
    case 'user':
      w.u32(op.uid, 'uid');
      w.u32(op.gid, 'gid');
      w.u32(op.groups.length, 'groups count');
      op.groups.forEach((g, i) => w.u32(g, `groups[${i}]`));
      return;
    case 'capabilities': {
      let mask = 0n;
      for (const cap of op.keep) {
        if (!Number.isInteger(cap) || cap < 0 || cap > 63) throw new StockadeError('input', `capability ${cap} is not a number from 0 to 63`);
        mask |= 1n << BigInt(cap);
      }
      w.u64(mask, 'keep');
      return;
    }
    case 'setsid':
      w.bool(op.terminal);
      return;
    case 'landlock': {
      const r = op.ruleset;
      w.u32(r.abi, 'abi');
      w.bool(r.required);
      w.u64(r.handledFs, 'handledFs');
      w.u64(r.handledNet, 'handledNet');
      w.u64(r.scoped, 'scoped');
      w.u32(r.paths.length, 'paths count');
      r.paths.forEach((p, i) => {
        w.str(p.path, `paths[${i}].path`);
        w.u64(p.access, `paths[${i}].access`);
        w.bool(p.optional);
      });
      w.u32(r.ports.length, 'ports count');
      r.ports.forEach((p, i) => {
        w.u32(p.port, `ports[${i}].port`);
        w.u64(p.access, `ports[${i}].access`);
      });
      return;
    }
    case 'seccomp':
      w.u32(op.flags, 'flags');
      w.bool(op.log);
      w.bytes(op.program, 'program');
      return;
    case 'exec':
      w.str(op.path, 'path');
      w.strs(op.argv, 'argv');
      w.strs(op.env, 'env');
      w.str(op.cwd, 'cwd');
      return;
    case 'startGate':
      w.str(op.fifo, 'fifo');
      return;
    case 'consoleSocket':
      w.str(op.path, 'path');
      return;
    case 'oomScoreAdj':
      if (!Number.isInteger(op.value) || op.value < -1000 || op.value > 1000) {
        throw new StockadeError('input', `oomScoreAdj must be an integer from -1000 to 1000; got ${op.value}`);
      }
      w.i32(op.value, 'value');
      return;
    case 'joinNamespace': {
      const bit = (NS_BITS as Record<string, number>)[op.type];
      if (bit === undefined || (op.type as string) === 'user') {
        throw new StockadeError('input', `cannot join a namespace of type "${op.type}"; joinable: net, ipc, uts, pid, mount, cgroup`);
      }
      w.u32(bit, 'type');
      w.str(op.path, 'path');
      return;
    }
    case 'rootfs':
      w.str(op.source, 'source');
      w.bool(op.readOnly);
      return;
    case 'mount': {
      const kind = (MOUNT_KINDS as Record<string, number>)[op.kind];
      if (kind === undefined) throw new StockadeError('input', `mount kind must be "dir" or "file"; got "${op.kind}"`);
      w.str(op.source, 'source');
      w.str(op.target, 'target');
      w.str(op.fstype, 'fstype');
      w.u64(op.flags, 'flags');
      w.u64(op.propagation, 'propagation');
      w.str(op.data, 'data');
      w.u8(kind);
      return;
    }
    case 'sysctl':
      w.str(op.key, 'key');
      w.str(op.value, 'value');
      return;
    case 'seccompListener':
      w.str(op.path, 'path');
      w.str(op.metadata, 'metadata');
      w.str(op.state, 'state');
      return;
    case 'execLabel': {
      const lsm = (LSM_CODES as Record<string, number>)[op.lsm];
      if (lsm === undefined) throw new StockadeError('input', `execLabel lsm must be "apparmor" or "selinux"; got "${op.lsm}"`);
      w.u32(lsm, 'lsm');
      w.str(op.label, 'label');
      return;
    }
    case 'capabilitySets':
      w.u64(op.bounding, 'bounding');
      w.u64(op.effective, 'effective');
      w.u64(op.permitted, 'permitted');
      w.u64(op.inheritable, 'inheritable');
      w.u64(op.ambient, 'ambient');
      return;
  }
}

/** The plan as the helper reads it on descriptor 3. */
export function encodePlan(plan: Plan): Buffer {
  const ops = plan.ops.map((op, i) => {
    const code = OPCODES[op.op];
    if (code === undefined) throw new StockadeError('input', `unknown op "${(op as { op: string }).op}"`, `plan.ops[${i}]`);
    const body = new Writer(`plan.ops[${i}] (${op.op})`);
    encodeBody(op, body);
    const head = new Writer(`plan.ops[${i}]`);
    head.u16(code);
    head.u16(0);
    head.u32(body.length, 'op length');
    return Buffer.concat([head.concat(), body.concat()]);
  });
  const header = new Writer('plan');
  const total = PLAN_HEADER_SIZE + ops.reduce((n, b) => n + b.length, 0);
  header.raw(Buffer.from(PLAN_MAGIC, 'latin1'));
  header.u16(plan.version);
  header.u16((plan.verbose ? PLAN_FLAGS.verbose : 0) | (plan.detached ? PLAN_FLAGS.detached : 0) | (plan.workloadIsInit ? PLAN_FLAGS.workloadIsInit : 0));
  header.u32(total, 'plan length');
  header.u64(plan.wallTimeoutMs, 'wallTimeoutMs');
  header.u32(ops.length, 'op count');
  return Buffer.concat([header.concat(), ...ops], total);
}

// ---------------------------------------------------------------------------------------------
// Status lines

function bad(line: string, why: string): StockadeError {
  const shown = line.length > 200 ? `${line.slice(0, 200)}...` : line;
  return new StockadeError('internal', `the helper wrote a status line that is not a HelperStatus (${why}): ${shown}`, 'helper status');
}

/** One line of the helper's status stream (without its newline). */
export function parseStatusLine(line: string): HelperStatus {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad(line, 'not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(line, 'not an object');
  const o = v as Record<string, unknown>;
  const int = (k: string): number => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(line, `"${k}" is not an integer`);
    return x;
  };
  const str = (k: string): string => {
    const x = o[k];
    if (typeof x !== 'string') throw bad(line, `"${k}" is not a string`);
    return x;
  };
  switch (o.kind) {
    case 'step':
      if (o.ok !== true) throw bad(line, '"ok" is not true');
      return { kind: 'step', step: str('step'), ok: true };
    case 'error':
      return { kind: 'error', step: str('step'), errno: int('errno'), detail: str('detail') };
    case 'warning':
      return { kind: 'warning', step: str('step'), detail: str('detail') };
    case 'created':
      return { kind: 'created', pid: int('pid'), initPid: int('initPid') };
    case 'started':
      return { kind: 'started', pid: int('pid') };
    case 'exited':
      return { kind: 'exited', code: int('code') };
    case 'signaled':
      return { kind: 'signaled', signal: int('signal') };
    case 'timeout':
      return { kind: 'timeout', afterMs: int('afterMs') };
    default:
      throw bad(line, `unknown kind ${JSON.stringify(o.kind)}`);
  }
}
