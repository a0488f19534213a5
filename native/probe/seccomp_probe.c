/*
 * seccomp-probe: load a raw classic-BPF seccomp program and observe what the
 * kernel does with single syscalls under it.  Used by stockade's tests.
 *
 *   seccomp-probe FILTER.bpf CASE...      CASE = ABI:NR[:A0[,A1,...,A5]]
 *
 * FILTER.bpf is an array of struct sock_filter in host byte order.  ABI is
 * x86_64 (`syscall`, rax = NR), x32 (`syscall`, rax = NR as given: include the
 * 0x40000000 bit yourself) or i386 (`int $0x80`, eax = NR, args truncated to
 * 32 bits).  NR and args are decimal or 0x-hex; missing args are 0.
 *
 * Each case runs in a fresh child that sets PR_SET_NO_NEW_PRIVS, installs the
 * filter, makes exactly one raw syscall and sends the result through a pipe.
 * Between installing the filter and exiting, the child makes no syscalls but
 * the probe syscall, one write(2) to the pipe and exit_group(2), all issued as
 * raw instructions (no libc wrapper that might add fstat, futex, ...).  So the
 * filter must allow write and exit_group for a "return" or "trap" outcome to be
 * observable; a trapped SIGSYS handler also writes with raw write(2).  A child
 * still alive after 10 s dies by SIGALRM ("killed", signal 14).
 *
 * One JSON line per case on stdout, in order:
 *   {"case":0,"outcome":"return","ret":-9,"errno":9}   ret is the raw return
 *   {"case":1,"outcome":"trap","nr":39,"arch":3221225534,"errno_data":7}
 *   {"case":2,"outcome":"killed","signal":31}          died without reporting
 *   {"case":3,"outcome":"return-unreported","status":125}  exited, no report
 *   {"case":4,"outcome":"error","errno":22,"detail":"..."}  filter not installed
 * Exit status: 0 when every case ran, 2 for usage errors, 1 for internal ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define MAX_INSNS 65535u /* sock_fprog.len is an unsigned short */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS; glibc lacks the name */
#endif

enum abi { ABI_X86_64, ABI_X32, ABI_I386 };
struct probe_case { enum abi abi; uint64_t nr; uint64_t args[6]; };

/* What a child reports through the pipe: one fixed-size record (< PIPE_BUF, so
 * a single write is atomic).  The parent accepts only a complete record. */
enum kind { R_RETURN = 1, R_TRAP, R_ERROR };
enum stage { S_SETUP, S_NNP, S_SECCOMP, S_PRCTL };
struct report {
    int32_t kind, err, stage, nr;  /* err: errno for R_ERROR, si_errno for R_TRAP */
    uint32_t arch;
    int64_t ret;
};
static const char *const stage_names[] = {"sigaction(SIGSYS)", "prctl(PR_SET_NO_NEW_PRIVS)",
                                          "seccomp(SECCOMP_SET_MODE_FILTER)", "prctl(PR_SET_SECCOMP)"};

/* 64-bit `syscall` instruction: rax = nr, args in rdi rsi rdx r10 r8 r9. */
static inline long raw_syscall(uint64_t nr, const uint64_t a[6]) {
    register uint64_t r10 __asm__("r10") = a[3];
    register uint64_t r8 __asm__("r8") = a[4];
    register uint64_t r9 __asm__("r9") = a[5];
    uint64_t ret = nr;
    __asm__ volatile("syscall"
                     : "+a"(ret)
                     : "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory", "cc");
    return (long)ret;
}

/* 32-bit `int $0x80` from 64-bit code: eax = nr, args in ebx ecx edx esi edi
 * ebp.  rbp may be the frame pointer and cannot be named as an operand or
 * clobber, so the sixth arg sits in a scratch register and is swapped into rbp
 * around the instruction (no push: that would trample the red zone).  r8-r11
 * are declared clobbered because kernels before 4.17 zeroed them on int $0x80,
 * which also keeps the compiler from placing the sixth arg there. */
static inline long raw_syscall_i386(uint64_t nr, const uint64_t a[6]) {
    uint64_t ret = (uint32_t)nr, a5 = (uint32_t)a[5];
    __asm__ volatile("xchg %q[a5], %%rbp\n\tint $0x80\n\txchg %q[a5], %%rbp"
                     : "+a"(ret), [a5] "+r"(a5)
                     : "b"((uint64_t)(uint32_t)a[0]), "c"((uint64_t)(uint32_t)a[1]),
                       "d"((uint64_t)(uint32_t)a[2]), "S"((uint64_t)(uint32_t)a[3]),
                       "D"((uint64_t)(uint32_t)a[4])
                     : "r8", "r9", "r10", "r11", "memory", "cc");
    return (long)(int32_t)ret; /* the i386 ABI returns a 32-bit eax */
}

/* Raw write of the report, then raw exit_group.  If the filter makes
 * exit_group return, fall through to a trap instruction (SIGILL). */
static int report_fd = -1;
static __attribute__((noreturn)) void send_and_exit(const struct report *r) {
    uint64_t w[6] = {(uint64_t)report_fd, (uint64_t)(uintptr_t)r, sizeof *r, 0, 0, 0};
    uint64_t e[6] = {raw_syscall(SYS_write, w) == (long)sizeof *r ? 0 : 125, 0, 0, 0, 0, 0};
    raw_syscall(SYS_exit_group, e);
    __builtin_trap();
}

/* SECCOMP_RET_TRAP lands here.  Report and exit from the handler itself so no
 * rt_sigreturn is needed; a SIGSYS not from seccomp exits with status 124. */
static void on_sigsys(int sig, siginfo_t *si, void *uctx) {
    (void)sig; (void)uctx;
    if (si->si_code != SYS_SECCOMP) {
        uint64_t e[6] = {124, 0, 0, 0, 0, 0};
        raw_syscall(SYS_exit_group, e);
        __builtin_trap();
    }
    struct report r = {.kind = R_TRAP, .err = si->si_errno, .nr = si->si_syscall,
                       .arch = si->si_arch};
    send_and_exit(&r);
}

/* Setup failed before any filter is active: ordinary libc is fine here. */
static __attribute__((noreturn)) void child_fail(enum stage st) {
    struct report r = {.kind = R_ERROR, .err = errno, .stage = st};
    send_and_exit(&r);
}

static __attribute__((noreturn)) void run_child(const struct sock_fprog *prog,
                                                const struct probe_case *c) {
    /* Never dump core on KILL_*; a stray blocking syscall dies by SIGALRM. */
    struct rlimit nocore = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &nocore);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    alarm(10);
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    if (sigaction(SIGSYS, &sa, NULL) != 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) != 0)
        child_fail(S_SETUP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(S_NNP);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) != 0) {
        if (errno != ENOSYS) child_fail(S_SECCOMP);
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) != 0) child_fail(S_PRCTL);
    }
    /* Filter active: from here on only raw syscalls. */
    struct report r = {.kind = R_RETURN};
    r.ret = c->abi == ABI_I386 ? raw_syscall_i386(c->nr, c->args) : raw_syscall(c->nr, c->args);
    send_and_exit(&r);
}

/* Unsigned 64-bit number: decimal or 0x-hex, the whole string, no sign. */
static int parse_u64(const char *s, size_t len, uint64_t *out) {
    char buf[32];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    int hex = len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
    const char *digits = hex ? buf + 2 : buf;
    for (const char *p = digits; *p; p++)
        if (hex ? !strchr("0123456789abcdefABCDEF", *p) : (*p < '0' || *p > '9')) return -1;
    char *end;
    errno = 0;
    *out = strtoull(digits, &end, hex ? 16 : 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

static const char *parse_case(const char *s, struct probe_case *c) {
    memset(c, 0, sizeof *c);
    const char *colon = strchr(s, ':');
    if (!colon) return "expected ABI:NR[:A0[,A1,...A5]]";
    size_t n = (size_t)(colon - s);
    if (n == 6 && !strncmp(s, "x86_64", 6)) c->abi = ABI_X86_64;
    else if (n == 3 && !strncmp(s, "x32", 3)) c->abi = ABI_X32;
    else if (n == 4 && !strncmp(s, "i386", 4)) c->abi = ABI_I386;
    else return "ABI must be x86_64, x32 or i386";
    const char *nr = colon + 1, *rest = strchr(nr, ':');
    size_t nrlen = rest ? (size_t)(rest - nr) : strlen(nr);
    if (parse_u64(nr, nrlen, &c->nr) != 0 || c->nr > UINT32_MAX) return "bad syscall number";
    if (!rest) return NULL;
    const char *p = rest + 1;
    for (int i = 0;; i++) {
        if (i == 6) return "at most 6 arguments";
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (parse_u64(p, len, &c->args[i]) != 0) return "bad argument (decimal or 0x-hex u64)";
        if (!comma) return NULL;
        p = comma + 1;
    }
}

/* Read the whole filter file; NULL plus a reason on failure. */
static struct sock_filter *read_filter(const char *path, size_t *count, const char **why) {
    size_t cap = (size_t)MAX_INSNS * sizeof(struct sock_filter), used = 0;
    unsigned char *buf = malloc(cap + 1); /* +1 detects oversized files */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *why = NULL;
    if (fd < 0 || !buf) *why = strerror(errno);
    while (!*why) {
        ssize_t got = read(fd, buf + used, cap + 1 - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) *why = strerror(errno);
        else if (got == 0) break;
        else if ((used += (size_t)got) > cap) *why = "more than 65535 instructions";
    }
    if (fd >= 0) close(fd);
    if (!*why && used % sizeof(struct sock_filter)) *why = "size is not a multiple of 8 bytes";
    if (*why) { free(buf); return NULL; }
    *count = used / sizeof(struct sock_filter);
    return (struct sock_filter *)buf;
}

/* JSON string: escape quotes, backslashes and control characters. */
static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

/* Fork one child for case i, collect its report and print the JSON line. */
static int run_case(int i, const struct sock_fprog *prog, const struct probe_case *c) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return perror("seccomp-probe: pipe"), -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return perror("seccomp-probe: fork"), close(fds[0]), close(fds[1]), -1;
    if (pid == 0) {
        close(fds[0]);
        report_fd = fds[1];
        run_child(prog, c);
    }
    close(fds[1]);
    struct report r;
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = read(fds[0], (char *)&r + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return perror("seccomp-probe: waitpid"), -1;
    printf("{\"case\":%d,\"outcome\":", i);
    if (got == sizeof r && r.kind == R_RETURN) {
        printf("\"return\",\"ret\":%lld,\"errno\":%d}\n", (long long)r.ret,
               r.ret < 0 && r.ret >= -4095 ? (int)-r.ret : 0);
    } else if (got == sizeof r && r.kind == R_TRAP) {
        printf("\"trap\",\"nr\":%d,\"arch\":%u,\"errno_data\":%d}\n", (int)r.nr,
               (unsigned)r.arch, (int)r.err);
    } else if (got == sizeof r && r.kind == R_ERROR && r.stage >= 0 && r.stage <= S_PRCTL) {
        printf("\"error\",\"errno\":%d,\"detail\":", (int)r.err);
        char detail[160];
        snprintf(detail, sizeof detail, "%s: %s", stage_names[r.stage], strerror(r.err));
        json_str(detail);
        puts("}");
    } else if (WIFSIGNALED(status)) {
        printf("\"killed\",\"signal\":%d}\n", WTERMSIG(status));
    } else {
        printf("\"return-unreported\",\"status\":%d}\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return fflush(stdout) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) return fprintf(stderr, "usage: seccomp-probe FILTER.bpf ABI:NR[:A0[,A1,...A5]]...\n"), 2;
    size_t ncases = (size_t)argc - 2;
    struct probe_case *cases = calloc(ncases, sizeof *cases);
    if (!cases) return perror("seccomp-probe: calloc"), 1;
    for (size_t i = 0; i < ncases; i++) {
        const char *why = parse_case(argv[i + 2], &cases[i]);
        if (why)
            return fprintf(stderr, "seccomp-probe: bad CASE '%s': %s\n", argv[i + 2], why), free(cases), 2;
    }
    size_t count = 0;
    const char *why;
    struct sock_filter *insns = read_filter(argv[1], &count, &why);
    if (!insns) return fprintf(stderr, "seccomp-probe: bad FILTER '%s': %s\n", argv[1], why), free(cases), 2;
    /* An empty program is passed through: the kernel's EINVAL is the answer. */
    struct sock_fprog prog = {.len = (unsigned short)count, .filter = insns};
    int rc = 0;
    for (size_t i = 0; i < ncases && rc == 0; i++)
        if (run_case((int)i, &prog, &cases[i]) != 0) rc = 1;
    free(insns);
    free(cases);
    return rc;
}

#else /* !__x86_64__ */
int main(void) {
    fprintf(stderr, "seccomp-probe: only x86_64 is supported\n");
    return 1;
}
#endif
