/*
 * filter-bench: the cost of one syscall under a seccomp filter.  Used by
 * `npm run bench:seccomp` (bench/seccomp.ts).
 *
 *   filter-bench FILTER.bpf|none NR ITERATIONS
 *
 * FILTER.bpf is an array of struct sock_filter in host byte order (what
 * stockade and seccomp_export_bpf write).  The program sets
 * PR_SET_NO_NEW_PRIVS, loads the filter unless "none" is given, makes
 * ITERATIONS/10 warm-up calls and then ITERATIONS timed calls of raw syscall NR
 * with the arguments (0, a pointer to 4096 zero bytes, 0, 0, 0, 0), in 5 equal
 * batches timed with clock_gettime(CLOCK_MONOTONIC) (vDSO: no syscall of its
 * own), and prints one line:
 *
 *   NS_PER_CALL RET MIN_BATCH     e.g. "158.31 -1 151.90"
 *
 * NS_PER_CALL is the mean over all timed calls, RET the last call's raw return
 * (-errno on failure) and MIN_BATCH the ns per call of the fastest batch.
 *
 * Pick NR and the filter so that every call returns at once: an unknown number
 * (1000: ENOSYS, or the filter's errno), a call the filter denies (or that
 * fails on its arguments: io_uring_setup(0, zeroed params) is EINVAL), or a
 * cheap one such as getppid.  After loading the filter the program makes only the
 * timed syscalls, one write(2) and exit_group(2), so the filter must allow
 * those two for the line to appear.
 * Exit status: 0 on success, 2 for usage errors, 1 when the filter cannot be
 * read or loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define MAX_INSNS 4096u /* BPF_MAXINSNS */

/* The second argument: zeroed memory, so that calls taking a struct pointer there (io_uring_setup's
 * params) fail on a check of their own instead of on a page fault at address 0. */
static char zeroes[4096] __attribute__((aligned(64)));

static long raw_syscall(long nr) {
#if defined(__x86_64__)
    /* rax = nr; rdi rsi rdx r10 r8 r9 = 0, zeroes, 0, 0, 0, 0; no libc wrapper, no errno. */
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    register long r9 __asm__("r9") = 0;
    long ret = nr;
    __asm__ volatile("syscall"
                     : "+a"(ret)
                     : "D"(0L), "S"(zeroes), "d"(0L), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory", "cc");
    return ret;
#else
    long r = syscall(nr, 0L, zeroes, 0L, 0L, 0L, 0L);
    return r == -1 ? -errno : r;
#endif
}

static int usage(void) {
    fputs("usage: filter-bench FILTER.bpf|none NR ITERATIONS\n", stderr);
    return 2;
}

static int parse_long(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* Reads FILTER.bpf into `insns`; returns the instruction count or 0 on error. */
static unsigned read_filter(const char *path, struct sock_filter *insns) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "filter-bench: %s: %s\n", path, strerror(errno));
        return 0;
    }
    size_t cap = MAX_INSNS * sizeof(struct sock_filter), len = 0;
    char *buf = (char *)insns;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "filter-bench: %s: %s\n", path, strerror(errno));
            close(fd);
            return 0;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len == cap) {
            char extra;
            if (read(fd, &extra, 1) > 0) {
                fprintf(stderr, "filter-bench: %s: more than %u instructions\n", path, MAX_INSNS);
                close(fd);
                return 0;
            }
            break;
        }
    }
    close(fd);
    if (len == 0 || len % sizeof(struct sock_filter) != 0) {
        fprintf(stderr, "filter-bench: %s: %zu bytes is not a whole number of 8-byte instructions\n", path, len);
        return 0;
    }
    return (unsigned)(len / sizeof(struct sock_filter));
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) return usage();
    long nr, iterations;
    if (parse_long(argv[2], 0, 0x7fffffffL, &nr) != 0) return usage();
    if (parse_long(argv[3], 1, 1000000000L, &iterations) != 0) return usage();

    static struct sock_filter insns[MAX_INSNS];
    unsigned count = 0;
    if (strcmp(argv[1], "none") != 0 && (count = read_filter(argv[1], insns)) == 0) return 1;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "filter-bench: prctl(PR_SET_NO_NEW_PRIVS): %s\n", strerror(errno));
        return 1;
    }
    /* Resolve the vDSO clock before the filter is in place. */
    double t0 = now_ns();
    (void)t0;
    if (count > 0) {
        struct sock_fprog prog = {.len = (unsigned short)count, .filter = insns};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 &&
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
            fprintf(stderr, "filter-bench: loading %s: %s\n", argv[1], strerror(errno));
            return 1;
        }
    }

    long ret = 0;
    for (long i = 0; i < iterations / 10; i++) ret = raw_syscall(nr);
    /* BATCHES equal batches: the mean over all of them, and the fastest one (a batch that lost the CPU
     * to another task or took an interrupt storm is slower, never faster). */
    enum { BATCHES = 5 };
    long per = iterations / BATCHES > 0 ? iterations / BATCHES : 1;
    double total = 0, best = 0;
    for (int b = 0; b < BATCHES; b++) {
        double start = now_ns();
        for (long i = 0; i < per; i++) ret = raw_syscall(nr);
        double ns = (now_ns() - start) / (double)per;
        total += ns;
        if (b == 0 || ns < best) best = ns;
    }

    char line[80];
    int n = snprintf(line, sizeof line, "%.2f %ld %.2f\n", total / BATCHES, ret, best);
    if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n) return 1;
    return 0;
}
