/* clone(2) with CLONE_NEWUSER directly (not unshare): the child starts in a new user namespace
 * and exits at once. Escaped if clone returned a child. */
#include "probe_common.c"
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void)
{
    PROBE("clone_newuser");
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid < 0) report(BLOCKED, "clone(CLONE_NEWUSER): %s", en(errno));
    int status;
    waitpid((pid_t)pid, &status, 0);
    report(ESCAPED, "clone(CLONE_NEWUSER) created child %ld", pid);
}
