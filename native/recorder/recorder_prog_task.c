/*
 * recorder_prog_task.c (ebpf-recorder): the programs that follow tasks: sched_process_exec,
 * sched_process_fork and sched_process_exit (the `tracked` map, EXEC and FORK records), and
 * cap_capable (the `caps` map).
 */
#include "ebpf_recorder.h"

/* A: sched_process_exec. */
struct prog *build_exec(uint64_t cgid, int events, int bprm_filename) {
  static struct prog pa;
  int out = newlab(&pa), trk = newlab(&pa);
  emit(&pa, MOV_REG(R6, R1));
  emit(&pa, CALL(get_current_cgroup_id));
  ld64(&pa, R1, cgid, 0);
  jmp(&pa, JREG(BPF_JEQ, R0, R1), trk);
  emit(&pa, LDX(BPF_DW, R1, R6, 8)); /* exec by a tracked task outside the cgroup: old_pid tracked */
  emit(&pa, STX(BPF_W, FP, R1, S_KEY));
  lookup(&pa, map_tracked, S_KEY);
  jmp(&pa, JIMM(BPF_JEQ, R0, 0), out);
  here(&pa, trk);
  emit(&pa, CALL(get_current_pid_tgid));
  emit(&pa, ALU_IMM(BPF_RSH, R0, 32)); /* after exec the task's pid is the tgid */
  emit(&pa, MOV_REG(R7, R0));
  emit(&pa, STX(BPF_W, FP, R0, S_KEY));
  track(&pa);
  {
    int kept = newlab(&pa);
    emit(&pa, LDX(BPF_DW, R1, R6, 8)); /* a non-leader thread exec'd: its old tid is gone */
    emit(&pa, MOV32_REG(R1, R1));
    jmp(&pa, JREG(BPF_JEQ, R1, R7), kept);
    emit(&pa, STX(BPF_W, FP, R1, S_KEY));
    map_call(&pa, BPF_FUNC_map_delete_elem, map_tracked, S_KEY);
    here(&pa, kept);
  }
  if (events) { /* EXEC: pid, old pid, bprm->filename */
    if_excluded(&pa, out);
    lookup_imm(&pa, map_scratch, 0, out);
    emit(&pa, MOV_REG(R8, R0));
    record_common(&pa, R8, REC_EXEC);
    emit(&pa, STX(BPF_W, R8, R7, H_TGID));
    emit(&pa, STX(BPF_W, R8, R7, H_TID));
    emit(&pa, LDX(BPF_DW, R1, R6, 8));
    emit(&pa, MOV32_REG(R1, R1));
    emit(&pa, STX(BPF_DW, R8, R1, H_NR));
    emit(&pa, ST(BPF_DW, R8, H_RET, 0));
    emit(&pa, LDX(BPF_DW, R3, R6, 16)); /* bprm */
    emit(&pa, ALU_IMM(BPF_ADD, R3, bprm_filename));
    emit(&pa, MOV_REG(R1, FP));
    emit(&pa, ALU_IMM(BPF_ADD, R1, S_ARGKEY));
    emit(&pa, MOV_IMM(R2, 8));
    emit(&pa, CALL(probe_read_kernel));
    emit(&pa, MOV_IMM(R9, 0));
    {
      int noname = newlab(&pa);
      jmp(&pa, JIMM(BPF_JNE, R0, 0), noname);
      emit(&pa, LDX(BPF_DW, R3, FP, S_ARGKEY));
      emit(&pa, MOV_REG(R1, R8));
      emit(&pa, ALU_IMM(BPF_ADD, R1, HDR));
      emit(&pa, MOV_IMM(R2, STR_MAX));
      emit(&pa, CALL(probe_read_kernel_str));
      keep_length(&pa, R9);
      here(&pa, noname);
    }
    emit(&pa, STX(BPF_W, R8, R9, H_LEN0));
    emit(&pa, MOV_REG(R3, R9));
    emit(&pa, ALU_IMM(BPF_ADD, R3, HDR));
    record_send(&pa, R8, R3);
  }
  finish(&pa, out);
  return &pa;
}

/* B: sched_process_fork (current = parent). */
struct prog *build_fork(int events, int task_pid) {
  static struct prog pb;
  int out = newlab(&pb);
  emit(&pb, MOV_REG(R6, R1));
  emit(&pb, CALL(get_current_pid_tgid));
  emit(&pb, MOV_REG(R7, R0));
  if_untracked(&pb, out);
  {
    int known = newlab(&pb);
    emit(&pb, LDX(BPF_DW, R3, R6, 8)); /* child */
    emit(&pb, ALU_IMM(BPF_ADD, R3, task_pid));
    emit(&pb, MOV_REG(R1, FP));
    emit(&pb, ALU_IMM(BPF_ADD, R1, S_KEY));
    emit(&pb, MOV_IMM(R2, 4));
    emit(&pb, CALL(probe_read_kernel));
    jmp(&pb, JIMM(BPF_JEQ, R0, 0), known);
    count(&pb, STAT_LOST); /* a child we cannot name cannot be followed */
    jmp(&pb, JA(), out);
    here(&pb, known);
  }
  track(&pb);
  if (events) { /* FORK: child, parent tgid, parent tid */
    emit(&pb, LDX(BPF_W, R9, FP, S_KEY));
    lookup_imm(&pb, map_scratch, 0, out);
    emit(&pb, MOV_REG(R8, R0));
    record_common(&pb, R8, REC_FORK);
    emit(&pb, STX(BPF_W, R8, R9, H_TID));
    emit(&pb, MOV_REG(R1, R7));
    emit(&pb, ALU_IMM(BPF_RSH, R1, 32));
    emit(&pb, STX(BPF_W, R8, R1, H_TGID));
    emit(&pb, MOV32_REG(R1, R7));
    emit(&pb, STX(BPF_DW, R8, R1, H_NR));
    emit(&pb, ST(BPF_DW, R8, H_RET, 0));
    emit(&pb, MOV_IMM(R3, HDR));
    record_send(&pb, R8, R3);
  }
  finish(&pb, out);
  return &pb;
}

/* D: sched_process_exit (current = the exiting thread). */
struct prog *build_exit(int events) {
  static struct prog pd;
  int out = newlab(&pd);
  emit(&pd, CALL(get_current_pid_tgid));
  emit(&pd, STX(BPF_W, FP, R0, S_KEY));
  map_call(&pd, BPF_FUNC_map_delete_elem, map_tracked, S_KEY);
  if (events) map_call(&pd, BPF_FUNC_map_delete_elem, map_pending, S_KEY);
  finish(&pd, out);
  return &pd;
}

/* F: capability/cap_capable: caps[cap * 2 + granted] = 1. */
struct prog *build_cap_capable(void) {
  static struct prog pf;
  int out = newlab(&pf);
  int denied = newlab(&pf);
  emit(&pf, MOV_REG(R6, R1));
  emit(&pf, CALL(get_current_pid_tgid));
  emit(&pf, MOV_REG(R7, R0));
  if_untracked(&pf, out);
  if_excluded(&pf, out);
  emit(&pf, LDX(BPF_DW, R1, R6, 24)); /* cap */
  jmp(&pf, JIMM(BPF_JGE, R1, 64), out);
  emit(&pf, ALU_IMM(BPF_LSH, R1, 1));
  emit(&pf, LDX(BPF_DW, R2, R6, 32)); /* ret */
  emit(&pf, MOV32_REG(R2, R2));
  jmp(&pf, JIMM(BPF_JNE, R2, 0), denied);
  emit(&pf, ALU_IMM(BPF_ADD, R1, 1));
  here(&pf, denied);
  emit(&pf, STX(BPF_W, FP, R1, S_KEY));
  lookup(&pf, map_caps, S_KEY);
  jmp(&pf, JIMM(BPF_JEQ, R0, 0), out);
  emit(&pf, LDX(BPF_W, R1, R0, 0));
  jmp(&pf, JIMM(BPF_JNE, R1, 0), out);
  emit(&pf, ST(BPF_W, R0, 0, 1));
  finish(&pf, out);
  return &pf;
}
