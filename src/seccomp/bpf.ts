/** Classic BPF instructions (struct sock_filter) as seccomp uses them: opcodes, encoding, decoding. */
import { endianness } from 'node:os';
import { StockadeError } from '../errors.js';

export interface Insn {
  code: number; // u16
  jt: number; // u8
  jf: number; // u8
  k: number; // u32
}

// Opcode parts (linux/filter.h, linux/bpf_common.h).
export const BPF = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07,
  W: 0x00, H: 0x08, B: 0x10,
  IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0,
  ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0,
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  K: 0x00, X: 0x08, A: 0x10,
  TAX: 0x00, TXA: 0x80,
} as const;

export const OP = {
  LD_ABS: BPF.LD | BPF.W | BPF.ABS,
  JEQ: BPF.JMP | BPF.JEQ | BPF.K,
  JGT: BPF.JMP | BPF.JGT | BPF.K,
  JGE: BPF.JMP | BPF.JGE | BPF.K,
  JSET: BPF.JMP | BPF.JSET | BPF.K,
  JA: BPF.JMP | BPF.JA,
  AND: BPF.ALU | BPF.AND | BPF.K,
  RET: BPF.RET | BPF.K,
} as const;

/** Offsets in struct seccomp_data. */
export const SECCOMP_DATA = { nr: 0, arch: 4, ip: 8, args: 16, size: 64 } as const;

/** The kernel refuses filters longer than this (BPF_MAXINSNS). */
export const MAX_INSNS = 4096;

const LE = endianness() === 'LE';

/** Offset of the low (or high) 32-bit word of argument `index` in seccomp_data on this host. */
export function argWordOffset(index: number, high: boolean): number {
  const base = SECCOMP_DATA.args + 8 * index;
  return high === LE ? base + 4 : base;
}

export function insn(code: number, k: number, jt = 0, jf = 0): Insn {
  return { code, jt, jf, k: k >>> 0 };
}

/** struct sock_filter[] in host byte order: what seccomp(2), bwrap --seccomp and runc take. */
export function encodeProgram(prog: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    const o = i * 8;
    if (LE) buf.writeUInt16LE(ins.code, o);
    else buf.writeUInt16BE(ins.code, o);
    buf.writeUInt8(ins.jt, o + 2);
    buf.writeUInt8(ins.jf, o + 3);
    if (LE) buf.writeUInt32LE(ins.k >>> 0, o + 4);
    else buf.writeUInt32BE(ins.k >>> 0, o + 4);
  });
  return buf;
}

export function decodeProgram(buf: Uint8Array, where: string): Insn[] {
  if (buf.length === 0 || buf.length % 8 !== 0) {
    throw new StockadeError('input', `a BPF program is a whole number of 8-byte instructions; got ${buf.length} bytes`, where);
  }
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Insn[] = [];
  for (let o = 0; o < b.length; o += 8) {
    out.push({
      code: LE ? b.readUInt16LE(o) : b.readUInt16BE(o),
      jt: b.readUInt8(o + 2),
      jf: b.readUInt8(o + 3),
      k: LE ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4),
    });
  }
  return out;
}
