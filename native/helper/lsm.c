/*
 * lsm.c: the execLabel op, in the workload: the label its execve enters (OCI process.apparmorProfile,
 * process.selinuxLabel).  Written after the identity, capabilities and setsid, and before
 * no_new_privs (as runc does: a domain transition set up under no_new_privs is restricted).
 *
 *   AppArmor  "exec <profile>" to /proc/thread-self/attr/apparmor/exec, or to the shared
 *             /proc/thread-self/attr/exec on kernels without the apparmor directory (before 5.1)
 *   SELinux   the context to /proc/thread-self/attr/exec
 *
 * /proc is the sandbox's own proc mount by now (after pivot_root, or the joined mount namespace's):
 * a file that is not on a procfs is refused, so a bind over /proc cannot swallow the label.  Nothing
 * is ever ignored: a failure is a setup error naming the file and errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "helper.h"

#define APPARMOR_EXEC "/proc/thread-self/attr/apparmor/exec"
#define SHARED_EXEC "/proc/thread-self/attr/exec"

/* Opens `file` for writing and checks that it is a procfs file; -1 with errno set otherwise. */
static int open_attr(const char *file)
{
    struct statfs sf;
    int fd = open(file, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstatfs(fd, &sf) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (sf.f_type != PROC_SUPER_MAGIC) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

int apply_exec_label(const struct op *op)
{
    const char *label = op->u.label.label;
    const char *lsm = lsm_name(op->u.label.lsm);
    const char *file = SHARED_EXEC;
    char buf[PLAN_MAX_PATH + 8];
    struct stat st;
    int n, fd = -1;
    if (stat("/proc/thread-self", &st) < 0)
        return status_error("execLabel", errno, "%s label %s: /proc/thread-self: %s (the label is written to "
                            "/proc/thread-self/attr: the sandbox needs a proc mount on /proc)",
                            lsm, label, strerror(errno));
    if (op->u.label.lsm == LSM_APPARMOR) {
        n = snprintf(buf, sizeof buf, "exec %s", label);
        file = APPARMOR_EXEC;
        fd = open_attr(file);
        if (fd < 0 && errno == ENOENT) {
            file = SHARED_EXEC; /* a kernel without /proc/PID/attr/apparmor (before 5.1) */
            fd = open_attr(file);
        }
    } else {
        n = snprintf(buf, sizeof buf, "%s", label);
        fd = open_attr(file);
    }
    if (n < 0 || (size_t)n >= sizeof buf) {
        if (fd >= 0)
            close(fd);
        return status_error("execLabel", ENAMETOOLONG, "%s label %s: too long", lsm, label);
    }
    if (fd < 0)
        return status_error("execLabel", errno, "%s label %s: open %s: %s%s", lsm, label, file, strerror(errno),
                            errno == EXDEV ? " (not on a procfs: /proc is not the sandbox's proc mount)" : "");
    ssize_t w = write(fd, buf, (size_t)n);
    int err = errno;
    close(fd);
    if (w < 0)
        return status_error("execLabel", err, "%s label %s: write %s: %s", lsm, label, file, strerror(err));
    if (w != n)
        return status_error("execLabel", EIO, "%s label %s: write %s: %zd of %d bytes written", lsm, label, file, w, n);
    return 0;
}
