/*
 * start, kill and delete from <root>/<id>/fast (front.h). They do what src/oci-runtime/lifecycle.ts
 * does for a container without start or stop hooks, with the same messages.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

enum status { CREATED, RUNNING, STOPPED };
static const char *const STATUS[] = {"created", "running", "stopped"};

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static const char *err(int e) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s", strerror(e));
  if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

/* Decimal at *p (no sign, no blanks), at most max; advances *p. -1 when there is none. */
static int number(const char **p, unsigned long long max, unsigned long long *out) {
  unsigned long long v = 0;
  const char *s = *p;
  if (*s < '0' || *s > '9') return -1;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (v > (max - (unsigned long long)(*s - '0')) / 10) return -1;
    v = v * 10 + (unsigned long long)(*s - '0');
  }
  *p = s;
  *out = v;
  return 0;
}

/* "A" (b == NULL) or "A B": a pid, then a start time. */
static int numbers(const char *p, unsigned long long *a, unsigned long long *b) {
  if (number(&p, INT_MAX, a) < 0) return -1;
  if (b && (*p++ != ' ' || number(&p, ~0ULL, b) < 0)) return -1;
  return *p == '\0' ? 0 : -1;
}

int load_fast(int dirfd, struct fast *f) {
  static char buf[FRONT_MAX_CGROUPS * PATH_MAX + 512];
  int fd = openat(dirfd, "fast", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 1 : -1;
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
  close(fd);
  if (len == sizeof buf - 1) return -1;
  buf[len] = '\0';
  memset(f, 0, sizeof *f);
  int magic = 0, monitor = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    unsigned long long a = 0, b = 0;
    if (!magic) {
      if (strcmp(line, "stockade-fast 1") != 0) return -1;
      magic = 1;
    } else if (strncmp(line, "monitor ", 8) == 0) {
      if (numbers(line + 8, &a, &b) < 0) return -1;
      f->monitor = (long)a, f->monitor_start = b, monitor = 1;
    } else if (strncmp(line, "workload ", 9) == 0) {
      if (numbers(line + 9, &a, &b) < 0) return -1;
      f->workload = (long)a, f->workload_start = b;
    } else if (strncmp(line, "init ", 5) == 0) {
      if (numbers(line + 5, &a, NULL) < 0) return -1;
      f->init = (long)a;
    } else if (strncmp(line, "hooks ", 6) == 0) {
      if (numbers(line + 6, &a, NULL) < 0 || a > 1) return -1;
      f->hooks = (int)a;
    } else if (strncmp(line, "cgroup ", 7) == 0) {
      size_t l = strlen(line + 7);
      if (line[7] != '/' || l >= PATH_MAX - 32 || f->ncgroups == FRONT_MAX_CGROUPS) return -1;
      memcpy(f->cgroups[f->ncgroups++], line + 7, l + 1);
    } else {
      return -1; /* a later format: Node reads state.json */
    }
  }
  return magic && monitor ? 0 : -1;
}

/* Field 22 of /proc/PID/stat (start time), or 0 when the process is gone, a zombie or dead. */
static unsigned long long proc_start(long pid) {
  char path[64], buf[1024];
  if (pid <= 0) return 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p || p[1] != ' ') return 0;
  p += 2; /* field 3, the state */
  if (*p == 'Z' || *p == 'X') return 0;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  unsigned long long start;
  const char *q = p;
  return number(&q, ~0ULL, &start) < 0 ? 0 : start;
}

static int alive(long pid, unsigned long long start) {
  return start != 0 && proc_start(pid) == start;
}

static enum status status_of(int dirfd, const struct fast *f) {
  if (!alive(f->monitor, f->monitor_start)) return STOPPED;
  return faccessat(dirfd, "started", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? RUNNING : CREATED;
}

static void signal_pid(long pid, int sig) {
  if (pid <= 0 || pid == (long)getpid()) return; /* never 0 or -1: those mean groups */
  if (kill((pid_t)pid, sig) < 0 && errno != ESRCH) fail(1, "kill", "cannot signal process %ld: %s", pid, err(errno));
}

/* Signals every process listed in the container's cgroups (when sig > 0); returns how many were listed. */
static int cgroup_pids(const struct fast *f, int sig) {
  int count = 0;
  for (int c = 0; c < f->ncgroups; c++) {
    char path[PATH_MAX], buf[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", f->cgroups[c]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue; /* gone */
    long pid = 0;
    int digits = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          pid = pid > 100000000L ? pid : pid * 10 + (buf[i] - '0'); /* past pid_max: ESRCH, never a wrap */
          digits++;
        } else if (digits) {
          if (sig > 0) signal_pid(pid, sig);
          count++;
          pid = 0, digits = 0;
        }
      }
    }
    if (digits) {
      if (sig > 0) signal_pid(pid, sig);
      count++;
    }
    close(fd);
  }
  return count;
}

int op_start(int dirfd, const struct fast *f, const char *id) {
  if (f->hooks) handoff(); /* startContainer and poststart hooks: Node runs them */
  enum status st = status_of(dirfd, f);
  if (st != CREATED) fail(1, "container id", "container \"%s\" is %s; only a created container can be started", id, STATUS[st]);
  int fd = openat(dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENXIO) fail(1, "container id", "container \"%s\" is not waiting to start", id);
  if (fd < 0) fail(1, "container id", "cannot open the start gate: %s", err(errno));
  if (write(fd, "1", 1) != 1) fail(1, "container id", "cannot write to the start gate: %s", err(errno));
  close(fd);
  int m = openat(dirfd, "started", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (m < 0) fail(1, "container id", "cannot mark container \"%s\" started: %s", id, err(errno));
  close(m);
  return 0;
}

int op_kill(int dirfd, const struct fast *f, const char *id, int sig, int all) {
  if (status_of(dirfd, f) == STOPPED) fail(1, "container id", "container \"%s\" is not running", id);
  if (alive(f->workload, f->workload_start)) signal_pid(f->workload, sig);
  else signal_pid(f->init, sig);
  if (all) cgroup_pids(f, sig);
  return 0;
}

/* A cgroup and the ones below it; a cgroup whose last task is still exiting is busy for a moment. */
static void remove_cgroup(const char *dir, int depth) {
  DIR *d = depth < 16 ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    char sub[PATH_MAX];
    if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) < sizeof sub) remove_cgroup(sub, depth + 1);
  }
  if (d) closedir(d);
  for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++) sleep_ms(5);
}

int op_delete(int dirfd, const struct fast *f, const char *dir, const char *id, int force) {
  if (f->hooks) handoff(); /* poststop hooks: Node runs them */
  enum status st = status_of(dirfd, f);
  if (st == RUNNING && !force) fail(1, "container id", "container \"%s\" is running; stop it first or use --force", id);
  if (st != STOPPED) {
    if (alive(f->workload, f->workload_start)) signal_pid(f->workload, SIGKILL);
    if (alive(f->monitor, f->monitor_start)) signal_pid(f->init, SIGKILL);
    cgroup_pids(f, SIGKILL);
    for (int i = 0; i < 1000 && alive(f->monitor, f->monitor_start); i++) sleep_ms(5);
    if (alive(f->monitor, f->monitor_start)) fail(1, "container id", "container \"%s\" did not stop after SIGKILL", id);
  }
  for (int i = 0; i < 100 && cgroup_pids(f, SIGKILL) > 0; i++) sleep_ms(5);
  for (int c = 0; c < f->ncgroups; c++) remove_cgroup(f->cgroups[c], 0);
  /* The state directory is flat: files and the start gate's FIFO. unlinkat never follows a link. */
  int fd = dup(dirfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) fail(1, dir, "cannot read the state directory: %s", err(errno));
  for (int pass = 0;; pass++) { /* a pass may miss entries if readdir races the unlinks: go again */
    rewinddir(d);
    for (struct dirent *e; (e = readdir(d));) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT) fail(1, dir, "cannot remove %s: %s", e->d_name, err(errno));
    }
    if (rmdir(dir) == 0 || errno == ENOENT) break;
    if (errno != ENOTEMPTY || pass == 3) fail(1, dir, "cannot remove the state directory: %s", err(errno));
  }
  closedir(d);
  return 0;
}
