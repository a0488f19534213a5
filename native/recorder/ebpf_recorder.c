/*
 * ebpf-recorder: records the set of syscalls a workload makes, without a ptrace stop per syscall.
 * Hand-written eBPF bytecode on tracepoints, loaded with the bpf() syscall (no libbpf/clang).
 *
 *   ebpf-recorder --cgroup-id N [--arg-syscall NR]... [--exclude-comm NAME] --ready-fd FD
 *
 * Loads and attaches everything, writes "ready\n" to FD (then closes it), waits for EOF on stdin,
 * prints one JSON line {"syscalls":[..],"args":[{"nr":41,"arg0":[..]}],"tracked":N,"lost":N}, exit 0.
 * "args" has one entry per distinct --arg-syscall, ascending (arg0 may be []); arg0 values are the
 * low 32 bits of the first argument, unsigned. "tracked" counts insertions into `tracked` (tasks;
 * a non-leader exec re-inserts its tgid), "lost" counts failed inserts (a full `tracked` or
 * `argvals` map). Errors: one line on stderr naming the step, exit 1; usage errors exit 2.
 *
 * Maps:  tracked  HASH  u32 tid -> u32   tasks whose syscalls count
 *        seen     ARRAY 1024 x u32       seen[nr] = 1
 *        argvals  HASH  u64 (nr << 32 | (u32)arg0) -> u32
 *        stats    ARRAY 2 x u64          [0] tracked inserts, [1] lost inserts
 * Programs (BPF_PROG_TYPE_TRACEPOINT; record offsets read from tracefs .../format at run time):
 *   sched/sched_process_exec  cgroup id == CGID, or the pre-exec tid (old_pid) tracked: track the tgid
 *                             (and forget old_pid, which a non-leader exec gives up).
 *   sched/sched_process_fork  parent tid or tgid tracked: track child_pid (process or thread).
 *   sched/sched_process_exit  untrack the exiting tid, so a recycled pid is never recorded.
 *   raw_syscalls/sys_enter    tid or tgid tracked, comm != exclude: seen[id] = 1; for --arg-syscall
 *                             numbers also insert into argvals.
 * Tracking follows the process tree (a tracked task that leaves the cgroup stays tracked); a task
 * moved into the cgroup counts only once it execs there. Ids are global, so pid namespaces are fine.
 * Structurally invisible: everything a task does before its first successful execve in the cgroup,
 * including that execve itself (sys_enter fires before sched_process_exec tracks the task), so the
 * caller adds execve itself (exit/exit_group are seen when made). Also invisible: syscalls a seccomp
 * filter rejects or a ptracer
 * skips (the kernel runs ptrace and seccomp before the sys_enter tracepoint), and syscalls of a
 * task whose comm equals --exclude-comm (for strace this includes the tracee's first execve, which
 * starts while its comm is still "strace").
 * Limitation: only the native arch (x86_64) is meaningful. Compat (i386, int 0x80) tasks report
 * i386 numbers in the same tracepoint and would be mixed in; splitting them needs a map per arch
 * keyed by the task's compat state (not done). x32 numbers (bit 30 set) fall outside seen[].
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <linux/perf_event.h>

#define NR_SLOTS 1024
#define TRACKED_MAX 32768
#define ARGVALS_MAX 4096
#define MAX_ARG_NRS 16
#define MAX_INSNS 192
#define MAX_LABELS 48
enum { STAT_TRACKED, STAT_LOST, NSTATS };
enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };
/* Stack slots (offsets from FP). */
#define S_KEY (-4)       /* u32 key of `tracked` / `seen` */
#define S_VAL (-8)       /* u32 value 1 */
#define S_STAT (-12)     /* u32 key of `stats` */
#define S_COMM (-32)     /* char[16] from bpf_get_current_comm */
#define S_ARGKEY (-40)   /* u64 key of `argvals` */

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
  fprintf(stderr, "ebpf-recorder: %s\nusage: ebpf-recorder --cgroup-id N [--arg-syscall NR]... [--exclude-comm NAME] --ready-fd FD\n", why);
  exit(2);
}

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof *a); }

#include "bpf_asm.h" /* the assembler: instruction macros, labels, ld64 */

static int map_tracked, map_seen, map_argvals, map_stats;

/* r1 = map, r2 = fp + key_slot, r3 = fp + S_VAL, r4 = BPF_NOEXIST, then call `helper`
 * (lookup/delete read only r1-r2). r0 = result; r1-r5 are clobbered, as by every helper call. */
static void map_call(struct prog *p, int helper, int map, int key_slot) {
  ld64(p, R1, (uint64_t)map, BPF_PSEUDO_MAP_FD);
  emit(p, MOV_REG(R2, FP));
  emit(p, ALU_IMM(BPF_ADD, R2, key_slot));
  if (helper == BPF_FUNC_map_update_elem) {
    emit(p, ST(BPF_W, FP, S_VAL, 1));
    emit(p, MOV_REG(R3, FP));
    emit(p, ALU_IMM(BPF_ADD, R3, S_VAL));
    emit(p, MOV_IMM(R4, BPF_NOEXIST));
  }
  emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper));
}
static void lookup(struct prog *p, int map, int slot) { map_call(p, BPF_FUNC_map_lookup_elem, map, slot); }
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
static void finish(struct prog *p, int out) {
  here(p, out);
  emit(p, MOV_IMM(R0, 0)); /* 0: no perf sample is generated */
  emit(p, EXIT());
  resolve(p);
}

/* ---- tracepoint record layouts ---- */
static const char *tracefs = "/sys/kernel/tracing";
struct field { int off, size; };

static void read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) fail(errno, "open %s", path);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
}
/* Offset and size of `name` in events/<event>/format; lines look like
 *   field:unsigned long args[6];	offset:16;	size:48;	signed:0; */
static struct field field_of(const char *event, const char *name, int want_size) {
  char path[256], buf[8192];
  snprintf(path, sizeof path, "%s/events/%s/format", tracefs, event);
  read_file(path, buf, sizeof buf);
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    char *f = strstr(line, "field:"), *semi = f ? strchr(f, ';') : NULL, *o = strstr(line, "offset:"), *s = strstr(line, "size:");
    if (!semi || !o || !s) continue;
    char *end = semi;
    while (end > f && end[-1] == ']') { while (end > f && end[-1] != '[') end--; if (end > f) end--; }
    char *start = end;
    while (start > f && start[-1] != ' ') start--;
    if ((size_t)(end - start) != strlen(name) || strncmp(start, name, strlen(name)) != 0) continue;
    struct field r = { atoi(o + 7), atoi(s + 5) };
    if (r.off < 0 || r.off > 4096 || r.off % (want_size < 8 ? want_size : 8) != 0 || r.size % want_size != 0) break;
    return r;
  }
  fprintf(stderr, "ebpf-recorder: %s: no usable field %s of size %d\n", path, name, want_size);
  exit(1);
}
static uint64_t tracepoint_id(const char *event) {
  char path[256], buf[64];
  snprintf(path, sizeof path, "%s/events/%s/id", tracefs, event);
  read_file(path, buf, sizeof buf);
  return strtoull(buf, NULL, 10);
}
static int is_tracefs(const char *dir) {
  struct statfs st;
  return statfs(dir, &st) == 0 && st.f_type == TRACEFS_MAGIC;
}
static void find_tracefs(void) {
  if (is_tracefs(tracefs) || mount("nodev", tracefs, "tracefs", 0, NULL) == 0) return;
  int err = errno;
  if (is_tracefs("/sys/kernel/debug/tracing")) { tracefs = "/sys/kernel/debug/tracing"; return; }
  fail(err, "mount -t tracefs nodev /sys/kernel/tracing");
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
static char vlog[1 << 20];
/* Loads without a log; on failure loads again with the verifier log to print it. */
static int prog_load(const char *name, struct prog *p) {
  union bpf_attr a;
  int err = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
    a.insns = (uint64_t)(uintptr_t)p->in;
    a.insn_cnt = (uint32_t)p->n;
    a.license = (uint64_t)(uintptr_t)"Apache-2.0"; /* only non-GPL-only helpers are used */
    snprintf(a.prog_name, sizeof a.prog_name, "stk_%s", name);
    if (attempt) { a.log_level = 1; a.log_buf = (uint64_t)(uintptr_t)vlog; a.log_size = sizeof vlog; }
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) return fd;
    if (!attempt) err = errno;
  }
  /* EACCES with a log is the verifier's rejection, not a privilege problem. */
  fprintf(stderr, "ebpf-recorder: bpf(BPF_PROG_LOAD) for %s: %s%s\n%s", name, strerror(err), vlog[0] ? "" : PERM_HINT(err), vlog);
  exit(1);
}
/* One perf event (pid -1, cpu 0) per tracepoint. A BPF program attached to a tracepoint perf event
 * joins the tracepoint's program array and runs on every CPU, so one event is enough; attaching the
 * same program to a second (per-CPU) event fails with EEXIST. */
static int perf_fds[4], n_perf;
static void attach(const char *event, int prog) {
  struct perf_event_attr pa;
  memset(&pa, 0, sizeof pa);
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.size = sizeof pa;
  pa.config = tracepoint_id(event);
  int fd = (int)syscall(__NR_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) fail(errno, "perf_event_open(%s)", event);
  if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) != 0) fail(errno, "ioctl(PERF_EVENT_IOC_SET_BPF) for %s", event);
  if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) fail(errno, "ioctl(PERF_EVENT_IOC_ENABLE) for %s", event);
  perf_fds[n_perf++] = fd;
}
static int lookup_elem(int map, const void *key, void *val) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)map;
  a.key = (uint64_t)(uintptr_t)key;
  a.value = (uint64_t)(uintptr_t)val;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
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
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > max) { char m[96]; snprintf(m, sizeof m, "bad %s: %s", what, s); usage(m); }
  return v;
}

int main(int argc, char **argv) {
  uint64_t cgid = 0;
  long arg_nrs[MAX_ARG_NRS];
  int n_arg_nrs = 0, ready_fd = -1, have_cgid = 0;
  char comm[16] = { 0 };
  const char *exclude = NULL;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--help") == 0) usage("records the syscalls of a cgroup's workload");
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
    } else {
      usage("unknown option");
    }
  }
  if (!have_cgid || ready_fd < 0) usage("--cgroup-id and --ready-fd are required");
  signal(SIGPIPE, SIG_IGN);

  find_tracefs();
  struct field f_id = field_of("raw_syscalls/sys_enter", "id", 4);
  struct field f_args = field_of("raw_syscalls/sys_enter", "args", 8);
  struct field f_child = field_of("sched/sched_process_fork", "child_pid", 4);
  struct field f_pid = field_of("sched/sched_process_exec", "pid", 4);
  struct field f_old = field_of("sched/sched_process_exec", "old_pid", 4);
  need((f_id.size == 4 || f_id.size == 8) && f_id.off % f_id.size == 0, "raw_syscalls/sys_enter: unexpected layout of id");

  map_tracked = map_create("stk_tracked", BPF_MAP_TYPE_HASH, 4, 4, TRACKED_MAX);
  map_seen = map_create("stk_seen", BPF_MAP_TYPE_ARRAY, 4, 4, NR_SLOTS);
  map_argvals = map_create("stk_argvals", BPF_MAP_TYPE_HASH, 8, 4, ARGVALS_MAX);
  map_stats = map_create("stk_stats", BPF_MAP_TYPE_ARRAY, 4, 8, NSTATS);

  /* A: sched_process_exec. */
  static struct prog pa, pb, pc, pd;
  int out = newlab(&pa), trk = newlab(&pa);
  emit(&pa, MOV_REG(R6, R1));
  emit(&pa, CALL(get_current_cgroup_id));
  ld64(&pa, R1, cgid, 0);
  jmp(&pa, JREG(BPF_JEQ, R0, R1), trk);
  emit(&pa, LDX(BPF_W, R1, R6, f_old.off)); /* exec by a tracked task outside the cgroup */
  emit(&pa, STX(BPF_W, FP, R1, S_KEY));
  lookup(&pa, map_tracked, S_KEY);
  jmp(&pa, JIMM(BPF_JEQ, R0, 0), out);
  here(&pa, trk);
  emit(&pa, CALL(get_current_pid_tgid));
  emit(&pa, ALU_IMM(BPF_RSH, R0, 32));
  emit(&pa, STX(BPF_W, FP, R0, S_KEY));
  track(&pa);
  emit(&pa, LDX(BPF_W, R1, R6, f_old.off)); /* a non-leader thread exec'd: its old tid is gone */
  emit(&pa, LDX(BPF_W, R2, R6, f_pid.off));
  jmp(&pa, JREG(BPF_JEQ, R1, R2), out);
  emit(&pa, STX(BPF_W, FP, R1, S_KEY));
  map_call(&pa, BPF_FUNC_map_delete_elem, map_tracked, S_KEY);
  finish(&pa, out);

  /* B: sched_process_fork (current = parent). */
  out = newlab(&pb);
  emit(&pb, MOV_REG(R6, R1));
  emit(&pb, CALL(get_current_pid_tgid));
  emit(&pb, MOV_REG(R7, R0));
  if_untracked(&pb, out);
  emit(&pb, LDX(BPF_W, R1, R6, f_child.off));
  emit(&pb, STX(BPF_W, FP, R1, S_KEY));
  track(&pb);
  finish(&pb, out);

  /* C: raw_syscalls/sys_enter. */
  out = newlab(&pc);
  int mark_done = newlab(&pc), argpath = newlab(&pc);
  emit(&pc, MOV_REG(R6, R1));
  emit(&pc, CALL(get_current_pid_tgid));
  emit(&pc, MOV_REG(R7, R0));
  if_untracked(&pc, out);
  if (exclude) { /* comm == exclude: compare the 16 NUL-padded bytes as two u64 */
    uint64_t c0, c1;
    memcpy(&c0, comm, 8);
    memcpy(&c1, comm + 8, 8);
    int keep = newlab(&pc);
    emit(&pc, MOV_REG(R1, FP));
    emit(&pc, ALU_IMM(BPF_ADD, R1, S_COMM));
    emit(&pc, MOV_IMM(R2, 16));
    emit(&pc, CALL(get_current_comm));
    emit(&pc, LDX(BPF_DW, R1, FP, S_COMM));
    ld64(&pc, R2, c0, 0);
    jmp(&pc, JREG(BPF_JNE, R1, R2), keep);
    emit(&pc, LDX(BPF_DW, R1, FP, S_COMM + 8));
    ld64(&pc, R2, c1, 0);
    jmp(&pc, JREG(BPF_JEQ, R1, R2), out);
    here(&pc, keep);
  }
  emit(&pc, LDX(f_id.size == 8 ? BPF_DW : BPF_W, R8, R6, f_id.off));
  jmp(&pc, JIMM(BPF_JGE, R8, NR_SLOTS), out); /* unsigned: also drops -1 and x32 numbers */
  emit(&pc, STX(BPF_W, FP, R8, S_KEY));
  lookup(&pc, map_seen, S_KEY);
  jmp(&pc, JIMM(BPF_JEQ, R0, 0), mark_done);
  emit(&pc, LDX(BPF_W, R1, R0, 0));
  jmp(&pc, JIMM(BPF_JNE, R1, 0), mark_done); /* read first: keep the cache line shared */
  emit(&pc, ST(BPF_W, R0, 0, 1));
  here(&pc, mark_done);
  if (n_arg_nrs > 0) { /* (without any, the argvals code would be unreachable: the verifier rejects that) */
    for (int i = 0; i < n_arg_nrs; i++) jmp(&pc, JIMM(BPF_JEQ, R8, (int32_t)arg_nrs[i]), argpath);
    jmp(&pc, JA(), out);
    here(&pc, argpath);
    emit(&pc, LDX(BPF_DW, R1, R6, f_args.off)); /* args[0] */
    emit(&pc, ALU_IMM(BPF_LSH, R1, 32));
    emit(&pc, ALU_IMM(BPF_RSH, R1, 32));
    emit(&pc, MOV_REG(R2, R8));
    emit(&pc, ALU_IMM(BPF_LSH, R2, 32));
    emit(&pc, ALU_REG(BPF_OR, R1, R2));
    emit(&pc, STX(BPF_DW, FP, R1, S_ARGKEY));
    map_call(&pc, BPF_FUNC_map_update_elem, map_argvals, S_ARGKEY);
    jmp(&pc, JIMM(BPF_JEQ, R0, 0), out);
    jmp(&pc, JIMM(BPF_JEQ, R0, -EEXIST), out);
    count(&pc, STAT_LOST);
  }
  finish(&pc, out);

  /* D: sched_process_exit (current = the exiting thread). */
  out = newlab(&pd);
  emit(&pd, CALL(get_current_pid_tgid));
  emit(&pd, STX(BPF_W, FP, R0, S_KEY));
  map_call(&pd, BPF_FUNC_map_delete_elem, map_tracked, S_KEY);
  finish(&pd, out);

  int fa = prog_load("exec", &pa), fb = prog_load("fork", &pb), fc = prog_load("sys_enter", &pc), fd = prog_load("exit", &pd);
  /* Exec last: once a task can become tracked, fork/exit/sys_enter are already live. */
  attach("sched/sched_process_exit", fd);
  attach("sched/sched_process_fork", fb);
  attach("raw_syscalls/sys_enter", fc);
  attach("sched/sched_process_exec", fa);

  if (write(ready_fd, "ready\n", 6) != 6) fail(errno ? errno : EIO, "write(--ready-fd)");
  if (ready_fd > 2) close(ready_fd);
  char sink[4096];
  for (;;) {
    ssize_t r = read(0, sink, sizeof sink);
    if (r == 0) break;
    if (r < 0 && errno != EINTR) fail(errno, "read(stdin)");
  }
  for (int i = 0; i < n_perf; i++) close(perf_fds[i]); /* detach: the rest of the system stops paying */

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
  printf("],\"tracked\":%" PRIu64 ",\"lost\":%" PRIu64 "}\n", stats[STAT_TRACKED], stats[STAT_LOST]);
  if (fflush(stdout) != 0 || ferror(stdout)) fail(errno ? errno : EIO, "write(stdout)");
  return 0;
}
