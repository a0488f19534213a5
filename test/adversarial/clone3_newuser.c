/* clone3(2) with CLONE_NEWUSER: clone3 passes its flags in memory, where seccomp cannot look, so
 * a filter can only refuse clone3 as a whole (stockade:default: ENOSYS, and libcs fall back to
 * clone). Escaped if clone3 returned a child. */
#include "probe_common.c"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void)
{
    PROBE("clone3_newuser");
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid < 0) {
        int e = errno;
        if (e == ENOSYS) {
            static const char *const syms[] = { "__x64_sys_clone3", "__arm64_sys_clone3", NULL };
            attribute_missing(e, "clone3", syms, "clone3(CLONE_NEWUSER)");
        }
        report(BLOCKED, "clone3(CLONE_NEWUSER): %s", en(e));
    }
    int status;
    waitpid((pid_t)pid, &status, 0);
    report(ESCAPED, "clone3(CLONE_NEWUSER) created child %ld", pid);
}
