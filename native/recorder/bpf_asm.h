/*
 * bpf_asm.h: a tiny eBPF assembler for ebpf_recorder.c: instruction macros, and labels that are
 * patched into jump offsets at the end. Included by ebpf_recorder.h after its need() (which aborts
 * with a message) and its MAX_INSNS / MAX_LABELS.
 */
#ifndef STOCKADE_BPF_ASM_H
#define STOCKADE_BPF_ASM_H

#include <stdint.h>
#include <linux/bpf.h>

/* ---- a tiny assembler: instruction macros plus labels patched at the end ---- */
#define INSN(c, d, s, o, i) \
  ((struct bpf_insn){ .code = (uint8_t)(c), .dst_reg = (uint8_t)((d) & 0xf), .src_reg = (uint8_t)((s) & 0xf), .off = (int16_t)(o), .imm = (int32_t)(i) })
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0) /* zero-extends: low 32 bits */
#define ALU_IMM(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU_REG(op, d, s) INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o) INSN(BPF_LDX | (sz) | BPF_MEM, d, s, o, 0)
#define STX(sz, d, s, o) INSN(BPF_STX | (sz) | BPF_MEM, d, s, o, 0)
#define ST(sz, d, o, i) INSN(BPF_ST | (sz) | BPF_MEM, d, 0, o, i)
#define XADD64(d, s, o) INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD)
#define JIMM(op, d, i) INSN(BPF_JMP | (op) | BPF_K, d, 0, 0, i) /* target given to jmp() */
#define JREG(op, d, s) INSN(BPF_JMP | (op) | BPF_X, d, s, 0, 0)
#define JA() INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_##f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

struct prog {
  struct bpf_insn in[MAX_INSNS];
  int n, nlab, nfix, lab[MAX_LABELS];
  struct { int at, lab; } fix[MAX_LABELS];
};

static void emit(struct prog *p, struct bpf_insn i) {
  need(p->n < MAX_INSNS, "internal error: program too long");
  p->in[p->n++] = i;
}
static int newlab(struct prog *p) {
  need(p->nlab < MAX_LABELS, "internal error: too many labels");
  p->lab[p->nlab] = -1;
  return p->nlab++;
}
static void here(struct prog *p, int l) { p->lab[l] = p->n; }
static void jmp(struct prog *p, struct bpf_insn i, int l) {
  need(p->nfix < MAX_LABELS, "internal error: too many jumps");
  p->fix[p->nfix].at = p->n;
  p->fix[p->nfix++].lab = l;
  emit(p, i);
}
static void resolve(struct prog *p) {
  for (int i = 0; i < p->nfix; i++) {
    need(p->lab[p->fix[i].lab] >= 0, "internal error: jump to an unplaced label");
    p->in[p->fix[i].at].off = (int16_t)(p->lab[p->fix[i].lab] - p->fix[i].at - 1);
  }
}
/* Two-slot 64-bit immediate; src = BPF_PSEUDO_MAP_FD turns the value into a map reference. */
static void ld64(struct prog *p, int reg, uint64_t v, int src) {
  emit(p, INSN(BPF_LD | BPF_DW | BPF_IMM, reg, src, 0, (int32_t)(uint32_t)v));
  emit(p, INSN(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32)));
}

#endif
