/* ptrace(PTRACE_SEIZE) of an outside process (argv[1]). SEIZE does not stop the tracee, and the
 * kernel detaches when this probe exits. Escaped if it returned 0. */
#include "probe_common.c"
#include <sys/ptrace.h>

int main(int argc, char **argv)
{
    PROBE("ptrace_attach");
    pid_t pid = parse_pid(need_arg(argc, argv, 1, "PID of an outside process"));
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) report(ESCAPED, "ptrace(PTRACE_SEIZE, %d) returned 0", (int)pid);
    report(BLOCKED, "ptrace(PTRACE_SEIZE, %d): %s", (int)pid, en(errno));
}
