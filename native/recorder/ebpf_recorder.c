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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ebpf_recorder.h"

/* Files: ebpf_recorder.h (shared declarations), recorder_bpf.c (errors, bpf objects), recorder_btf.c
 * (kernel layouts), recorder_emit.c (shared instruction sequences), recorder_prog_task.c and
 * recorder_prog_syscall.c (the programs), recorder_ring.c (the ring buffer consumer),
 * recorder_report.c (the JSON line); this file: options, setup, and the main loop. */

int map_tracked, map_seen, map_argvals, map_stats, map_interest = -1, map_pending = -1, map_scratch = -1, map_events = -1, map_caps = -1;
const char *exclude;
uint64_t comm0, comm1;

static void usage(const char *why) {
  fprintf(stderr, "ebpf-recorder: %s\nusage: ebpf-recorder --cgroup-id N [--arg-syscall NR]... [--exclude-comm NAME] [--caps] "
                  "[--events-fd FD [--syscall NR:CONFIG]... [--ring-mb N]] --ready-fd FD\n", why);
  exit(2);
}
static long parse_num(const char *s, long max, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno || end == s || *end || v < 0 || v > max) { char m[96]; snprintf(m, sizeof m, "bad %s: %s", what, s); usage(m); }
  return v;
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
  const int task_pid = btf_member_offset("task_struct", "pid");
  const int bprm_filename = events ? btf_member_offset("linux_binprm", "filename") : 0;

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

  struct prog *pa = build_exec(cgid, events, bprm_filename), *pb = build_fork(events, task_pid);
  struct prog *pc = build_sys_enter(events, arg_nrs, n_arg_nrs), *pd = build_exit(events);
  struct prog *pe = events ? build_sys_exit() : NULL, *pf = want_caps ? build_cap_capable() : NULL;

  int fa = prog_load("exec", pa, events), fb = prog_load("fork", pb, 1), fc = prog_load("sys_enter", pc, 1), fd = prog_load("exit", pd, 0);
  int fe = events ? prog_load("sys_exit", pe, 1) : -1, ff = want_caps ? prog_load("cap_capable", pf, 0) : -1;
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

  report(arg_nrs, n_arg_nrs, caps);
  return 0;
}
