/* Signal an outside process (argv[1]): kill(pid, 0), an existence probe, then kill(pid, SIGCONT),
 * which is harmless to a running process. Escaped if either returned 0. (Inside a pid namespace
 * the number could name an inside process; outside pids are large, sandbox pids small.) */
#include "probe_common.c"
#include <signal.h>

int main(int argc, char **argv)
{
    PROBE("kill_outside");
    pid_t pid = parse_pid(need_arg(argc, argv, 1, "PID of an outside process"));
    if (pid == getpid()) report(ERROR, "pid %d is this probe", (int)pid);
    int r0 = kill(pid, 0), e0 = errno;
    int r1 = kill(pid, SIGCONT), e1 = errno;
    if (r0 == 0 || r1 == 0)
        report(ESCAPED, "kill(%d, 0): %s; kill(%d, SIGCONT): %s", (int)pid, r0 == 0 ? "ok" : en(e0), (int)pid,
               r1 == 0 ? "delivered" : en(e1));
    report(BLOCKED, "kill(%d, 0): %s; kill(%d, SIGCONT): %s", (int)pid, en(e0), (int)pid, en(e1));
}
