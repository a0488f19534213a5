/*
 * stockade-helper: runs one command confined as a plan says.  Mechanism only: the plan (built by
 * src/helper on the TypeScript side) decides everything; the helper executes its ops in order.
 *
 *   stockade-helper            fd 3: the plan (read to EOF); fd 4: status lines; 0-2: the workload's
 *   stockade-helper --decode   plan on stdin -> its canonical JSON on stdout (tests, debugging)
 *
 * Exit status: the workload's (128 + signal when it was killed); 125 when the plan or a setup step
 * failed, 126/127 when execve did (an error line on fd 4 says which).  docs/protocol.md has it all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "helper.h"

#define PLAN_FD 3
#define STATUS_FD 4

/* Reads FD to EOF, refusing more than PLAN_MAX_BYTES. */
static int read_all(int fd, uint8_t **out, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            uint8_t *bigger = cap > PLAN_MAX_BYTES ? NULL : realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                errno = cap > PLAN_MAX_BYTES ? EFBIG : ENOMEM;
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free(buf);
            return -1;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int decode_mode(void)
{
    uint8_t *buf;
    size_t len;
    char err[1024];
    struct plan plan;
    status_setup(STDOUT_FILENO, false);
    if (read_all(STDIN_FILENO, &buf, &len) < 0)
        return status_error("plan", errno, "reading the plan from stdin: %s", strerror(errno)), EXIT_SETUP;
    int r = plan_decode(buf, len, &plan, err, sizeof err);
    free(buf);
    if (r < 0)
        return status_error("plan", EINVAL, "%s", err), EXIT_SETUP;
    struct sbuf out;
    sb_dynamic(&out);
    plan_render_json(&plan, &out);
    r = out.overflow || fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0;
    sb_free(&out);
    plan_free(&plan);
    return r ? EXIT_SETUP : 0;
}

int main(int argc, char **argv)
{
    uint8_t *buf;
    size_t len;
    char err[1024];
    static struct plan plan;
    if (argc == 2 && strcmp(argv[1], "--decode") == 0)
        return decode_mode();
    if (argc != 1) {
        fprintf(stderr, "usage: stockade-helper 3<plan 4>status  |  stockade-helper --decode <plan\n");
        return 2;
    }
    if (fcntl(STATUS_FD, F_GETFD) < 0) {
        fprintf(stderr, "stockade-helper: descriptor 4 (status) is not open\n");
        return EXIT_SETUP;
    }
    status_setup(STATUS_FD, false);
    /* A caller that stops reading the status descriptor (or, detached, exits) must not kill us with
     * SIGPIPE: writes then fail with EPIPE.  The workload gets the caller's disposition back. */
    struct sigaction ignore = { .sa_handler = SIG_IGN }, orig_sigpipe;
    sigaction(SIGPIPE, &ignore, &orig_sigpipe);
    pid_t parent = getppid();
    /* The whole plan is read and validated before anything is touched. */
    if (read_all(PLAN_FD, &buf, &len) < 0)
        return status_error("plan", errno, "reading the plan from descriptor 3: %s", strerror(errno)), EXIT_SETUP;
    close(PLAN_FD);
    int r = plan_decode(buf, len, &plan, err, sizeof err);
    free(buf);
    if (r < 0)
        return status_error("plan", EINVAL, "%s", err), EXIT_SETUP;
    /* Die with the caller (node): a sandbox nobody watches must not go on.  A parent that died
     * before the prctl shows up as a changed parent pid.  A detached plan (`stockade-runtime create`)
     * outlives its caller; the sandbox init still dies with us. */
    if (!plan.detached && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent))
        return EXIT_SETUP;
    status_setup(STATUS_FD, plan.verbose);
    if (plan.detached)
        status_nonblocking();
    /* The status descriptor must not survive into the workload (close_range there covers it too). */
    fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
    return monitor_run(&plan, &orig_sigpipe);
}
