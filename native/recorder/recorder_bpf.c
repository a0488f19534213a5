/*
 * recorder_bpf.c (ebpf-recorder): fatal errors, and the bpf() objects: maps, program loading
 * (with the verifier's log on failure), raw tracepoint links, and element lookups and updates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "ebpf_recorder.h"

/* Fatal: "ebpf-recorder: <step>: <strerror(err)>", exit 1. */
__attribute__((format(printf, 2, 3))) void fail(int err, const char *fmt, ...) {
  char step[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(step, sizeof step, fmt, ap);
  va_end(ap);
  fprintf(stderr, "ebpf-recorder: %s: %s%s\n", step, strerror(err), PERM_HINT(err));
  exit(1);
}
void need(int ok, const char *what) {
  if (!ok) { fprintf(stderr, "ebpf-recorder: %s\n", what); exit(1); }
}

long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof *a); }

/* ---- bpf objects ---- */
int map_create(const char *name, enum bpf_map_type type, unsigned key, unsigned val, unsigned max) {
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
int prog_load(const char *name, struct prog *p, int gpl) {
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
int attach(const char *tp, int prog, int optional) {
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
void detach_all(void) {
  for (int i = 0; i < n_links; i++) close(links[i]);
}
int lookup_elem(int map, const void *key, void *val) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)map;
  a.key = (uint64_t)(uintptr_t)key;
  a.value = (uint64_t)(uintptr_t)val;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}
void update_elem(int map, const void *key, const void *val) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)map;
  a.key = (uint64_t)(uintptr_t)key;
  a.value = (uint64_t)(uintptr_t)val;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) != 0) fail(errno, "bpf(BPF_MAP_UPDATE_ELEM) for interest");
}
