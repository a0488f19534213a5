/*
 * TIOCLINUX: the virtual-console multiplexer ioctl, whose selection-paste subcode pushes text into
 * a console's input. The probe asks a harmless question (subcode 17, TIOCL_GETKMSGREDIRECT) on a
 * terminal (argv[1], default /dev/tty0; if it cannot be opened, a pipe, since the point is whether
 * the ioctl gets past the filter at all). Escaped if the ioctl reached the tty layer: it returned a
 * value, or the kernel's own "not a console" answer (ENOTTY/EINVAL). EPERM is blocked.
 */
#include "probe_common.c"
#include <sys/ioctl.h>

int main(int argc, char **argv)
{
    PROBE("tioclinux");
    const char *tty = argc > 1 && argv[1][0] ? argv[1] : "/dev/tty0";
    char target[4200];
    int fd = open(tty, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        snprintf(target, sizeof target, "%s", tty);
    } else {
        int e = errno, p[2];
        if (pipe(p) < 0) report(ERROR, "open %s: %s, and pipe: %s", tty, en(e), en(errno));
        fd = p[0];
        snprintf(target, sizeof target, "a pipe (open %s: %s)", tty, en(e));
    }
    char arg[8] = { 17 };
    int r = ioctl(fd, TIOCLINUX, arg);
    if (r >= 0) report(ESCAPED, "ioctl(TIOCLINUX, GETKMSGREDIRECT) on %s returned %d (value %d)", target, r, arg[0]);
    int e = errno;
    if (e == ENOTTY || e == EINVAL)
        report(ESCAPED, "reachable: ioctl(TIOCLINUX) on %s passed any filter; the kernel answered %s (not a console)",
               target, en(e));
    report(BLOCKED, "ioctl(TIOCLINUX) on %s: %s", target, en(e));
}
