/*
 * recorder_prog_syscall.c (ebpf-recorder): the programs on raw_syscalls: sys_enter (the `seen`,
 * `argvals` and `pending` maps) and sys_exit (the SYSCALL record).
 */
#include "ebpf_recorder.h"

enum { PT_R10 = 56, PT_ORIG_AX = 120, REGS_BLOCK = 64 }; /* regs+56 .. regs+120: r10 r9 r8 ax cx dx si di */
static const int arg_at[6] = { 56, 48, 40, 0, 16, 8 }; /* di si dx r10 r8 r9, from regs+56 */

/* C: raw_syscalls/sys_enter. */
struct prog *build_sys_enter(int events, const long *arg_nrs, int n_arg_nrs) {
  static struct prog pc;
  int out = newlab(&pc);
  int mark_done = newlab(&pc), argpath = newlab(&pc), save = newlab(&pc);
  emit(&pc, MOV_REG(R6, R1));
  emit(&pc, CALL(get_current_pid_tgid));
  emit(&pc, MOV_REG(R7, R0));
  if_untracked(&pc, out);
  if_excluded(&pc, out);
  emit(&pc, LDX(BPF_DW, R8, R6, 8)); /* id */
  jmp(&pc, JIMM(BPF_JGE, R8, NR_SLOTS), out); /* unsigned: also drops -1 and x32 numbers */
  emit(&pc, STX(BPF_W, FP, R8, S_KEY));
  lookup(&pc, map_seen, S_KEY);
  jmp(&pc, JIMM(BPF_JEQ, R0, 0), mark_done);
  emit(&pc, LDX(BPF_W, R1, R0, 0));
  jmp(&pc, JIMM(BPF_JNE, R1, 0), mark_done); /* read first: keep the cache line shared */
  emit(&pc, ST(BPF_W, R0, 0, 1));
  here(&pc, mark_done);
  /* The argument registers into S_REGS (only for the syscalls whose arguments matter). */
  int noregs = newlab(&pc), noregs_used = 0;
#define READ_REGS(p) do { \
    emit(p, LDX(BPF_DW, R3, R6, 0)); \
    emit(p, ALU_IMM(BPF_ADD, R3, PT_R10)); \
    emit(p, MOV_REG(R1, FP)); \
    emit(p, ALU_IMM(BPF_ADD, R1, S_REGS)); \
    emit(p, MOV_IMM(R2, REGS_BLOCK)); \
    emit(p, CALL(probe_read_kernel)); \
    jmp(p, JIMM(BPF_JNE, R0, 0), noregs); \
    noregs_used = 1; \
  } while (0)
  if (n_arg_nrs > 0) { /* (without any, the argvals code would be unreachable: the verifier rejects that) */
    for (int i = 0; i < n_arg_nrs; i++) jmp(&pc, JIMM(BPF_JEQ, R8, (int32_t)arg_nrs[i]), argpath);
    jmp(&pc, JA(), save);
    here(&pc, argpath);
    READ_REGS(&pc);
    emit(&pc, LDX(BPF_DW, R1, FP, S_REGS + arg_at[0])); /* args[0] */
    emit(&pc, ALU_IMM(BPF_LSH, R1, 32));
    emit(&pc, ALU_IMM(BPF_RSH, R1, 32));
    emit(&pc, MOV_REG(R2, R8));
    emit(&pc, ALU_IMM(BPF_LSH, R2, 32));
    emit(&pc, ALU_REG(BPF_OR, R1, R2));
    emit(&pc, STX(BPF_DW, FP, R1, S_ARGKEY));
    map_call(&pc, BPF_FUNC_map_update_elem, map_argvals, S_ARGKEY);
    jmp(&pc, JIMM(BPF_JEQ, R0, 0), save);
    jmp(&pc, JIMM(BPF_JEQ, R0, -EEXIST), save);
    count(&pc, STAT_LOST);
  }
  here(&pc, save);
  if (events) { /* SAVE syscalls: pending[tid] = {nr, args} (in place when the task has an entry) */
    int insert = newlab(&pc);
    emit(&pc, STX(BPF_W, FP, R8, S_KEY));
    lookup(&pc, map_interest, S_KEY);
    jmp(&pc, JIMM(BPF_JEQ, R0, 0), out);
    emit(&pc, LDX(BPF_W, R1, R0, 0));
    emit(&pc, ALU_IMM(BPF_AND, R1, C_SAVE));
    jmp(&pc, JIMM(BPF_JEQ, R1, 0), out);
    READ_REGS(&pc);
    emit(&pc, STX(BPF_W, FP, R7, S_KEY)); /* tid */
    lookup(&pc, map_pending, S_KEY);
    jmp(&pc, JIMM(BPF_JEQ, R0, 0), insert);
    emit(&pc, STX(BPF_DW, R0, R8, 0));
    for (int i = 0; i < 6; i++) {
      emit(&pc, LDX(BPF_DW, R1, FP, S_REGS + arg_at[i]));
      emit(&pc, STX(BPF_DW, R0, R1, 8 + 8 * i));
    }
    jmp(&pc, JA(), out);
    here(&pc, insert);
    emit(&pc, STX(BPF_DW, FP, R8, S_PEND));
    for (int i = 0; i < 6; i++) {
      emit(&pc, LDX(BPF_DW, R1, FP, S_REGS + arg_at[i]));
      emit(&pc, STX(BPF_DW, FP, R1, S_PEND + 8 + 8 * i));
    }
    emit(&pc, ST(BPF_DW, FP, S_PEND + 56, 0));
    emit(&pc, ST(BPF_DW, FP, S_PEND + 64, 0));
    map_call_val(&pc, BPF_FUNC_map_update_elem, map_pending, S_KEY, S_PEND, BPF_ANY);
    jmp(&pc, JIMM(BPF_JEQ, R0, 0), out);
    count(&pc, STAT_EVENTS_LOST);
  }
  if (noregs_used) { /* a task's own registers unreadable: never seen, but never silent either */
    jmp(&pc, JA(), out);
    here(&pc, noregs);
    count(&pc, STAT_LOST);
  }
#undef READ_REGS
  finish(&pc, out);
  return &pc;
}

/* When CONFIG (r9) has `bit`: reads the user memory behind the argument whose index is the 3 bits
 * at `shift` into the record at r6, at `off` (plus register `plus`, unless -1), `size` bytes at most,
 * with `helper` (r0 = its result); else jumps to `skip`. */
static void read_user_arg(struct prog *p, unsigned bit, int shift, int plus, int off, int size, int helper, int skip) {
  emit(p, MOV_REG(R1, R9));
  emit(p, ALU_IMM(BPF_AND, R1, bit));
  jmp(p, JIMM(BPF_JEQ, R1, 0), skip);
  arg_of(p, R6, shift);
  emit(p, MOV_REG(R1, R6));
  if (plus >= 0) emit(p, ALU_REG(BPF_ADD, R1, plus));
  emit(p, ALU_IMM(BPF_ADD, R1, off));
  emit(p, MOV_IMM(R2, size));
  emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper));
}

/* E: raw_syscalls/sys_exit: the SYSCALL record. Registers: r6 ctx then the record, r7 pid_tgid
 * then the pending entry then len0, r8 nr then len1, r9 CONFIG. */
struct prog *build_sys_exit(void) {
  static struct prog pe;
  int out = newlab(&pe);
  int failed = newlab(&pe), other = newlab(&pe), keep = newlab(&pe), nop0 = newlab(&pe), nop1 = newlab(&pe), nosock = newlab(&pe), noderef = newlab(&pe), noregs_e = newlab(&pe);
  emit(&pe, MOV_REG(R6, R1));
  emit(&pe, LDX(BPF_DW, R3, R6, 0)); /* regs->orig_ax: the syscall number */
  emit(&pe, ALU_IMM(BPF_ADD, R3, PT_ORIG_AX));
  emit(&pe, MOV_REG(R1, FP));
  emit(&pe, ALU_IMM(BPF_ADD, R1, S_RET));
  emit(&pe, MOV_IMM(R2, 8));
  emit(&pe, CALL(probe_read_kernel));
  jmp(&pe, JIMM(BPF_JNE, R0, 0), noregs_e);
  emit(&pe, LDX(BPF_DW, R8, FP, S_RET));
  jmp(&pe, JIMM(BPF_JGE, R8, NR_SLOTS), out); /* cheapest tests first: most syscalls stop here */
  emit(&pe, STX(BPF_W, FP, R8, S_KEY));
  lookup(&pe, map_interest, S_KEY);
  jmp(&pe, JIMM(BPF_JEQ, R0, 0), out);
  emit(&pe, LDX(BPF_W, R9, R0, 0));
  jmp(&pe, JIMM(BPF_JEQ, R9, 0), out);
  emit(&pe, CALL(get_current_pid_tgid));
  emit(&pe, MOV_REG(R7, R0));
  if_untracked(&pe, out);
  if_excluded(&pe, out);
  emit(&pe, STX(BPF_DW, FP, R7, S_PID));
  emit(&pe, LDX(BPF_DW, R1, R6, 8)); /* ret */
  emit(&pe, STX(BPF_DW, FP, R1, S_RET));
  /* Which outcomes CONFIG wants. */
  jmp(&pe, JIMM(BPF_JSLT, R1, 0), failed);
  emit(&pe, MOV_REG(R2, R9));
  emit(&pe, ALU_IMM(BPF_AND, R2, C_OK));
  jmp(&pe, JIMM(BPF_JEQ, R2, 0), out);
  jmp(&pe, JA(), keep);
  here(&pe, failed);
  jmp(&pe, JIMM(BPF_JNE, R1, -EINPROGRESS), other); /* a non-blocking connect is made */
  emit(&pe, MOV_REG(R2, R9));
  emit(&pe, ALU_IMM(BPF_AND, R2, C_OK));
  jmp(&pe, JIMM(BPF_JNE, R2, 0), keep);
  here(&pe, other);
  emit(&pe, MOV_REG(R2, R9));
  emit(&pe, ALU_IMM(BPF_AND, R2, C_ERR));
  jmp(&pe, JIMM(BPF_JEQ, R2, 0), out);
  jmp(&pe, JIMM(BPF_JEQ, R1, -EPERM), keep);
  jmp(&pe, JIMM(BPF_JEQ, R1, -ENOENT), keep);
  jmp(&pe, JIMM(BPF_JEQ, R1, -EACCES), keep);
  jmp(&pe, JIMM(BPF_JEQ, R1, -EROFS), keep);
  jmp(&pe, JA(), out);
  here(&pe, keep);
  /* The arguments the task entered this syscall with (a call seccomp or a ptracer skipped has
   * no entry, or a spent one: nr is cleared once used). */
  emit(&pe, STX(BPF_W, FP, R7, S_KEY));
  lookup(&pe, map_pending, S_KEY);
  jmp(&pe, JIMM(BPF_JEQ, R0, 0), out);
  emit(&pe, MOV_REG(R7, R0));
  emit(&pe, LDX(BPF_DW, R1, R7, 0));
  jmp(&pe, JREG(BPF_JNE, R1, R8), out);
  emit(&pe, ST(BPF_DW, R7, 0, -1));
  lookup_imm(&pe, map_scratch, 0, out);
  emit(&pe, MOV_REG(R6, R0));
  record_common(&pe, R6, REC_SYSCALL);
  emit(&pe, LDX(BPF_DW, R1, FP, S_PID));
  emit(&pe, STX(BPF_W, R6, R1, H_TID));
  emit(&pe, ALU_IMM(BPF_RSH, R1, 32));
  emit(&pe, STX(BPF_W, R6, R1, H_TGID));
  emit(&pe, STX(BPF_DW, R6, R8, H_NR));
  emit(&pe, LDX(BPF_DW, R1, FP, S_RET));
  emit(&pe, STX(BPF_DW, R6, R1, H_RET));
  for (int i = 0; i < 6; i++) {
    emit(&pe, LDX(BPF_DW, R1, R7, 8 + 8 * i));
    emit(&pe, STX(BPF_DW, R6, R1, H_ARGS + 8 * i));
  }
  emit(&pe, MOV_IMM(R7, 0)); /* len0 */
  emit(&pe, MOV_IMM(R8, 0)); /* len1 */
  /* Path 0 at HDR. */
  read_user_arg(&pe, C_P0, 1, -1, HDR, STR_MAX, BPF_FUNC_probe_read_user_str, nop0);
  keep_length(&pe, R7);
  here(&pe, nop0);
  /* Path 1 right after path 0. */
  read_user_arg(&pe, C_P1, 5, R7, HDR, STR_MAX, BPF_FUNC_probe_read_user_str, nop1);
  keep_length(&pe, R8);
  here(&pe, nop1);
  /* A sockaddr at HDR (never together with a path). */
  read_user_arg(&pe, C_SOCK, 9, -1, HDR, SOCKADDR_BYTES, BPF_FUNC_probe_read_user, nosock);
  jmp(&pe, JIMM(BPF_JNE, R0, 0), nosock);
  emit(&pe, MOV_IMM(R7, SOCKADDR_BYTES));
  here(&pe, nosock);
  /* A u64 behind a pointer argument (open_how.flags) into aux. */
  read_user_arg(&pe, C_DEREF, 13, -1, H_AUX, 8, BPF_FUNC_probe_read_user, noderef);
  here(&pe, noderef);
  emit(&pe, STX(BPF_W, R6, R7, H_LEN0));
  emit(&pe, STX(BPF_W, R6, R8, H_LEN1));
  emit(&pe, MOV_REG(R3, R7));
  emit(&pe, ALU_REG(BPF_ADD, R3, R8));
  emit(&pe, ALU_IMM(BPF_ADD, R3, HDR));
  record_send(&pe, R6, R3);
  jmp(&pe, JA(), out);
  here(&pe, noregs_e); /* never seen: which syscall it was is unknown, so it counts as a lost record */
  count(&pe, STAT_EVENTS_LOST);
  finish(&pe, out);
  return &pe;
}
