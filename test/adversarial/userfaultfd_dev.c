/* /dev/userfaultfd (Linux 6.1+): the same object as the userfaultfd syscall, obtained with
 * open() + ioctl(USERFAULTFD_IOC_NEW), so a filter on the syscall alone does not stop it.
 * Escaped if the ioctl returned an fd. */
#include "probe_common.c"
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

int main(int argc, char **argv)
{
    PROBE("userfaultfd_dev");
    const char *path = argc > 1 ? argv[1] : "/dev/userfaultfd";
    int dev = open(path, O_RDWR | O_CLOEXEC);
    if (dev < 0) {
        int e = errno;
        static const char *const syms[] = { "userfaultfd_dev_ioctl", NULL };
        if (e == ENOENT && kernel_has(syms) == 0)
            report(ERROR, "unsupported: open %s: ENOENT, and this kernel has no /dev/userfaultfd", path);
        report(BLOCKED, "open %s: %s", path, en(e));
    }
    int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
    if (fd >= 0) report(ESCAPED, "open %s + USERFAULTFD_IOC_NEW returned a userfaultfd", path);
    report(BLOCKED, "opened %s, but USERFAULTFD_IOC_NEW: %s", path, en(errno));
}
