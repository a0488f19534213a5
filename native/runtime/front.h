/*
 * stockade-runtime-front: start, kill and delete without Node (docs/oci-runtime.md, "The fast
 * path"). front.c reads the command line and hands everything else to Node; front_ops.c does the
 * three operations from the container's `fast` file.
 */
#ifndef STOCKADE_FRONT_H
#define STOCKADE_FRONT_H

#include <limits.h>
#include <stdnoreturn.h>

#define FRONT_MAX_CGROUPS 32

/** <root>/<id>/fast, as src/oci-runtime/create.ts writes it. A start time of 0 means unknown. */
struct fast {
  long monitor;
  unsigned long long monitor_start;
  long workload;
  unsigned long long workload_start;
  long init;
  int hooks;
  int ncgroups;
  char cgroups[FRONT_MAX_CGROUPS][PATH_MAX];
};

/** One line on stderr (and in --log), then exit: `stockade-runtime: WHERE: MESSAGE`. */
noreturn void fail(int code, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** exec node on dist/src/oci-runtime/cli.js with the original arguments. */
noreturn void handoff(void);

/** 0 when read, 1 when absent, -1 when unreadable or not in the expected format. */
int load_fast(int dirfd, struct fast *f);
int op_start(int dirfd, const struct fast *f, const char *id);
int op_kill(int dirfd, const struct fast *f, const char *id, int sig, int all);
int op_delete(int dirfd, const struct fast *f, const char *dir, const char *id, int force);

#endif
