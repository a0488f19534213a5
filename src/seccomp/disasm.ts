/**
 * A readable listing of a seccomp BPF program: loads name the seccomp_data field, comparisons after
 * a load of the syscall number name the syscall (for the arch checked just before), returns name
 * the action.
 */
import { formatAction } from './actions.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT, type Arch } from './arch.js';
import { BPF, SECCOMP_DATA, type Insn } from './bpf.js';
import { syscallName } from './syscalls.js';
import { endianness } from 'node:os';

const LE = endianness() === 'LE';

function fieldName(k: number): string {
  if (k === SECCOMP_DATA.nr) return 'nr';
  if (k === SECCOMP_DATA.arch) return 'arch';
  if (k === 8 || k === 12) return `ip.${(k === 8) === LE ? 'lo' : 'hi'}`;
  if (k >= SECCOMP_DATA.args && k < SECCOMP_DATA.size) {
    const i = Math.floor((k - SECCOMP_DATA.args) / 8);
    const low = ((k - SECCOMP_DATA.args) % 8 === 0) === LE;
    return `args[${i}].${low ? 'lo' : 'hi'}`;
  }
  return `[${k}]`;
}

function archName(k: number): string | undefined {
  const names: Record<number, string> = { [AUDIT_ARCH.x86_64]: 'AUDIT_ARCH_X86_64', [AUDIT_ARCH.x86]: 'AUDIT_ARCH_I386', [AUDIT_ARCH.aarch64]: 'AUDIT_ARCH_AARCH64' };
  return names[k >>> 0];
}

const hex = (k: number) => `0x${(k >>> 0).toString(16)}`;

interface Facts {
  loaded?: string; // the seccomp_data field A holds
  arch?: Arch; // the arch every path here has checked
}

/** Forward data flow (BPF only jumps forward): what A holds and which arch was checked at each pc. */
function factsAt(prog: readonly Insn[]): Facts[] {
  const facts: Array<Facts | undefined> = new Array(prog.length);
  const merge = (pc: number, f: Facts) => {
    if (pc >= prog.length) return;
    const cur = facts[pc];
    if (!cur) facts[pc] = { ...f };
    else {
      if (cur.loaded !== f.loaded) delete cur.loaded;
      if (cur.arch !== f.arch) delete cur.arch;
    }
  };
  facts[0] = {};
  prog.forEach((ins, pc) => {
    const f = facts[pc] ?? {};
    const cls = ins.code & 0x07;
    if (cls === BPF.LD) merge(pc + 1, { ...f, loaded: (ins.code & 0xe0) === BPF.ABS ? fieldName(ins.k) : undefined });
    else if (cls === BPF.JMP) {
      const op = ins.code & 0xf0;
      if (op === BPF.JA) merge(pc + 1 + ins.k, f);
      else {
        let t = f;
        if (op === BPF.JEQ && f.loaded === 'arch' && !(ins.code & BPF.X)) {
          const a = ins.k === AUDIT_ARCH.x86_64 ? 'x86_64' : ins.k === AUDIT_ARCH.x86 ? 'x86' : ins.k === AUDIT_ARCH.aarch64 ? 'aarch64' : undefined;
          if (a) t = { ...f, arch: a };
        }
        merge(pc + 1 + ins.jt, t);
        merge(pc + 1 + ins.jf, f);
      }
    } else if (cls !== BPF.RET) merge(pc + 1, { arch: f.arch });
  });
  return facts.map((f) => f ?? {});
}

/** One line per instruction: `  12: jge 0x40000000 (x32 range)    jt 13  jf 40`. */
export function disassemble(prog: readonly Insn[]): string[] {
  const facts = factsAt(prog);
  return prog.map((ins, pc) => {
    const { loaded, arch } = facts[pc]!;
    const cls = ins.code & 0x07;
    let text: string;
    if (cls === BPF.LD && (ins.code & 0xe0) === BPF.ABS) {
      text = `ld  ${fieldName(ins.k)}`;
    } else if (cls === BPF.RET) {
      text = (ins.code & 0x18) === BPF.A ? 'ret A' : `ret ${formatAction(ins.k)}`;
    } else if (cls === BPF.JMP) {
      const op = ins.code & 0xf0;
      if (op === BPF.JA) {
        text = `ja  ${pc + 1 + ins.k}`;
      } else {
        const name = { [BPF.JEQ]: 'jeq', [BPF.JGT]: 'jgt', [BPF.JGE]: 'jge', [BPF.JSET]: 'jset' }[op] ?? '???';
        let note = '';
        const k = ins.k >>> 0;
        if (loaded === 'arch') {
          const a = archName(k);
          if (a) note = ` (${a})`;
        } else if (loaded === 'nr' && arch) {
          const table: Arch = arch === 'x86_64' && k >= X32_SYSCALL_BIT ? 'x32' : arch;
          const sc = syscallName(table, k);
          if (sc) note = ` (${sc}${table === 'x32' ? ', x32' : ''})`;
          else if (k === X32_SYSCALL_BIT && arch === 'x86_64') note = ' (x32 range)';
        }
        const src = ins.code & BPF.X ? 'x' : hex(k);
        text = `${name} ${src}${note}`.padEnd(40) + `jt ${pc + 1 + ins.jt}  jf ${pc + 1 + ins.jf}`;
      }
    } else if (cls === BPF.ALU) {
      const op = { [BPF.ADD]: 'add', [BPF.SUB]: 'sub', [BPF.MUL]: 'mul', [BPF.DIV]: 'div', [BPF.OR]: 'or', [BPF.AND]: 'and', [BPF.LSH]: 'lsh', [BPF.RSH]: 'rsh', [BPF.NEG]: 'neg', [BPF.MOD]: 'mod', [BPF.XOR]: 'xor' }[ins.code & 0xf0] ?? '???';
      text = `${op} ${ins.code & BPF.X ? 'x' : hex(ins.k)}`;
    } else if (cls === BPF.LD) {
      const mode = ins.code & 0xe0;
      text = mode === BPF.IMM ? `ld  #${hex(ins.k)}` : mode === BPF.LEN ? 'ld  #len' : mode === BPF.MEM ? `ld  M[${ins.k}]` : `ld? code=${hex(ins.code)}`;
    } else if (cls === BPF.LDX) {
      const mode = ins.code & 0xe0;
      text = mode === BPF.IMM ? `ldx #${hex(ins.k)}` : mode === BPF.LEN ? 'ldx #len' : `ldx M[${ins.k}]`;
    } else if (cls === BPF.ST) text = `st  M[${ins.k}]`;
    else if (cls === BPF.STX) text = `stx M[${ins.k}]`;
    else text = (ins.code & 0xf8) === BPF.TAX ? 'tax' : 'txa';
    return `${String(pc).padStart(4)}: ${text}`;
  });
}
