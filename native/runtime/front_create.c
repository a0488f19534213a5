/*
 * `create` through the warm planner (src/oci-runtime/planner.ts; docs/oci-runtime.md, "The fast
 * path"). The planner plans and makes the state directory and cgroup; this process spawns the helper
 * itself, so that its monitor is our child and goes to the engine's subreaper when we exit. When the
 * planner is not there (or is stale), warm_create() returns and the caller runs Node as before,
 * having started a planner in the background for the next create.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"

extern char **environ;

#define MAX_LINE (1 << 20)
#define MAX_PLAN (64u << 20)

struct reader {
  int fd;
  size_t off, len;
  char buf[65536];
};

/* One line (without its newline) in a malloc'd string; NULL at EOF, on an error or past MAX_LINE. */
static char *read_line(struct reader *r) {
  struct buf line = {0};
  for (;;) {
    if (r->off == r->len) {
      ssize_t n;
      do n = read(r->fd, r->buf, sizeof r->buf); while (n < 0 && errno == EINTR);
      if (n <= 0) {
        free(line.p);
        return NULL;
      }
      r->off = 0, r->len = (size_t)n;
    }
    char *start = r->buf + r->off, *nl = memchr(start, '\n', r->len - r->off);
    size_t take = nl ? (size_t)(nl - start) : r->len - r->off;
    buf_add(&line, start, take);
    r->off += take + (nl ? 1 : 0);
    if (nl) return line.p;
    if (line.len > MAX_LINE) {
      free(line.p);
      return NULL;
    }
  }
}

static int read_exact(struct reader *r, char *dst, size_t n) {
  while (n > 0) {
    if (r->off == r->len) {
      ssize_t k;
      do k = read(r->fd, r->buf, sizeof r->buf); while (k < 0 && errno == EINTR);
      if (k <= 0) return -1;
      r->off = 0, r->len = (size_t)k;
    }
    size_t take = r->len - r->off < n ? r->len - r->off : n;
    memcpy(dst, r->buf + r->off, take);
    r->off += take, dst += take, n -= take;
  }
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k, n -= (size_t)k;
  }
  return 0;
}

static void close_from(unsigned first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 ? max : 65536); fd++) close((int)fd);
}

/* A child's signals as Node's spawn leaves them: default dispositions, nothing blocked. */
static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * node planner.js --root ROOT, detached: a session of its own, stdio on /dev/null (never the
 * engine's pipes), no other descriptor, not our child (double fork). A planner that finds another
 * one bound exits.
 */
static void start_planner(const char *root) {
  char dir[PATH_MAX], js[PATH_MAX + 64];
  if (exe_dir(dir) < 0) return;
  snprintf(js, sizeof js, "%s/../../dist/src/oci-runtime/planner.js", dir);
  if (access(js, R_OK) != 0) return;
  pid_t a = fork();
  if (a < 0) return;
  if (a == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) _exit(1);
    dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
    close_from(3);
    reset_signals();
    if (chdir("/") < 0) _exit(1); /* never hold the first caller's directory (a bundle, a mount) */
    char *av[] = {"node", js, "--root", (char *)root, NULL};
    execvp("node", av);
    execv("/usr/bin/node", av);
    execv("/usr/local/bin/node", av);
    _exit(127);
  }
  while (waitpid(a, NULL, 0) < 0 && errno == EINTR) {}
}

/* The state root: absolute, a directory of ours that nobody else may enter. 1 if it is missing. */
static int root_state(const char *root) {
  struct stat st;
  if (root[0] != '/') return -1;
  if (lstat(root, &st) < 0) return errno == ENOENT ? 1 : -1;
  return S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077) == 0 ? 0 : -1;
}

static int connect_planner(const char *root) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  struct stat st;
  int rs = root_state(root);
  if (rs != 0) {
    if (rs == 1) start_planner(root); /* it makes the root */
    return -1;
  }
  if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.planner.sock", root) >= sizeof sa.sun_path) return -1;
  if (lstat(sa.sun_path, &st) < 0) {
    if (errno == ENOENT) start_planner(root);
    return -1;
  }
  if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) return -1; /* never a socket someone else made */
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
  if (errno == ENOENT || errno == ECONNREFUSED) start_planner(root); /* it replaces a stale socket */
  close(fd);
  return -1;
}

/* Sends `msg` and reads the planner's one-line reply into f[]; the count, or -1. */
static int exchange(int fd, struct reader *r, struct buf *msg, char **line, struct jfield *f, int max) {
  if (write_all(fd, msg->p, msg->len) < 0 || !(*line = read_line(r))) return -1;
  return json_flat(*line, f, max);
}

static pid_t spawn_helper(long umask_v, const char *plan, size_t plan_len, int *status_r) {
  char dir[PATH_MAX], path[PATH_MAX + 32];
  int pp[2], sp[2];
  if (exe_dir(dir) < 0) return -1;
  snprintf(path, sizeof path, "%s/stockade-helper", dir);
  if (pipe2(pp, O_CLOEXEC) < 0) return -1;
  if (pipe2(sp, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    reset_signals();
    setsid();
    if (umask_v >= 0) umask((mode_t)umask_v);
    int a = fcntl(pp[0], F_DUPFD_CLOEXEC, 10), b = fcntl(sp[1], F_DUPFD_CLOEXEC, 10);
    if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0) _exit(125);
    close_from(5);
    char *av[] = {path, NULL};
    execve(path, av, environ);
    _exit(127);
  }
  close(pp[0]);
  close(sp[1]);
  /* The helper reads the whole plan before it writes a line; one that refuses early closes fd 3. */
  write_all(pp[1], plan, plan_len);
  close(pp[1]);
  *status_r = sp[0];
  return pid;
}

static const char *errtext(int e) {
  static char b[160];
  snprintf(b, sizeof b, "%s", strerror(e));
  if (b[0] >= 'A' && b[0] <= 'Z') b[0] = (char)(b[0] - 'A' + 'a');
  return b;
}

void warm_create(const char *root, int argc, char **argv) {
  const char *env = getenv("STOCKADE_RUNTIME_PLANNER");
  if (env && strcmp(env, "off") == 0) return;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return;
  int fd = connect_planner(root);
  if (fd < 0) return;
  signal(SIGPIPE, SIG_IGN); /* a planner or helper that went away is an error, not a signal */
  static struct reader pr;
  pr.fd = fd;
  struct buf msg = {0};
  buf_add(&msg, "{\"v\":1,\"args\":[", 15);
  for (int i = 1; i < argc; i++) {
    if (i > 1) buf_add(&msg, ",", 1);
    buf_str(&msg, argv[i]);
  }
  buf_add(&msg, "],\"cwd\":", 8);
  buf_str(&msg, cwd);
  buf_add(&msg, "}\n", 2);
  struct jfield f[16];
  char *line = NULL;
  int n = exchange(fd, &pr, &msg, &line, f, 16);
  const struct jfield *cold = n >= 0 ? json_get(f, n, "cold", 's') : NULL;
  if (n < 0 || cold) {
    /* No answer (the planner died before it made anything, or is broken): Node does it. */
    if (cold && strcmp(cold->str, "stale") == 0) start_planner(root);
    close(fd);
    return;
  }
  const struct jfield *e = json_get(f, n, "error", 's'), *code = json_get(f, n, "exitCode", 'n');
  if (e) fail_line(code ? (int)code->num : 1, e->str);
  const struct jfield *bytes = json_get(f, n, "planBytes", 'n'), *um = json_get(f, n, "umask", 'n');
  const struct jfield *pf = json_get(f, n, "pidFile", 's'), *gate = json_get(f, n, "gateFifo", 's');
  if (!json_get(f, n, "ok", 'b') || !bytes || bytes->num <= 0 || (unsigned long long)bytes->num > MAX_PLAN) {
    fail(1, "create", "the planner's reply is not understood");
  }
  size_t plan_len = (size_t)bytes->num;
  char *plan = malloc(plan_len);
  if (!plan || read_exact(&pr, plan, plan_len) < 0) fail(1, "create", "the planner went away");
  char *pid_file = pf ? strdup(pf->str) : NULL;
  long umask_v = um ? (long)(um->num & 07777) : -1;

  int status_fd = -1;
  struct buf failure = {0};
  long wpid = 0, init = 0;
  /* The start gate, as create.ts makes it with mkfifo -m 0600 (the planner has no mkfifo). */
  if (gate && (mkfifo(gate->str, 0600) < 0 || chmod(gate->str, 0600) < 0)) {
    buf_fmt(&failure, "internal error: cannot make the start gate %s: %s", gate->str, errtext(errno));
  }
  pid_t helper = failure.p ? -1 : spawn_helper(umask_v, plan, plan_len, &status_fd);
  free(plan);
  if (failure.p) {
    /* reported below */
  } else if (helper < 0) {
    buf_fmt(&failure, "helper: cannot run the native helper: %s", errtext(errno));
  } else {
    static struct reader sr;
    sr.fd = status_fd;
    char *err_step = NULL, *err_detail = NULL;
    for (char *l; (l = read_line(&sr)); free(l)) {
      struct jfield s[8];
      int k = json_flat(l, s, 8);
      const struct jfield *kind = k > 0 ? json_get(s, k, "kind", 's') : NULL;
      if (!kind) continue;
      if (strcmp(kind->str, "created") == 0) {
        const struct jfield *p = json_get(s, k, "pid", 'n'), *i = json_get(s, k, "initPid", 'n');
        wpid = p ? (long)p->num : 0, init = i ? (long)i->num : 0;
        free(l);
        break;
      }
      const struct jfield *step = json_get(s, k, "step", 's'), *detail = json_get(s, k, "detail", 's');
      if (strcmp(kind->str, "error") == 0 && !err_step && step && detail) err_step = strdup(step->str), err_detail = strdup(detail->str);
    }
    if (wpid <= 0) {
      int st = 0;
      while (waitpid(helper, &st, 0) < 0 && errno == EINTR) {}
      if (err_step) buf_fmt(&failure, "container: %s: %s", err_step, err_detail ? err_detail : "");
      else if (WIFSIGNALED(st)) buf_fmt(&failure, "container: the container process ended during setup (status SIG%s)", sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
      else buf_fmt(&failure, "container: the container process ended during setup (status %d)", WEXITSTATUS(st));
      kill(-helper, SIGKILL);
    }
  }
  if (!failure.p && pid_file) {
    int pfd = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    char num[32];
    int len = snprintf(num, sizeof num, "%ld", (long)helper);
    if (pfd < 0 || write_all(pfd, num, (size_t)len) < 0) buf_fmt(&failure, "internal error: cannot write the pid file %s: %s", pid_file, errtext(errno));
    if (pfd >= 0) close(pfd);
    if (failure.p) kill(-helper, SIGKILL);
  }
  msg.len = 0;
  if (failure.p) {
    buf_add(&msg, "{\"failed\":", 10);
    buf_str(&msg, failure.p);
    buf_add(&msg, "}\n", 2);
    exchange(fd, &pr, &msg, &line, f, 16); /* waits for the planner to undo */
    fail_line(1, failure.p);
  }
  buf_fmt(&msg, "{\"created\":true,\"monitor\":%ld,\"pid\":%ld,\"initPid\":%ld}\n", (long)helper, wpid, init);
  n = exchange(fd, &pr, &msg, &line, f, 16);
  if (n < 0 || !json_get(f, n, "ok", 'b')) {
    kill(-helper, SIGKILL);
    if (pid_file) unlink(pid_file);
    e = n >= 0 ? json_get(f, n, "error", 's') : NULL;
    code = n >= 0 ? json_get(f, n, "exitCode", 'n') : NULL;
    fail_line(code ? (int)code->num : 1, e ? e->str : "create: the planner went away before the container's state was written");
  }
  close(status_fd); /* the monitor, detached, loses its later lines (EPIPE is ignored there) */
  close(fd);
  exit(0);
}
