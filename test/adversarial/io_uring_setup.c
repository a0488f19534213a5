/* io_uring_setup(4, params): io_uring runs operations from kernel workers, outside the caller's
 * seccomp filter, and has been a rich source of kernel bugs. Escaped if it returned a ring fd. */
#include "probe_common.c"
#include <linux/io_uring.h>
#include <sys/syscall.h>

int main(void)
{
    PROBE("io_uring_setup");
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(SYS_io_uring_setup, 4, &p);
    if (fd >= 0) {
        close((int)fd);
        report(ESCAPED, "io_uring_setup returned ring fd %ld", fd);
    }
    int e = errno;
    if (e == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_io_uring_setup", "__arm64_sys_io_uring_setup", NULL };
        attribute_missing(e, "io_uring", syms, "io_uring_setup");
    }
    report(BLOCKED, "io_uring_setup: %s", en(e));
}
