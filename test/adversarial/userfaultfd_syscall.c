/* userfaultfd(2), plain and with UFFD_USER_MODE_ONLY: lets a process stall the kernel at a chosen
 * page fault, the usual way to win kernel race conditions. Escaped if either returned an fd. */
#include "probe_common.c"
#include <linux/userfaultfd.h>
#include <sys/syscall.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

int main(void)
{
    PROBE("userfaultfd_syscall");
    long a = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    int e1 = errno;
    long b = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    int e2 = errno;
    if (a >= 0 || b >= 0)
        report(ESCAPED, "userfaultfd(0): %s; userfaultfd(UFFD_USER_MODE_ONLY): %s", a >= 0 ? "fd" : en(e1),
               b >= 0 ? "fd" : en(e2));
    if (e1 == ENOSYS && e2 == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_userfaultfd", "__arm64_sys_userfaultfd", NULL };
        attribute_missing(e1, "userfaultfd", syms, "userfaultfd");
    }
    report(BLOCKED, "userfaultfd(0): %s; userfaultfd(UFFD_USER_MODE_ONLY): %s", en(e1), en(e2));
}
