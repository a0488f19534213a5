/*
 * recorder_emit.c (ebpf-recorder): the instruction sequences the programs share: map calls,
 * stats counters, the tracked / excluded tests, tracking a task, building and sending a record.
 */
#include "ebpf_recorder.h"

/* r1 = map, r2 = fp + key_slot, r3 = fp + val_slot, r4 = flags, then call `helper`
 * (lookup/delete read only r1-r2). r0 = result; r1-r5 are clobbered, as by every helper call. */
void map_call_val(struct prog *p, int helper, int map, int key_slot, int val_slot, int flags) {
  ld64(p, R1, (uint64_t)map, BPF_PSEUDO_MAP_FD);
  emit(p, MOV_REG(R2, FP));
  emit(p, ALU_IMM(BPF_ADD, R2, key_slot));
  if (helper == BPF_FUNC_map_update_elem) {
    emit(p, MOV_REG(R3, FP));
    emit(p, ALU_IMM(BPF_ADD, R3, val_slot));
    emit(p, MOV_IMM(R4, flags));
  }
  emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper));
}
/* The u32 value 1 under the stack key, if absent. */
void map_call(struct prog *p, int helper, int map, int key_slot) {
  if (helper == BPF_FUNC_map_update_elem) emit(p, ST(BPF_W, FP, S_VAL, 1));
  map_call_val(p, helper, map, key_slot, S_VAL, BPF_NOEXIST);
}
void lookup(struct prog *p, int map, int slot) { map_call(p, BPF_FUNC_map_lookup_elem, map, slot); }
/* r0 = lookup(map, u32 key imm); jumps to `miss` when absent. */
void lookup_imm(struct prog *p, int map, int32_t key, int miss) {
  emit(p, ST(BPF_W, FP, S_KEY, key));
  lookup(p, map, S_KEY);
  jmp(p, JIMM(BPF_JEQ, R0, 0), miss);
}
/* stats[idx] += 1 (atomic; the array lookup cannot fail for idx < NSTATS, but the verifier wants the check). */
void count(struct prog *p, int idx) {
  int skip = newlab(p);
  emit(p, ST(BPF_W, FP, S_STAT, idx));
  lookup(p, map_stats, S_STAT);
  jmp(p, JIMM(BPF_JEQ, R0, 0), skip);
  emit(p, MOV_IMM(R1, 1));
  emit(p, XADD64(R0, R1, 0));
  here(p, skip);
}
/* Jumps to `miss` unless the tid or tgid in r7 (bpf_get_current_pid_tgid) is in `tracked`. */
void if_untracked(struct prog *p, int miss) {
  int hit = newlab(p);
  emit(p, STX(BPF_W, FP, R7, S_KEY)); /* tid = low 32 bits */
  lookup(p, map_tracked, S_KEY);
  jmp(p, JIMM(BPF_JNE, R0, 0), hit);
  emit(p, MOV_REG(R1, R7));
  emit(p, ALU_IMM(BPF_RSH, R1, 32)); /* tgid */
  emit(p, MOV32_REG(R2, R7));
  jmp(p, JREG(BPF_JEQ, R1, R2), miss); /* leader: same key, already missed */
  emit(p, STX(BPF_W, FP, R1, S_KEY));
  lookup(p, map_tracked, S_KEY);
  jmp(p, JIMM(BPF_JEQ, R0, 0), miss);
  here(p, hit);
}
/* Jumps to `miss` when the current comm equals --exclude-comm (the 16 NUL-padded bytes as two u64). */
void if_excluded(struct prog *p, int miss) {
  if (!exclude) return;
  int keep = newlab(p);
  emit(p, MOV_REG(R1, FP));
  emit(p, ALU_IMM(BPF_ADD, R1, S_COMM));
  emit(p, MOV_IMM(R2, 16));
  emit(p, CALL(get_current_comm));
  emit(p, LDX(BPF_DW, R1, FP, S_COMM));
  ld64(p, R2, comm0, 0);
  jmp(p, JREG(BPF_JNE, R1, R2), keep);
  emit(p, LDX(BPF_DW, R1, FP, S_COMM + 8));
  ld64(p, R2, comm1, 0);
  jmp(p, JREG(BPF_JEQ, R1, R2), miss);
  here(p, keep);
}
/* tracked[stack key] = 1 if absent; count new inserts and failures other than EEXIST. */
void track(struct prog *p) {
  int err = newlab(p), done = newlab(p);
  map_call(p, BPF_FUNC_map_update_elem, map_tracked, S_KEY);
  jmp(p, JIMM(BPF_JNE, R0, 0), err);
  count(p, STAT_TRACKED);
  jmp(p, JA(), done);
  here(p, err);
  jmp(p, JIMM(BPF_JEQ, R0, -EEXIST), done);
  count(p, STAT_LOST);
  here(p, done);
}
/* Fills the time, the comm and empty lengths of the record at `rec` (a callee-saved register). */
void record_common(struct prog *p, int rec, int kind) {
  emit(p, ST(BPF_W, rec, H_KIND, kind));
  emit(p, CALL(ktime_get_ns));
  emit(p, STX(BPF_DW, rec, R0, H_TS));
  emit(p, MOV_REG(R1, rec));
  emit(p, ALU_IMM(BPF_ADD, R1, H_COMM));
  emit(p, MOV_IMM(R2, 16));
  emit(p, CALL(get_current_comm));
  emit(p, ST(BPF_W, rec, H_LEN0, 0));
  emit(p, ST(BPF_W, rec, H_LEN1, 0));
  emit(p, ST(BPF_DW, rec, H_AUX, 0));
}
/* Sends the record at `rec`, `size` (a register, bounded to the scratch value) bytes; counts a failure. */
void record_send(struct prog *p, int rec, int size) {
  int sent = newlab(p);
  emit(p, STX(BPF_W, rec, size, H_SIZE));
  ld64(p, R1, (uint64_t)map_events, BPF_PSEUDO_MAP_FD);
  emit(p, MOV_REG(R2, rec));
  if (size != R3) emit(p, MOV_REG(R3, size));
  emit(p, MOV_IMM(R4, 0));
  emit(p, CALL(ringbuf_output));
  jmp(p, JIMM(BPF_JEQ, R0, 0), sent);
  count(p, STAT_EVENTS_LOST);
  here(p, sent);
}
/* r0 (a helper's length, or a negative error) -> `dst` when within [1, STR_MAX]; else `dst` keeps 0.
 * The explicit bound is what lets the verifier prove the record stays inside the scratch value. */
void keep_length(struct prog *p, int dst) {
  int skip = newlab(p);
  jmp(p, JIMM(BPF_JSLT, R0, 0), skip);
  jmp(p, JIMM(BPF_JGT, R0, STR_MAX), skip);
  emit(p, MOV_REG(dst, R0));
  here(p, skip);
}
/* r3 = args[(cfg >> shift) & 7] of the record at `rec`, cfg in r9. */
void arg_of(struct prog *p, int rec, int shift) {
  emit(p, MOV_REG(R3, R9));
  emit(p, ALU_IMM(BPF_RSH, R3, shift));
  emit(p, ALU_IMM(BPF_AND, R3, 7));
  emit(p, ALU_IMM(BPF_LSH, R3, 3));
  emit(p, ALU_REG(BPF_ADD, R3, rec));
  emit(p, LDX(BPF_DW, R3, R3, H_ARGS));
}
void finish(struct prog *p, int out) {
  here(p, out);
  emit(p, MOV_IMM(R0, 0)); /* (a raw tracepoint ignores the return value) */
  emit(p, EXIT());
  resolve(p);
}
