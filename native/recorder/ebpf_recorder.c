/*
 * ebpf-recorder: records what a workload does (the syscalls it makes, the paths and addresses it
 * names, the capabilities it is checked for) without a ptrace stop per syscall. Hand-written eBPF
 * bytecode on raw tracepoints, loaded with the bpf() syscall (no libbpf/clang). Needs root
 * (CAP_BPF, CAP_PERFMON) and the kernel's BTF (/sys/kernel/btf/vmlinux) for two offsets.
 *
 *   ebpf-recorder --cgroup-id N [--arg-syscall NR]... [--exclude-comm NAME] [--caps]
 *                 [--events-fd FD [--syscall NR:CONFIG]... [--ring-mb N]] --ready-fd FD
 *
 * Loads and attaches everything, writes "ready\n" to --ready-fd (then closes it), streams records
 * to --events-fd while the workload runs, and on EOF on stdin detaches, drains, and prints one JSON
 * line {"syscalls":[..],"args":[{"nr":41,"arg0":[..]}],"caps":{"granted":[..],"denied":[..]},
 * "tracked":N,"lost":N,"events_lost":N}, exit 0.
 * "args" has one entry per distinct --arg-syscall, ascending (arg0 may be []); arg0 values are the
 * low 32 bits of the first argument, unsigned. "caps" (with --caps) lists the capability numbers a
 * tracked task was checked for, by outcome; null when this kernel has no capability/cap_capable
 * tracepoint (added in Linux 6.14) or without --caps. "tracked" counts insertions into `tracked`
 * (tasks; a non-leader exec re-inserts its tgid), "lost" counts failed inserts (a full `tracked` or
 * `argvals` map), "events_lost" counts records that did not reach --events-fd (a full ring buffer or
 * a full `pending` map): a recording with events_lost > 0 is incomplete.
 * Errors: one line on stderr naming the step, exit 1; usage errors exit 2.
 *
 * Records (--events-fd): a stream of little-endian records, each starting with its u32 size:
 *   0 u32 size   4 u32 kind   8 u32 tid   12 u32 tgid   16 s64 nr   24 s64 ret   32 u64 args[6]
 *   80 u64 aux   88 u64 time (CLOCK_MONOTONIC ns)   96 u32 len0   100 u32 len1   104 char comm[16]
 *   120 data: len0 bytes, then len1 bytes (NUL-terminated strings as bpf_probe_read_*_str copies them;
 *       or a raw sockaddr of len0 bytes)
 * kinds: 1 SYSCALL: a tracked task's syscall `nr` returned `ret` (args as it entered it; data: the
 *          path arguments or the sockaddr its CONFIG names, read from its memory at syscall exit;
 *          aux: the u64 its CONFIG dereferences, e.g. open_how.flags);
 *        2 EXEC: task `tid` (formerly `nr`, the old pid of a non-leader exec) exec'd; data: the file
 *          name the kernel exec'd (as given to execve, relative or not);
 *        3 FORK: task `tid` was created by `tgid`'s thread `nr` (a thread or a process).
 * CONFIG (per syscall, decimal or 0x hex) says what to do at its exit:
 *   bit 0 SAVE: keep its arguments at entry (needed for anything else);
 *   bits 1-3 + bit 4: path argument 0 (index, present); bits 5-7 + bit 8: path argument 1;
 *   bits 9-11 + bit 12: sockaddr argument (28 bytes are read); bits 13-15 + bit 16: a pointer
 *   argument whose first u64 goes to aux; bit 17 OK: emit when it succeeds (ret >= 0, or connect's
 *   -EINPROGRESS); bit 18 ERR: emit when it fails with EPERM, ENOENT, EACCES or EROFS.
 *
 * Maps:  tracked  HASH    u32 tid -> u32        tasks whose syscalls count
 *        seen     ARRAY   1024 x u32            seen[nr] = 1
 *        argvals  HASH    u64 (nr << 32 | (u32)arg0) -> u32
 *        stats    ARRAY   4 x u64               tracked inserts, lost inserts, -, lost records
 *        interest ARRAY   1024 x u32            CONFIG per syscall number (0: nothing)
 *        pending  HASH    u32 tid -> {u64 nr; u64 args[8]}   the syscall a task is in
 *        scratch  PERCPU_ARRAY 1 x record       where a record is built
 *        events   RINGBUF                       records on their way to user space
 *        caps     ARRAY   128 x u32             caps[cap * 2 + granted] = 1
 * Programs (BPF_PROG_TYPE_RAW_TRACEPOINT: the tracepoint's own arguments, no perf record built;
 * task_struct.pid and linux_binprm.filename offsets from BTF; syscall arguments from pt_regs):
 *   sched_process_exec  cgroup id == CGID, or the pre-exec tid (old_pid) tracked: track the tgid
 *                       (and forget old_pid, which a non-leader exec gives up); emit EXEC.
 *   sched_process_fork  parent tid or tgid tracked: track the child (process or thread); emit FORK.
 *   sched_process_exit  untrack the exiting tid (and drop its pending entry), so a recycled pid is
 *                       never recorded.
 *   sys_enter           tid or tgid tracked, comm != exclude: seen[id] = 1; for --arg-syscall
 *                       numbers also insert into argvals; for SAVE syscalls keep the arguments.
 *   sys_exit            (with --events-fd) SAVE syscall of a tracked task whose return value
 *                       CONFIG wants: build and emit a SYSCALL record.
 *   cap_capable         (with --caps) a tracked task was checked for a capability: caps[...] = 1.
 * Raw tracepoints rather than perf tracepoint events: no record is formatted per syscall (about half
 * the per-syscall cost), and detaching is immediate (closing a perf tracepoint event waits for RCU
 * grace periods, one event after another: about 40 ms each on a VM).
 * Paths are read at syscall exit: the kernel has just read the same string, so its page is present
 * (a read at entry can meet a page not yet faulted in), and failed calls cost no copy at all.
 * An exec's file name comes from bprm->filename at sched_process_exec (the caller's memory is gone).
 * Tracking follows the process tree (a tracked task that leaves the cgroup stays tracked); a task
 * moved into the cgroup counts only once it execs there. Ids are global, so pid namespaces are fine.
 * Structurally invisible: everything a task does before its first successful execve in the cgroup,
 * including that execve's syscall (sys_enter fires before sched_process_exec tracks the task; its
 * EXEC record names the program), so the caller adds execve itself (exit/exit_group are seen when
 * made). Also invisible: syscalls a seccomp filter rejects or a ptracer skips (the kernel runs
 * ptrace and seccomp before the sys_enter tracepoint; their sys_exit finds no pending entry), and
 * syscalls of a task whose comm equals --exclude-comm (for strace this includes the tracee's first
 * execve, which starts while its comm is still "strace").
 * Limitation: only the native arch (x86_64) is meaningful. Compat (i386, int 0x80) tasks report
 * i386 numbers in the same tracepoint and would be mixed in (and their arguments are in other
 * registers); splitting them needs a map per arch keyed by the task's compat state (not done).
 * x32 numbers (bit 30 set) fall outside seen[].
 * License: the programs that read user or kernel memory (bpf_probe_read_*) must declare a
 * GPL-compatible license to the kernel, which offers those helpers to GPL programs only; they are
 * loaded as "GPL" (a declaration to the kernel about the generated bytecode), the others as
 * "Apache-2.0".
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/btf.h>

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
/* Record header offsets (see the comment above). */
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
/* Fatal: "ebpf-recorder: <step>: <strerror(err)>", exit 1. */
__attribute__((format(printf, 2, 3))) static void fail(int err, const char *fmt, ...) {
  char step[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(step, sizeof step, fmt, ap);
  va_end(ap);
  fprintf(stderr, "ebpf-recorder: %s: %s%s\n", step, strerror(err), PERM_HINT(err));
  exit(1);
}
static void need(int ok, const char *what) {
  if (!ok) { fprintf(stderr, "ebpf-recorder: %s\n", what); exit(1); }
}

static void usage(const char *why) {
  fprintf(stderr, "ebpf-recorder: %s\nusage: ebpf-recorder --cgroup-id N [--arg-syscall NR]... [--exclude-comm NAME] [--caps] "
                  "[--events-fd FD [--syscall NR:CONFIG]... [--ring-mb N]] --ready-fd FD\n", why);
  exit(2);
}

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof *a); }

#include "bpf_asm.h" /* the assembler: instruction macros, labels, ld64 */

static int map_tracked, map_seen, map_argvals, map_stats, map_interest = -1, map_pending = -1, map_scratch = -1, map_events = -1, map_caps = -1;
static const char *exclude;
static uint64_t comm0, comm1;

/* r1 = map, r2 = fp + key_slot, r3 = fp + val_slot, r4 = flags, then call `helper`
 * (lookup/delete read only r1-r2). r0 = result; r1-r5 are clobbered, as by every helper call. */
static void map_call_val(struct prog *p, int helper, int map, int key_slot, int val_slot, int flags) {
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
static void map_call(struct prog *p, int helper, int map, int key_slot) {
  if (helper == BPF_FUNC_map_update_elem) emit(p, ST(BPF_W, FP, S_VAL, 1));
  map_call_val(p, helper, map, key_slot, S_VAL, BPF_NOEXIST);
}
static void lookup(struct prog *p, int map, int slot) { map_call(p, BPF_FUNC_map_lookup_elem, map, slot); }
/* r0 = lookup(map, u32 key imm); jumps to `miss` when absent. */
static void lookup_imm(struct prog *p, int map, int32_t key, int miss) {
  emit(p, ST(BPF_W, FP, S_KEY, key));
  lookup(p, map, S_KEY);
  jmp(p, JIMM(BPF_JEQ, R0, 0), miss);
}
/* stats[idx] += 1 (atomic; the array lookup cannot fail for idx < NSTATS, but the verifier wants the check). */
static void count(struct prog *p, int idx) {
  int skip = newlab(p);
  emit(p, ST(BPF_W, FP, S_STAT, idx));
  lookup(p, map_stats, S_STAT);
  jmp(p, JIMM(BPF_JEQ, R0, 0), skip);
  emit(p, MOV_IMM(R1, 1));
  emit(p, XADD64(R0, R1, 0));
  here(p, skip);
}
/* Jumps to `miss` unless the tid or tgid in r7 (bpf_get_current_pid_tgid) is in `tracked`. */
static void if_untracked(struct prog *p, int miss) {
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
static void if_excluded(struct prog *p, int miss) {
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
static void track(struct prog *p) {
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
static void record_common(struct prog *p, int rec, int kind) {
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
static void record_send(struct prog *p, int rec, int size) {
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
static void keep_length(struct prog *p, int dst) {
  int skip = newlab(p);
  jmp(p, JIMM(BPF_JSLT, R0, 0), skip);
  jmp(p, JIMM(BPF_JGT, R0, STR_MAX), skip);
  emit(p, MOV_REG(dst, R0));
  here(p, skip);
}
/* r3 = args[(cfg >> shift) & 7] of the record at `rec`, cfg in r9. */
static void arg_of(struct prog *p, int rec, int shift) {
  emit(p, MOV_REG(R3, R9));
  emit(p, ALU_IMM(BPF_RSH, R3, shift));
  emit(p, ALU_IMM(BPF_AND, R3, 7));
  emit(p, ALU_IMM(BPF_LSH, R3, 3));
  emit(p, ALU_REG(BPF_ADD, R3, rec));
  emit(p, LDX(BPF_DW, R3, R3, H_ARGS));
}
static void finish(struct prog *p, int out) {
  here(p, out);
  emit(p, MOV_IMM(R0, 0)); /* (a raw tracepoint ignores the return value) */
  emit(p, EXIT());
  resolve(p);
}

/* ---- kernel layouts, from BTF ---- */
/* The byte offset of `member` in `struct sname`, from the kernel's own type information
 * (/sys/kernel/btf/vmlinux); exits when the kernel has none or the member is not found. */
static size_t btf_size;
static uint8_t *btf;
static int btf_member_offset(const char *sname, const char *member) {
  static const char *path = "/sys/kernel/btf/vmlinux";
  if (!btf) {
    FILE *f = fopen(path, "rb");
    if (!f) fail(errno, "open %s (the kernel's BTF, CONFIG_DEBUG_INFO_BTF)", path);
    size_t cap = 1 << 20;
    btf = malloc(cap);
    need(btf != NULL, "out of memory");
    for (size_t n; (n = fread(btf + btf_size, 1, cap - btf_size, f)) > 0;) {
      btf_size += n;
      if (btf_size == cap) { btf = realloc(btf, cap *= 2); need(btf != NULL, "out of memory"); }
    }
    fclose(f);
  }
  const struct btf_header *h = (const void *)btf;
  need(btf_size >= sizeof *h && h->magic == BTF_MAGIC && h->hdr_len + (size_t)h->type_off + h->type_len <= btf_size &&
       h->hdr_len + (size_t)h->str_off + h->str_len <= btf_size, "/sys/kernel/btf/vmlinux: not BTF");
  const uint8_t *types = btf + h->hdr_len + h->type_off;
  const char *strs = (const char *)btf + h->hdr_len + h->str_off;
  for (uint32_t off = 0; off + sizeof(struct btf_type) <= h->type_len;) {
    const struct btf_type *t = (const void *)(types + off);
    unsigned kind = BTF_INFO_KIND(t->info), vlen = BTF_INFO_VLEN(t->info);
    size_t extra = 0;
    switch (kind) {
      case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: extra = 4; break;
      case BTF_KIND_ARRAY: extra = 12; break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_ENUM64: extra = 12 * (size_t)vlen; break;
      case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO: extra = 8 * (size_t)vlen; break;
      default: break;
    }
    need(off + sizeof *t + extra <= h->type_len, "/sys/kernel/btf/vmlinux: truncated type");
    if (kind == BTF_KIND_STRUCT && t->name_off < h->str_len && strcmp(strs + t->name_off, sname) == 0) {
      const struct btf_member *m = (const void *)(t + 1);
      for (unsigned i = 0; i < vlen; i++) {
        if (m[i].name_off >= h->str_len || strcmp(strs + m[i].name_off, member) != 0) continue;
        uint32_t bits = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
        need(bits % 8 == 0, "BTF: a bit-field member");
        return (int)(bits / 8);
      }
    }
    off += (uint32_t)(sizeof *t + extra);
  }
  fprintf(stderr, "ebpf-recorder: /sys/kernel/btf/vmlinux: no member %s in struct %s\n", member, sname);
  exit(1);
}

/* ---- bpf objects ---- */
static int map_create(const char *name, enum bpf_map_type type, unsigned key, unsigned val, unsigned max) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = type;
  a.key_size = key;
  a.value_size = val;
  a.max_entries = max;
  snprintf(a.map_name, sizeof a.map_name, "%s", name);
  int fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) fail(errno, "bpf(BPF_MAP_CREATE) for %s", name);
  return fd;
}
static char vlog[1 << 22];
/* Loads without a log; on failure loads again with the verifier log to print it. */
static int prog_load(const char *name, struct prog *p, int gpl) {
  union bpf_attr a;
  int err = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
    a.insns = (uint64_t)(uintptr_t)p->in;
    a.insn_cnt = (uint32_t)p->n;
    a.license = (uint64_t)(uintptr_t)(gpl ? "GPL" : "Apache-2.0");
    snprintf(a.prog_name, sizeof a.prog_name, "stk_%s", name);
    if (attempt) { a.log_level = 1; a.log_buf = (uint64_t)(uintptr_t)vlog; a.log_size = sizeof vlog; }
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) return fd;
    if (!attempt) err = errno;
  }
  /* EACCES with a log is the verifier's rejection, not a privilege problem. Its last lines say why. */
  size_t len = strlen(vlog);
  const char *tail = len > 3000 ? vlog + len - 3000 : vlog;
  fprintf(stderr, "ebpf-recorder: bpf(BPF_PROG_LOAD) for %s: %s%s\n%s", name, strerror(err), vlog[0] ? "" : PERM_HINT(err), tail);
  exit(1);
}
/* A raw tracepoint link per program: the program gets the tracepoint's arguments as they are (no
 * perf record is built), and closing the link detaches it at once (a perf event waits for grace
 * periods, one event after another). Returns 0, or the errno (ENOENT: no such tracepoint). */
static int links[8], n_links;
static int attach(const char *tp, int prog, int optional) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.raw_tracepoint.name = (uint64_t)(uintptr_t)tp;
  a.raw_tracepoint.prog_fd = (uint32_t)prog;
  int fd = (int)sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &a);
  if (fd < 0) {
    if (optional && errno == ENOENT) return ENOENT;
    fail(errno, "bpf(BPF_RAW_TRACEPOINT_OPEN) for %s", tp);
  }
  links[n_links++] = fd;
  return 0;
}
static void detach_all(void) {
  for (int i = 0; i < n_links; i++) close(links[i]);
}
static int lookup_elem(int map, const void *key, void *val) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)map;
  a.key = (uint64_t)(uintptr_t)key;
  a.value = (uint64_t)(uintptr_t)val;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}
static void update_elem(int map, const void *key, const void *val) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)map;
  a.key = (uint64_t)(uintptr_t)key;
  a.value = (uint64_t)(uintptr_t)val;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) != 0) fail(errno, "bpf(BPF_MAP_UPDATE_ELEM) for interest");
}
static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}
static int cmp_long(const void *x, const void *y) {
  long a = *(const long *)x, b = *(const long *)y;
  return a < b ? -1 : a > b;
}
static long parse_num(const char *s, long max, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno || end == s || *end || v < 0 || v > max) { char m[96]; snprintf(m, sizeof m, "bad %s: %s", what, s); usage(m); }
  return v;
}

/* ---- the ring buffer consumer ----
 * The ring is drained into memory as fast as records arrive, and written to --events-fd as fast as
 * the reader takes them: a reader slower than the workload for a while (a tight loop of opens
 * makes records faster than any parser) costs memory here, not records. Only past QUEUE_MAX
 * queued bytes is the ring left to fill (and overflow, counted as events_lost). */
#define QUEUE_MAX ((size_t)1 << 30)
#define CHUNK (1 << 20)
struct chunk { struct chunk *next; size_t len, off; uint8_t data[CHUNK]; };
static struct chunk *q_head, *q_tail;
static size_t q_bytes;
static int events_fd = -1;
static uint8_t *rb_data;
static volatile uint64_t *rb_cons, *rb_prod;
static uint64_t rb_mask;
static void ring_open(size_t size) {
  long page = sysconf(_SC_PAGESIZE);
  void *cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, map_events, 0);
  if (cons == MAP_FAILED) fail(errno, "mmap(ring buffer consumer page)");
  /* The data pages are mapped twice in a row, so a record that wraps around reads as one piece. */
  void *prod = mmap(NULL, (size_t)page + 2 * size, PROT_READ, MAP_SHARED, map_events, page);
  if (prod == MAP_FAILED) fail(errno, "mmap(ring buffer data pages)");
  rb_cons = cons;
  rb_prod = prod;
  rb_data = (uint8_t *)prod + page;
  rb_mask = size - 1;
}
static void enqueue(const void *p, size_t n) {
  if (!q_tail || q_tail->len + n > CHUNK) {
    struct chunk *c = malloc(sizeof *c);
    need(c != NULL, "out of memory for the record queue");
    c->next = NULL;
    c->len = c->off = 0;
    if (q_tail) q_tail->next = c;
    else q_head = c;
    q_tail = c;
  }
  memcpy(q_tail->data + q_tail->len, p, n);
  q_tail->len += n;
  q_bytes += n;
}
/* Moves every committed record from the ring to the queue (up to QUEUE_MAX). */
static void ring_drain(void) {
  uint64_t cons = __atomic_load_n(rb_cons, __ATOMIC_ACQUIRE);
  for (;;) {
    uint64_t prod = __atomic_load_n(rb_prod, __ATOMIC_ACQUIRE);
    if (cons >= prod) return;
    while (cons < prod) {
      uint32_t *hdr = (uint32_t *)(rb_data + (cons & rb_mask));
      uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
      if (len & BPF_RINGBUF_BUSY_BIT) return; /* still being written */
      uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        if (q_bytes + size > QUEUE_MAX) return;
        enqueue(hdr + 2, size);
      }
      cons += ((uint64_t)size + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
      __atomic_store_n(rb_cons, cons, __ATOMIC_RELEASE);
    }
  }
}
/* Writes queued records to --events-fd until it would block (or, with `all`, until none is left). */
static void queue_flush(int all) {
  while (q_head) {
    struct chunk *c = q_head;
    if (c->off == c->len) {
      if (c == q_tail && !all) { c->len = c->off = 0; return; }
      q_head = c->next;
      if (!q_head) q_tail = NULL;
      free(c);
      continue;
    }
    ssize_t n = write(events_fd, c->data + c->off, c->len - c->off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && !all) return;
      if (errno == EAGAIN) { struct pollfd w = { .fd = events_fd, .events = POLLOUT }; (void)poll(&w, 1, -1); continue; }
      fail(errno, "write(--events-fd)");
    }
    c->off += (size_t)n;
    q_bytes -= (size_t)n;
  }
}

int main(int argc, char **argv) {
  uint64_t cgid = 0;
  long arg_nrs[MAX_ARG_NRS];
  int n_arg_nrs = 0, ready_fd = -1, have_cgid = 0, want_caps = 0;
  long ring_mb = 16;
  static uint32_t config[NR_SLOTS];
  int n_config = 0;
  char comm[16] = { 0 };
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--help") == 0) usage("records the syscalls, paths and capabilities of a cgroup's workload");
    if (strcmp(opt, "--caps") == 0) { want_caps = 1; continue; }
    if (i + 1 >= argc) usage("missing value");
    const char *v = argv[++i];
    if (strcmp(opt, "--cgroup-id") == 0) {
      char *end;
      errno = 0;
      cgid = strtoull(v, &end, 10);
      if (errno || end == v || *end || cgid == 0 || *v == '-') usage("bad --cgroup-id");
      have_cgid = 1;
    } else if (strcmp(opt, "--arg-syscall") == 0) {
      if (n_arg_nrs == MAX_ARG_NRS) usage("too many --arg-syscall (max 16)");
      long nr = parse_num(v, NR_SLOTS - 1, "--arg-syscall");
      int dup = 0;
      for (int j = 0; j < n_arg_nrs; j++) dup |= arg_nrs[j] == nr;
      if (!dup) arg_nrs[n_arg_nrs++] = nr;
    } else if (strcmp(opt, "--exclude-comm") == 0) {
      if (!*v) usage("empty --exclude-comm");
      exclude = v;
      memcpy(comm, v, strnlen(v, 15)); /* the kernel keeps 15 chars of comm, NUL-padded to 16 */
    } else if (strcmp(opt, "--ready-fd") == 0) {
      ready_fd = (int)parse_num(v, 1 << 20, "--ready-fd");
    } else if (strcmp(opt, "--events-fd") == 0) {
      events_fd = (int)parse_num(v, 1 << 20, "--events-fd");
    } else if (strcmp(opt, "--ring-mb") == 0) {
      ring_mb = parse_num(v, 1024, "--ring-mb");
      if (ring_mb == 0 || (ring_mb & (ring_mb - 1))) usage("--ring-mb must be a power of two");
    } else if (strcmp(opt, "--syscall") == 0) {
      char nrs[32];
      const char *colon = strchr(v, ':');
      if (!colon || (size_t)(colon - v) >= sizeof nrs) usage("--syscall wants NR:CONFIG");
      memcpy(nrs, v, (size_t)(colon - v));
      nrs[colon - v] = 0;
      long nr = parse_num(nrs, NR_SLOTS - 1, "--syscall number");
      long cfg = parse_num(colon + 1, C_ALL, "--syscall config");
      /* Every argument index must name one of the six arguments; anything but SAVE needs SAVE. */
      for (int shift = 1; shift <= 13; shift += 4)
        if ((cfg >> (shift + 3)) & 1 && ((cfg >> shift) & 7) > 5) usage("--syscall config: an argument index above 5");
      if (cfg != 0 && !(cfg & C_SAVE)) usage("--syscall config: bit 0 (SAVE) is required");
      if (config[nr] == 0 && cfg != 0) n_config++;
      config[nr] = (uint32_t)cfg;
    } else {
      usage("unknown option");
    }
  }
  if (!have_cgid || ready_fd < 0) usage("--cgroup-id and --ready-fd are required");
  if (n_config > 0 && events_fd < 0) usage("--syscall needs --events-fd");
  memcpy(&comm0, comm, 8);
  memcpy(&comm1, comm + 8, 8);
  signal(SIGPIPE, SIG_IGN);

  const int events = events_fd >= 0;
  /* Raw tracepoint arguments (include/trace/events/...): each a u64 slot of ctx.
   *   sys_enter (struct pt_regs *regs, long id)       sys_exit (struct pt_regs *regs, long ret)
   *   sched_process_exec (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
   *   sched_process_fork (struct task_struct *parent, struct task_struct *child)
   *   sched_process_exit (struct task_struct *p)      (p is current in exec and exit)
   *   cap_capable (const struct cred *, struct user_namespace *, const struct user_namespace *, int cap, int ret)
   * Syscall arguments and number come from pt_regs (x86_64: di si dx r10 r8 r9, orig_ax). */
  const int task_pid = btf_member_offset("task_struct", "pid");
  const int bprm_filename = events ? btf_member_offset("linux_binprm", "filename") : 0;
  enum { PT_R10 = 56, PT_ORIG_AX = 120, REGS_BLOCK = 64 }; /* regs+56 .. regs+120: r10 r9 r8 ax cx dx si di */
  static const int arg_at[6] = { 56, 48, 40, 0, 16, 8 }; /* di si dx r10 r8 r9, from regs+56 */

  map_tracked = map_create("stk_tracked", BPF_MAP_TYPE_HASH, 4, 4, TRACKED_MAX);
  map_seen = map_create("stk_seen", BPF_MAP_TYPE_ARRAY, 4, 4, NR_SLOTS);
  map_argvals = map_create("stk_argvals", BPF_MAP_TYPE_HASH, 8, 4, ARGVALS_MAX);
  map_stats = map_create("stk_stats", BPF_MAP_TYPE_ARRAY, 4, 8, NSTATS);
  size_t ring_bytes = (size_t)ring_mb << 20;
  if (events) {
    map_interest = map_create("stk_interest", BPF_MAP_TYPE_ARRAY, 4, 4, NR_SLOTS);
    map_pending = map_create("stk_pending", BPF_MAP_TYPE_HASH, 4, PENDING_SIZE, TRACKED_MAX);
    map_scratch = map_create("stk_scratch", BPF_MAP_TYPE_PERCPU_ARRAY, 4, SCRATCH_SIZE, 1);
    map_events = map_create("stk_events", BPF_MAP_TYPE_RINGBUF, 0, 0, (unsigned)ring_bytes);
    for (uint32_t k = 0; k < NR_SLOTS; k++) if (config[k]) update_elem(map_interest, &k, &config[k]);
    ring_open(ring_bytes);
    int fl = fcntl(events_fd, F_GETFL);
    if (fl < 0 || fcntl(events_fd, F_SETFL, fl | O_NONBLOCK) != 0) fail(errno, "fcntl(--events-fd, O_NONBLOCK)");
  }
  if (want_caps) map_caps = map_create("stk_caps", BPF_MAP_TYPE_ARRAY, 4, 4, 128);

  /* A: sched_process_exec. */
  static struct prog pa, pb, pc, pd, pe, pf;
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

  /* B: sched_process_fork (current = parent). */
  out = newlab(&pb);
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

  /* C: raw_syscalls/sys_enter. */
  out = newlab(&pc);
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

  /* D: sched_process_exit (current = the exiting thread). */
  out = newlab(&pd);
  emit(&pd, CALL(get_current_pid_tgid));
  emit(&pd, STX(BPF_W, FP, R0, S_KEY));
  map_call(&pd, BPF_FUNC_map_delete_elem, map_tracked, S_KEY);
  if (events) map_call(&pd, BPF_FUNC_map_delete_elem, map_pending, S_KEY);
  finish(&pd, out);

  /* E: raw_syscalls/sys_exit: the SYSCALL record. Registers: r6 ctx then the record, r7 pid_tgid
   * then the pending entry then len0, r8 nr then len1, r9 CONFIG. */
  if (events) {
    out = newlab(&pe);
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
    emit(&pe, MOV_REG(R1, R9));
    emit(&pe, ALU_IMM(BPF_AND, R1, C_P0));
    jmp(&pe, JIMM(BPF_JEQ, R1, 0), nop0);
    arg_of(&pe, R6, 1);
    emit(&pe, MOV_REG(R1, R6));
    emit(&pe, ALU_IMM(BPF_ADD, R1, HDR));
    emit(&pe, MOV_IMM(R2, STR_MAX));
    emit(&pe, CALL(probe_read_user_str));
    keep_length(&pe, R7);
    here(&pe, nop0);
    /* Path 1 right after path 0. */
    emit(&pe, MOV_REG(R1, R9));
    emit(&pe, ALU_IMM(BPF_AND, R1, C_P1));
    jmp(&pe, JIMM(BPF_JEQ, R1, 0), nop1);
    arg_of(&pe, R6, 5);
    emit(&pe, MOV_REG(R1, R6));
    emit(&pe, ALU_REG(BPF_ADD, R1, R7));
    emit(&pe, ALU_IMM(BPF_ADD, R1, HDR));
    emit(&pe, MOV_IMM(R2, STR_MAX));
    emit(&pe, CALL(probe_read_user_str));
    keep_length(&pe, R8);
    here(&pe, nop1);
    /* A sockaddr at HDR (never together with a path). */
    emit(&pe, MOV_REG(R1, R9));
    emit(&pe, ALU_IMM(BPF_AND, R1, C_SOCK));
    jmp(&pe, JIMM(BPF_JEQ, R1, 0), nosock);
    arg_of(&pe, R6, 9);
    emit(&pe, MOV_REG(R1, R6));
    emit(&pe, ALU_IMM(BPF_ADD, R1, HDR));
    emit(&pe, MOV_IMM(R2, SOCKADDR_BYTES));
    emit(&pe, CALL(probe_read_user));
    jmp(&pe, JIMM(BPF_JNE, R0, 0), nosock);
    emit(&pe, MOV_IMM(R7, SOCKADDR_BYTES));
    here(&pe, nosock);
    /* A u64 behind a pointer argument (open_how.flags) into aux. */
    emit(&pe, MOV_REG(R1, R9));
    emit(&pe, ALU_IMM(BPF_AND, R1, C_DEREF));
    jmp(&pe, JIMM(BPF_JEQ, R1, 0), noderef);
    arg_of(&pe, R6, 13);
    emit(&pe, MOV_REG(R1, R6));
    emit(&pe, ALU_IMM(BPF_ADD, R1, H_AUX));
    emit(&pe, MOV_IMM(R2, 8));
    emit(&pe, CALL(probe_read_user));
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
  }

  /* F: capability/cap_capable: caps[cap * 2 + granted] = 1. */
  if (want_caps) {
    out = newlab(&pf);
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
  }

  int fa = prog_load("exec", &pa, events), fb = prog_load("fork", &pb, 1), fc = prog_load("sys_enter", &pc, 1), fd = prog_load("exit", &pd, 0);
  int fe = events ? prog_load("sys_exit", &pe, 1) : -1, ff = want_caps ? prog_load("cap_capable", &pf, 0) : -1;
  /* Exec last: once a task can become tracked, everything else is already live. */
  attach("sched_process_exit", fd, 0);
  attach("sched_process_fork", fb, 0);
  const int caps = want_caps && attach("cap_capable", ff, 1) == 0; /* Linux 6.14+ */
  if (events) attach("sys_exit", fe, 0);
  attach("sys_enter", fc, 0);
  attach("sched_process_exec", fa, 0);

  if (write(ready_fd, "ready\n", 6) != 6) fail(errno ? errno : EIO, "write(--ready-fd)");
  if (ready_fd > 2) close(ready_fd);
  char sink[4096];
  for (;;) {
    struct pollfd pf2[3] = { { .fd = 0, .events = POLLIN }, { .fd = events ? map_events : -1, .events = POLLIN },
                             { .fd = q_head && q_bytes ? events_fd : -1, .events = POLLOUT } };
    int r = poll(pf2, 3, events ? 50 : -1);
    if (r < 0 && errno != EINTR) fail(errno, "poll");
    if (events) {
      ring_drain();
      queue_flush(0);
    }
    if (r > 0 && (pf2[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(0, sink, sizeof sink);
      if (got == 0) break;
      if (got < 0 && errno != EINTR && errno != EAGAIN) fail(errno, "read(stdin)");
    }
  }
  detach_all(); /* the rest of the system stops paying */
  if (events) {
    /* The workload has ended: what is in the ring is all there is. */
    do {
      ring_drain();
      queue_flush(1);
    } while (__atomic_load_n(rb_cons, __ATOMIC_ACQUIRE) < __atomic_load_n(rb_prod, __ATOMIC_ACQUIRE));
    close(events_fd);
  }

  uint64_t stats[NSTATS] = { 0 };
  for (uint32_t k = 0; k < NSTATS; k++)
    if (lookup_elem(map_stats, &k, &stats[k]) != 0) fail(errno, "bpf(BPF_MAP_LOOKUP_ELEM) for stats");
  printf("{\"syscalls\":[");
  const char *sep = "";
  for (uint32_t k = 0; k < NR_SLOTS; k++) {
    uint32_t v = 0;
    if (lookup_elem(map_seen, &k, &v) != 0) fail(errno, "bpf(BPF_MAP_LOOKUP_ELEM) for seen");
    if (v) { printf("%s%" PRIu32, sep, k); sep = ","; }
  }
  static uint64_t keys[ARGVALS_MAX];
  size_t nkeys = 0;
  union bpf_attr a;
  uint64_t cur = 0, next;
  for (int first = 1; nkeys < ARGVALS_MAX; first = 0) {
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)map_argvals;
    a.key = first ? 0 : (uint64_t)(uintptr_t)&cur; /* NULL key: first key */
    a.next_key = (uint64_t)(uintptr_t)&next;
    if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) != 0) {
      if (errno == ENOENT) break;
      fail(errno, "bpf(BPF_MAP_GET_NEXT_KEY) for argvals");
    }
    keys[nkeys++] = cur = next;
  }
  qsort(keys, nkeys, sizeof keys[0], cmp_u64);
  qsort(arg_nrs, (size_t)n_arg_nrs, sizeof arg_nrs[0], cmp_long);
  printf("],\"args\":[");
  for (int i = 0; i < n_arg_nrs; i++) {
    printf("%s{\"nr\":%ld,\"arg0\":[", i ? "," : "", arg_nrs[i]);
    sep = "";
    for (size_t j = 0; j < nkeys; j++)
      if ((long)(keys[j] >> 32) == arg_nrs[i]) { printf("%s%" PRIu32, sep, (uint32_t)keys[j]); sep = ","; }
    printf("]}");
  }
  printf("],\"caps\":");
  if (!caps) printf("null");
  else {
    for (int granted = 1; granted >= 0; granted--) {
      printf(granted ? "{\"granted\":[" : "],\"denied\":[");
      sep = "";
      for (uint32_t c = 0; c < 64; c++) {
        uint32_t k = c * 2 + (uint32_t)granted, v = 0;
        if (lookup_elem(map_caps, &k, &v) != 0) fail(errno, "bpf(BPF_MAP_LOOKUP_ELEM) for caps");
        if (v) { printf("%s%" PRIu32, sep, c); sep = ","; }
      }
    }
    printf("]}");
  }
  printf(",\"tracked\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"events_lost\":%" PRIu64 "}\n", stats[STAT_TRACKED], stats[STAT_LOST], stats[STAT_EVENTS_LOST]);
  if (fflush(stdout) != 0 || ferror(stdout)) fail(errno ? errno : EIO, "write(stdout)");
  return 0;
}
