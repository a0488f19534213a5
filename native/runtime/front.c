/*
 * stockade-runtime-front: the first program bin/stockade-runtime runs. It reads the global flags
 * as src/oci-runtime/main.ts does; `start`, `kill` and `delete` of a container that has a `fast`
 * file are done here, without Node. Every other command, and any state this program does not
 * understand, goes to `node dist/src/oci-runtime/cli.js` with the original arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "front.h"

static int g_argc;
static char **g_argv;
static const char *g_log;
static int g_log_json;

/* `s` as a JSON string into out[0..cap); returns the length written (truncated to fit). */
static size_t json_quote(char *out, size_t cap, const char *s) {
  size_t n = 0;
  if (cap < 3) return 0;
  out[n++] = '"';
  for (; *s && n + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') n += (size_t)snprintf(out + n, cap - n, "\\%c", c);
    else if (c < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    else out[n++] = (char)c;
  }
  out[n++] = '"';
  out[n] = '\0';
  return n;
}

static void log_error(const char *msg) {
  struct timespec ts;
  struct tm tm;
  char when[40], quoted[2200], line[2400];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
  json_quote(quoted, sizeof quoted, msg);
  int n = g_log_json ? snprintf(line, sizeof line, "{\"level\":\"error\",\"msg\":%s,\"time\":\"%s\"}\n", quoted, when)
                     : snprintf(line, sizeof line, "time=\"%s\" level=error msg=%s\n", when, quoted);
  int fd = open(g_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return; /* best effort, as main.ts: stderr has it */
  if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) { /* ignored */ }
  close(fd);
}

noreturn void fail_line(int code, const char *msg) {
  dprintf(2, "stockade-runtime: %s\n", msg);
  if (g_log) log_error(msg);
  exit(code);
}

noreturn void fail(int code, const char *where, const char *fmt, ...) {
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "%s: ", where);
  if (n < 0 || (size_t)n >= sizeof msg) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  fail_line(code, msg);
}

int exe_dir(char *out) {
  ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
  if (n <= 0) return -1;
  out[n] = '\0';
  char *slash = strrchr(out, '/');
  if (slash) *slash = '\0';
  return 0;
}

noreturn void handoff(void) {
  char exe[PATH_MAX], cli[PATH_MAX + 64];
  if (exe_dir(exe) < 0) fail(1, "node", "cannot read /proc/self/exe: %s", strerror(errno));
  /* The front lives in native/build/; the compiled TypeScript in dist/, beside native/. */
  snprintf(cli, sizeof cli, "%s/../../dist/src/oci-runtime/cli.js", exe);
  char **av = calloc((size_t)g_argc + 2, sizeof *av);
  if (!av) fail(1, "node", "out of memory");
  av[0] = "node";
  av[1] = cli;
  for (int i = 1; i < g_argc; i++) av[i + 1] = g_argv[i];
  execvp("node", av);
  execv("/usr/bin/node", av);
  execv("/usr/local/bin/node", av);
  fail(1, "node", "node was not found (searched PATH, /usr/bin and /usr/local/bin); install node 20 or later");
}

static int in(const char *name, size_t len, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == len && strncmp(*list, name, len) == 0) return 1;
  return 0;
}

/*
 * Flags as main.ts's parse() reads them: -x, --x, --x=v, --x v. Fills pos[] (at most npos, the
 * rest are ignored) and sets bools[k] for boolean k (a value of "false" clears it). Unknown flags
 * and missing values are usage errors naming `command`. Returns the number of positionals.
 */
static int parse(int argc, char **argv, const char *const *valued, const char *const *booleans, int *bools,
                 const char **values, const char *command, const char **pos, int npos) {
  int np = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      for (i++; i < argc; i++) if (np < npos) pos[np++] = argv[i];
      break;
    }
    if (a[0] != '-' || a[1] == '\0') {
      if (np < npos) pos[np++] = a;
      continue;
    }
    const char *body = a + (a[1] == '-' ? 2 : 1), *eq = strchr(body, '=');
    size_t len = eq ? (size_t)(eq - body) : strlen(body);
    int k = -1;
    for (int j = 0; booleans[j]; j++) if (strlen(booleans[j]) == len && strncmp(booleans[j], body, len) == 0) k = j;
    if (k >= 0) {
      bools[k] = !(eq && strcmp(eq + 1, "false") == 0);
    } else if (in(body, len, valued)) {
      const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) fail(2, command, "%s needs a value", a);
      for (int j = 0; valued[j]; j++) if (strlen(valued[j]) == len && strncmp(valued[j], body, len) == 0) values[j] = v;
    } else {
      fail(2, command, "unknown flag %s", a);
    }
  }
  return np;
}

/* Index of the first argument that is neither a flag nor the value of one; -1 if none. */
static int first_positional(int argc, char **argv, const char *const *valued) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) return i + 1 < argc ? i + 1 : -1;
    if (a[0] != '-' || a[1] == '\0') return i;
    const char *body = a + (a[1] == '-' ? 2 : 1);
    if (!strchr(body, '=') && in(body, strlen(body), valued)) i++;
  }
  return -1;
}

static const struct { const char *name; int num; } SIGNALS[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
  {"IOT", SIGIOT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
  {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
  {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
  {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
  {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"POLL", SIGPOLL}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
#ifdef SIGSTKFLT
  {"STKFLT", SIGSTKFLT},
#endif
};

/* As lifecycle.ts's parseSignal: 1..64, or a name with or without SIG, any case; TERM by default. */
static int parse_signal(const char *text) {
  if (!text) return SIGTERM;
  if (text[0] >= '0' && text[0] <= '9') {
    long n = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) n = n > 1000 ? n : n * 10 + (*p - '0');
    if (*p == '\0' && n >= 1 && n <= 64) return (int)n;
  } else {
    const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++)
      if (strcasecmp(name, SIGNALS[i].name) == 0) return SIGNALS[i].num;
  }
  fail(2, "signal", "\"%s\" is not a signal name or number", text);
}

/* state.ts's checkId: ^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$ */
static const char *check_id(const char *id) {
  if (!id || !*id) fail(2, "container id", "a container id is required");
  size_t n = strlen(id);
  int ok = n <= 128;
  for (size_t i = 0; ok && i < n; i++) {
    char c = id[i];
    int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '+' || c == '-'));
  }
  if (!ok) fail(2, "container id", "\"%s\" is not a valid container id (letters, digits, _ . + -; at most 128)", id);
  return id;
}

static struct fast g_fast;

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "version") == 0)) handoff();
  static const char *const gvalued[] = {"root", "log", "log-format", "criu", "rootless", NULL};
  static const char *const gbool[] = {"systemd-cgroup", "debug", "help", "h", NULL};
  const char *gvalues[5] = {0};
  int gbools[4] = {0};
  const char *unused[1];
  int at = first_positional(argc - 1, argv + 1, gvalued);
  parse(at >= 0 ? at : argc - 1, argv + 1, gvalued, gbool, gbools, gvalues, "stockade-runtime", unused, 0);
  const char *root = gvalues[0] ? gvalues[0] : "/run/stockade";
  if (gvalues[1] && *gvalues[1]) g_log = gvalues[1];
  const char *fmt = gvalues[2];
  if (fmt && strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0) fail(2, "--log-format", "\"%s\" must be text or json", fmt);
  g_log_json = fmt && strcmp(fmt, "json") == 0;
  if (at < 0) handoff();

  const char *command = argv[at + 1];
  int sub_argc = argc - at - 2;
  char **sub_argv = argv + at + 2;
  static const char *const none[] = {NULL};
  static const char *const kill_bool[] = {"all", "a", NULL};
  static const char *const delete_bool[] = {"force", "f", NULL};
  const char *pos[2] = {0};
  int bools[2] = {0};
  int sig = 0;
  if (strcmp(command, "start") == 0) {
    parse(sub_argc, sub_argv, none, none, bools, NULL, command, pos, 1);
  } else if (strcmp(command, "kill") == 0) {
    parse(sub_argc, sub_argv, none, kill_bool, bools, NULL, command, pos, 2);
    sig = parse_signal(pos[1]);
  } else if (strcmp(command, "delete") == 0) {
    parse(sub_argc, sub_argv, none, delete_bool, bools, NULL, command, pos, 1);
  } else {
    if (strcmp(command, "create") == 0) warm_create(root, argc, argv);
    handoff();
  }
  const char *id = check_id(pos[0]);
  int any = bools[0] || bools[1];

  char dir[PATH_MAX];
  int n = *root ? snprintf(dir, sizeof dir, "%s/%s", root, id) : snprintf(dir, sizeof dir, "%s", id);
  if (n < 0 || (size_t)n >= sizeof dir) fail(1, "--root", "the state directory path is too long");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    if (errno == ENOENT && command[0] == 'd' && any) return 0; /* delete --force of nothing */
    handoff(); /* Node reports it as it always has */
  }
  if (load_fast(dfd, &g_fast) != 0) handoff(); /* made by an older create, or damaged */
  if (command[0] == 's') return op_start(dfd, &g_fast, id);
  if (command[0] == 'k') return op_kill(dfd, &g_fast, id, sig, any);
  return op_delete(dfd, &g_fast, dir, id, any);
}
