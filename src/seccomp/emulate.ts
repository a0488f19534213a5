/**
 * A classic-BPF interpreter for seccomp programs: runs a program on a seccomp_data value the way the
 * kernel does and returns the action and the path taken. `checkProgram` applies the kernel's load-time
 * checks (bpf_check_classic + seccomp_check_filter), so a program the emulator accepts is one the
 * kernel accepts.
 */
import { BPF, MAX_INSNS, SECCOMP_DATA, type Insn } from './bpf.js';
import { endianness } from 'node:os';

export interface SeccompData {
  nr: number; // int; negative values allowed
  arch: number; // u32 AUDIT_ARCH_*
  ip?: bigint;
  args?: readonly bigint[]; // up to 6 u64 values; missing are 0
}

export interface EmulationResult {
  /** The 32-bit value the filter returned. */
  action: number;
  /** Indexes of the instructions executed, in order (the last one is the RET). */
  path: number[];
}

const LE = endianness() === 'LE';
const MASK64 = (1n << 64n) - 1n;

/** seccomp_data as the kernel lays it out, in host byte order. */
export function seccompDataBytes(d: SeccompData): Buffer {
  const buf = Buffer.alloc(SECCOMP_DATA.size);
  if (LE) {
    buf.writeInt32LE(d.nr | 0, 0);
    buf.writeUInt32LE(d.arch >>> 0, 4);
    buf.writeBigUInt64LE((d.ip ?? 0n) & MASK64, 8);
    for (let i = 0; i < 6; i++) buf.writeBigUInt64LE((d.args?.[i] ?? 0n) & MASK64, 16 + 8 * i);
  } else {
    buf.writeInt32BE(d.nr | 0, 0);
    buf.writeUInt32BE(d.arch >>> 0, 4);
    buf.writeBigUInt64BE((d.ip ?? 0n) & MASK64, 8);
    for (let i = 0; i < 6; i++) buf.writeBigUInt64BE((d.args?.[i] ?? 0n) & MASK64, 16 + 8 * i);
  }
  return buf;
}

/** Returns why the kernel would refuse this program, or undefined when it would load it. */
export function checkProgram(prog: readonly Insn[]): string | undefined {
  if (prog.length === 0) return 'program is empty';
  if (prog.length > MAX_INSNS) return `program has ${prog.length} instructions; the kernel accepts at most ${MAX_INSNS}`;
  for (let pc = 0; pc < prog.length; pc++) {
    const ins = prog[pc]!;
    const cls = ins.code & 0x07;
    const at = `instruction ${pc}`;
    switch (cls) {
      case BPF.LD:
      case BPF.LDX: {
        const mode = ins.code & 0xe0;
        const size = ins.code & 0x18;
        if (cls === BPF.LD && mode === BPF.ABS) {
          // seccomp allows only 32-bit aligned loads inside seccomp_data.
          if (size !== BPF.W || ins.k & 3 || ins.k >= SECCOMP_DATA.size) return `${at}: load outside seccomp_data or unaligned (k=${ins.k})`;
        } else if (mode === BPF.MEM) {
          if (ins.k >= 16) return `${at}: scratch memory index ${ins.k} out of range`;
        } else if (mode !== BPF.IMM && mode !== BPF.LEN) {
          return `${at}: load mode 0x${mode.toString(16)} is not allowed in seccomp`;
        }
        if ((mode === BPF.IMM || mode === BPF.LEN || mode === BPF.MEM) && size !== BPF.W) return `${at}: bad load size`;
        break;
      }
      case BPF.ST:
      case BPF.STX:
        if (ins.k >= 16) return `${at}: scratch memory index ${ins.k} out of range`;
        break;
      case BPF.ALU: {
        const op = ins.code & 0xf0;
        if (![BPF.ADD, BPF.SUB, BPF.MUL, BPF.DIV, BPF.OR, BPF.AND, BPF.LSH, BPF.RSH, BPF.NEG, BPF.MOD, BPF.XOR].includes(op as never)) {
          return `${at}: unknown ALU operation`;
        }
        if ((op === BPF.DIV || op === BPF.MOD) && (ins.code & BPF.X) === 0 && ins.k === 0) return `${at}: division by constant zero`;
        if ((op === BPF.LSH || op === BPF.RSH) && (ins.code & BPF.X) === 0 && ins.k >= 32) return `${at}: shift by ${ins.k}`;
        break;
      }
      case BPF.JMP: {
        const op = ins.code & 0xf0;
        if (op === BPF.JA) {
          if (ins.k >= prog.length - pc - 1) return `${at}: jump past the end`;
        } else if ([BPF.JEQ, BPF.JGT, BPF.JGE, BPF.JSET].includes(op as never)) {
          if (pc + 1 + Math.max(ins.jt, ins.jf) >= prog.length) return `${at}: jump past the end`;
        } else return `${at}: unknown jump`;
        break;
      }
      case BPF.RET: {
        const src = ins.code & 0x18;
        if (src !== BPF.K && src !== BPF.A) return `${at}: bad return source`;
        break;
      }
      case BPF.MISC:
        if ((ins.code & 0xf8) !== BPF.TAX && (ins.code & 0xf8) !== BPF.TXA) return `${at}: unknown misc operation`;
        break;
    }
  }
  const last = prog[prog.length - 1]!;
  if ((last.code & 0x07) !== BPF.RET && (last.code & 0x07) !== BPF.JMP) return 'program does not end in a return';
  return undefined;
}

/** Runs `prog` on `data`. The program must have passed `checkProgram`. */
export function emulate(prog: readonly Insn[], data: SeccompData): EmulationResult {
  const bytes = seccompDataBytes(data);
  const word = (off: number) => (LE ? bytes.readUInt32LE(off) : bytes.readUInt32BE(off));
  let A = 0;
  let X = 0;
  const M = new Uint32Array(16);
  const path: number[] = [];
  let pc = 0;
  for (;;) {
    const ins = prog[pc];
    if (!ins) throw new Error(`emulate: fell off the program at ${pc}`);
    path.push(pc);
    pc++;
    const k = ins.k >>> 0;
    switch (ins.code & 0x07) {
      case BPF.LD: {
        const mode = ins.code & 0xe0;
        A = mode === BPF.ABS ? word(k) : mode === BPF.IMM ? k : mode === BPF.LEN ? SECCOMP_DATA.size : M[k]!;
        break;
      }
      case BPF.LDX: {
        const mode = ins.code & 0xe0;
        X = mode === BPF.IMM ? k : mode === BPF.LEN ? SECCOMP_DATA.size : M[k]!;
        break;
      }
      case BPF.ST:
        M[k] = A;
        break;
      case BPF.STX:
        M[k] = X;
        break;
      case BPF.ALU: {
        const s = ins.code & BPF.X ? X : k;
        switch (ins.code & 0xf0) {
          case BPF.ADD: A = (A + s) >>> 0; break;
          case BPF.SUB: A = (A - s) >>> 0; break;
          case BPF.MUL: A = Number((BigInt(A) * BigInt(s)) & 0xffffffffn); break;
          case BPF.DIV: if (s === 0) return { action: 0, path }; A = Math.floor(A / s) >>> 0; break;
          case BPF.MOD: if (s === 0) return { action: 0, path }; A = (A % s) >>> 0; break;
          case BPF.OR: A = (A | s) >>> 0; break;
          case BPF.AND: A = (A & s) >>> 0; break;
          case BPF.XOR: A = (A ^ s) >>> 0; break;
          case BPF.LSH: A = s >= 32 ? 0 : (A << s) >>> 0; break;
          case BPF.RSH: A = s >= 32 ? 0 : A >>> s; break;
          case BPF.NEG: A = -A >>> 0; break;
        }
        break;
      }
      case BPF.JMP: {
        const op = ins.code & 0xf0;
        if (op === BPF.JA) {
          pc += k;
          break;
        }
        const s = ins.code & BPF.X ? X : k;
        const taken = op === BPF.JEQ ? A === s : op === BPF.JGT ? A > s : op === BPF.JGE ? A >= s : (A & s) !== 0;
        pc += taken ? ins.jt : ins.jf;
        break;
      }
      case BPF.RET:
        return { action: ((ins.code & 0x18) === BPF.A ? A : k) >>> 0, path };
      case BPF.MISC:
        if ((ins.code & 0xf8) === BPF.TAX) X = A;
        else A = X;
        break;
    }
  }
}
