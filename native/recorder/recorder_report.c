/*
 * recorder_report.c (ebpf-recorder): the JSON line printed at the end, read from the `stats`,
 * `seen`, `argvals` and `caps` maps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ebpf_recorder.h"

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}
static int cmp_long(const void *x, const void *y) {
  long a = *(const long *)x, b = *(const long *)y;
  return a < b ? -1 : a > b;
}
/* Prints {"syscalls":[..],"args":[..],"caps":..,"tracked":N,"lost":N,"events_lost":N} (sorts arg_nrs). */
void report(long *arg_nrs, int n_arg_nrs, int caps) {
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
}
