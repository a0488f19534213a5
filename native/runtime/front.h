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

/** One line on stderr (and in --log) as it is, then exit: `stockade-runtime: LINE`. */
noreturn void fail_line(int code, const char *line);
/** The directory of /proc/self/exe (native/build/) into out[PATH_MAX]; -1 when unreadable. */
int exe_dir(char *out);

/* front_json.c: flat JSON objects (strings, integers, booleans, null), parsed in place. */
struct jfield {
  char *key;
  char type; /* 's', 'n', 'b' (num 0 or 1), 'z' (null) */
  char *str;
  long long num;
};
int json_flat(char *line, struct jfield *f, int max);
/** The field `key` if it has that type, else NULL. */
const struct jfield *json_get(const struct jfield *f, int n, const char *key, char type);
struct buf {
  char *p;
  size_t len, cap;
};
void buf_add(struct buf *b, const char *s, size_t n);
void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** `s` as a JSON string. */
void buf_str(struct buf *b, const char *s);

/* front_create.c: `create` planned by the warm planner; returns only when Node must do it. */
void warm_create(const char *root, int argc, char **argv);

#endif
