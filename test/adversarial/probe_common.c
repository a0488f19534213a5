/*
 * Shared helpers for the adversarial probes. This file is NOT a probe: every probe includes it
 * (#include "probe_common.c"), so each probe still builds from its own single source:
 *
 *     cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o /tmp/mount_tmpfs test/adversarial/mount_tmpfs.c
 *
 * The contract every probe keeps (see README.md):
 *   - exactly one JSON line on stdout: {"probe":"NAME","result":"blocked|escaped|error","detail":"..."}
 *   - exit 0 for blocked, 1 for escaped, 2 for error (could not even attempt);
 *   - a probe killed by a signal prints nothing.
 */
#ifndef PROBE_COMMON_C
#define PROBE_COMMON_C

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define HELPER static __attribute__((unused))

enum { BLOCKED = 0, ESCAPED = 1, ERROR = 2 };

static const char *probe_name = "unnamed";
#define PROBE(name) (probe_name = (name))

/* The errno's symbolic name ("EPERM"), which is what the reports and the tests compare. */
HELPER const char *en(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

/* Print the one JSON line and exit with the result's code. Uses write(2) and _exit(2) so that a
 * forked child can never flush a copy of a parent's buffer. */
__attribute__((noreturn, format(printf, 2, 3), unused))
static void report(int result, const char *fmt, ...)
{
    static const char *const names[] = { "blocked", "escaped", "error" };
    char detail[3072];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);

    char out[16384];
    size_t n = (size_t)snprintf(out, sizeof out, "{\"probe\":\"%s\",\"result\":\"%s\",\"detail\":\"",
                                probe_name, names[result]);
    for (const unsigned char *p = (const unsigned char *)detail; *p && n < sizeof out - 16; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20 || *p >= 0x7f) {
            n += (size_t)snprintf(out + n, sizeof out - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    memcpy(out + n, "\"}\n", 3);
    n += 3;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(1, out + off, n - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
    _exit(result);
}

/* argv[i], or report an error naming what is missing. */
HELPER const char *need_arg(int argc, char **argv, int i, const char *what)
{
    if (argc <= i || argv[i][0] == '\0') report(ERROR, "missing argument %d: %s", i, what);
    return argv[i];
}

/* A positive pid from a string, or report an error. Refuses 0 and negatives: kill(0) and kill(-1)
 * address groups of processes, which no probe means to do. */
HELPER pid_t parse_pid(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0 || v > 0x3fffffff) report(ERROR, "not a pid: '%s'", s);
    return (pid_t)v;
}

/* The "Seccomp:" field of /proc/self/status: 0 none, 1 strict, 2 filter; -1 if unknown. */
HELPER int seccomp_mode(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int mode = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Seccomp: %d", &mode) == 1) break;
    fclose(f);
    return mode;
}

/* A hex field of /proc/self/status ("CapEff", "NoNewPrivs"...); -1 if unknown. */
HELPER long long status_field(const char *name, int base)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long long v = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            v = strtoll(line + len + 1, NULL, base);
            break;
        }
    }
    fclose(f);
    return v;
}

/*
 * Does the running kernel implement a feature? Looks its symbols up in /proc/kallsyms (names are
 * listed even when addresses are hidden). syms is a NULL-terminated list; a name ending in '*' is a
 * prefix. Returns 1 if one is a real function (type T/t), 0 if none is there or only as a weak
 * COND_SYSCALL stub (type W, i.e. the syscall is compiled out), -1 if kallsyms cannot be read.
 */
HELPER int kernel_has(const char *const *syms)
{
    FILE *f = fopen("/proc/kallsyms", "r");
    if (!f) return -1;
    char line[512];
    int lines = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        lines++;
        char type, name[256];
        if (sscanf(line, "%*s %c %255s", &type, name) != 2) continue;
        for (const char *const *s = syms; *s; s++) {
            size_t l = strlen(*s);
            int match = (l > 0 && (*s)[l - 1] == '*') ? strncmp(name, *s, l - 1) == 0 : strcmp(name, *s) == 0;
            if (match && (type == 'T' || type == 't')) {
                found = 1;
                break;
            }
        }
    }
    fclose(f);
    if (!found && lines == 0) return -1;
    return found;
}

/*
 * A call failed with an errno that a kernel WITHOUT the feature gives as well (ENOSYS for a
 * compiled-out syscall, EAFNOSUPPORT for a missing socket family). Decide, as well as can be
 * told from inside, between "this kernel lacks it" (error: the probe could not attempt the
 * primitive) and "something refused it" (blocked).
 */
__attribute__((noreturn, unused))
static void attribute_missing(int e, const char *what, const char *const *syms, const char *ctx)
{
    int has = kernel_has(syms);
    if (has == 0)
        report(ERROR, "unsupported: %s: %s, and this kernel lacks %s (no %s in /proc/kallsyms): nothing to attempt",
               ctx, en(e), what, syms[0]);
    if (has == 1)
        report(BLOCKED, "%s: %s although this kernel has %s (%s in /proc/kallsyms): refused by a filter",
               ctx, en(e), what, syms[0]);
    int sc = seccomp_mode();
    if (sc == 0)
        report(ERROR, "unsupported: %s: %s with no seccomp filter on this process: the kernel lacks %s",
               ctx, en(e), what);
    report(BLOCKED, "%s: %s; seccomp mode %d, /proc/kallsyms unreadable, so kernel support for %s is unknown",
           ctx, en(e), sc, what);
}

/*
 * Read what fd gives (up to 64 KiB) and judge: escaped if the token is in it (or, with no token,
 * if any byte came back); blocked otherwise. Closes fd.
 */
__attribute__((noreturn, unused))
static void judge_read(int fd, const char *how, const char *token)
{
    static char buf[65536];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            report(BLOCKED, "%s: opened, but read failed: %s", how, en(e));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == sizeof buf - 1) break;
    }
    close(fd);
    buf[n] = '\0';
    if (token && *token) {
        if (memmem(buf, n, token, strlen(token)))
            report(ESCAPED, "%s: read %zu bytes containing the secret token", how, n);
        report(BLOCKED, "%s: read %zu bytes, but not the secret token (the file is masked or replaced)", how, n);
    }
    if (n > 0) report(ESCAPED, "%s: read %zu bytes", how, n);
    report(BLOCKED, "%s: read 0 bytes (empty or masked)", how);
}

#endif
