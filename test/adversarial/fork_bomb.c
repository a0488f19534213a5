/* Fork bomb, bounded: fork children that just wait, up to CAP (argv[1], default 5000), then kill
 * and reap them all. Blocked if fork failed before the cap (a pids limit answers EAGAIN; the
 * detail says after how many); escaped if the cap was reached. Each child also dies with the
 * probe (PR_SET_PDEATHSIG), so nothing outlives it. */
#include "probe_common.c"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    PROBE("fork_bomb");
    long cap = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
    if (cap <= 0 || cap > 1000000) report(ERROR, "bad cap '%s'", argv[1]);
    pid_t *pids = calloc((size_t)cap, sizeof *pids);
    if (!pids) report(ERROR, "calloc: %s", en(errno));
    pid_t self = getpid();
    long n = 0;
    int e = 0;
    for (; n < cap; n++) {
        pid_t p = fork();
        if (p < 0) {
            e = errno;
            break;
        }
        if (p == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self) _exit(0);
            for (;;) pause();
        }
        pids[n] = p;
    }
    for (long i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (long i = 0; i < n; i++)
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
    if (n == cap) report(ESCAPED, "forked %ld processes: the cap was reached (all killed again)", n);
    report(BLOCKED, "fork failed after %ld processes: %s", n, en(e));
}
