/*
 * ebpf_recorder.h: what the files of ebpf-recorder share: limits, the record and CONFIG layouts,
 * the eBPF registers and stack slots, the assembler (bpf_asm.h), the map fds and options the
 * programs are built from, and each file's entry points. What the recorder does and how: the
 * comment at the top of ebpf_recorder.c.
 */
#ifndef STOCKADE_EBPF_RECORDER_H
#define STOCKADE_EBPF_RECORDER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#define NR_SLOTS 1024
#define TRACKED_MAX 32768
#define ARGVALS_MAX 4096
#define MAX_ARG_NRS 16
#define MAX_INSNS 1024
#define MAX_LABELS 160
#define STR_MAX 4096           /* bytes per path, NUL included (PATH_MAX) */
#define SOCKADDR_BYTES 28      /* sizeof(struct sockaddr_in6) */
enum { STAT_TRACKED, STAT_LOST, STAT_UNUSED, STAT_EVENTS_LOST, NSTATS };
enum { REC_SYSCALL = 1, REC_EXEC = 2, REC_FORK = 3 };
/* Record header offsets (see the comment at the top of ebpf_recorder.c). */
enum { H_SIZE = 0, H_KIND = 4, H_TID = 8, H_TGID = 12, H_NR = 16, H_RET = 24, H_ARGS = 32, H_AUX = 80, H_TS = 88,
       H_LEN0 = 96, H_LEN1 = 100, H_COMM = 104, HDR = 120 };
#define SCRATCH_SIZE (HDR + 2 * STR_MAX)
#define PENDING_SIZE 72 /* u64 nr + u64 args[8] (two spare slots: an index masked to 3 bits stays inside) */
/* CONFIG bits. */
#define C_SAVE 0x1u
#define C_P0 0x10u
#define C_P1 0x100u
#define C_SOCK 0x1000u
#define C_DEREF 0x10000u
#define C_OK 0x20000u
#define C_ERR 0x40000u
#define C_ALL 0x7ffffu
enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };
/* Stack slots (offsets from FP). */
#define S_KEY (-4)       /* u32 key of `tracked` / `seen` / `interest` / `pending` / `scratch` / `caps` */
#define S_VAL (-8)       /* u32 value 1 */
#define S_STAT (-12)     /* u32 key of `stats` */
#define S_COMM (-32)     /* char[16] from bpf_get_current_comm */
#define S_ARGKEY (-40)   /* u64 key of `argvals` */
#define S_PID (-48)      /* u64 bpf_get_current_pid_tgid */
#define S_RET (-56)      /* s64 return value */
#define S_PEND (-136)    /* pending value being inserted (PENDING_SIZE bytes) */
#define S_REGS (-200)    /* pt_regs r10 .. di (64 bytes) */

#define PERM_HINT(err) ((err) == EPERM || (err) == EACCES ? " (need root / CAP_BPF+CAP_PERFMON)" : "")

/* ---- recorder_bpf.c: errors and bpf objects ---- */
/* Fatal: "ebpf-recorder: <step>: <strerror(err)>", exit 1. */
__attribute__((format(printf, 2, 3))) void fail(int err, const char *fmt, ...);
void need(int ok, const char *what);
long sys_bpf(int cmd, union bpf_attr *a);

/* bpf_asm.h defines its helpers static (not every file uses every one of them). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bpf_asm.h" /* the assembler: instruction macros, labels, ld64 */
#pragma GCC diagnostic pop

int map_create(const char *name, enum bpf_map_type type, unsigned key, unsigned val, unsigned max);
int prog_load(const char *name, struct prog *p, int gpl);
int attach(const char *tp, int prog, int optional);
void detach_all(void);
int lookup_elem(int map, const void *key, void *val);
void update_elem(int map, const void *key, const void *val);

/* ---- ebpf_recorder.c: the maps and the options the programs are built from ---- */
extern int map_tracked, map_seen, map_argvals, map_stats, map_interest, map_pending, map_scratch, map_events, map_caps;
extern const char *exclude;
extern uint64_t comm0, comm1;

/* ---- recorder_btf.c: kernel layouts ---- */
int btf_member_offset(const char *sname, const char *member);

/* ---- recorder_emit.c: instruction sequences the programs share ---- */
void map_call_val(struct prog *p, int helper, int map, int key_slot, int val_slot, int flags);
void map_call(struct prog *p, int helper, int map, int key_slot);
void lookup(struct prog *p, int map, int slot);
void lookup_imm(struct prog *p, int map, int32_t key, int miss);
void count(struct prog *p, int idx);
void if_untracked(struct prog *p, int miss);
void if_excluded(struct prog *p, int miss);
void track(struct prog *p);
void record_common(struct prog *p, int rec, int kind);
void record_send(struct prog *p, int rec, int size);
void keep_length(struct prog *p, int dst);
void arg_of(struct prog *p, int rec, int shift);
void finish(struct prog *p, int out);

/* ---- the programs (recorder_prog_task.c, recorder_prog_syscall.c) ----
 * Raw tracepoint arguments (include/trace/events/...): each a u64 slot of ctx.
 *   sys_enter (struct pt_regs *regs, long id)       sys_exit (struct pt_regs *regs, long ret)
 *   sched_process_exec (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
 *   sched_process_fork (struct task_struct *parent, struct task_struct *child)
 *   sched_process_exit (struct task_struct *p)      (p is current in exec and exit)
 *   cap_capable (const struct cred *, struct user_namespace *, const struct user_namespace *, int cap, int ret)
 * Syscall arguments and number come from pt_regs (x86_64: di si dx r10 r8 r9, orig_ax).
 * Each builds its program once (into static storage) and returns it. */
struct prog *build_exec(uint64_t cgid, int events, int bprm_filename);
struct prog *build_fork(int events, int task_pid);
struct prog *build_exit(int events);
struct prog *build_cap_capable(void);
struct prog *build_sys_enter(int events, const long *arg_nrs, int n_arg_nrs);
struct prog *build_sys_exit(void);

/* ---- recorder_ring.c: the ring buffer consumer ---- */
struct chunk;
extern struct chunk *q_head;
extern size_t q_bytes;
extern int events_fd;
extern volatile uint64_t *rb_cons, *rb_prod;
void ring_open(size_t size);
void ring_drain(void);
void queue_flush(int all);

/* ---- recorder_report.c: the JSON line ---- */
void report(long *arg_nrs, int n_arg_nrs, int caps);

#endif
