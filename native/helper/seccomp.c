/*
 * seccomp.c: loading the plan's classic-BPF program.  The helper does not read the program: it was
 * compiled and checked on the TypeScript side (src/seccomp); the kernel verifies it again here.
 *
 * A filter loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER (a seccompListener plan) returns a notify fd;
 * the workload hands it to the monitor at once (MSG_LISTENER, SCM_RIGHTS), which sends it to the
 * listener (listener.c).  Between the load and that sendmsg the workload makes no other syscall, so
 * sendmsg (socketcall where libc uses it) is the one call the filter must not send to the listener:
 * the workload would wait for an answer from a listener only it holds.  stockade-runtime refuses
 * SCMP_ACT_NOTIFY on them (src/oci-runtime/to-plan.ts).  Once the monitor holds a copy of the fd,
 * every later call (close, write, seccomp for the next filter, execve) may be notified: the listener
 * answers it.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

/* Passes the notify fd to the monitor and closes ours.  No syscall before the sendmsg. */
static int hand_over(int notify_fd, int sync_fd)
{
    char tag = MSG_LISTENER;
    ssize_t n = send_with_fd(sync_fd, &tag, 1, notify_fd);
    int e = n == 1 ? 0 : n < 0 ? errno : EIO;
    /* Closed before anything is reported: if the monitor never got it, notified calls now fail with
     * ENOSYS instead of waiting for a listener that is gone. */
    close(notify_fd);
    return e ? status_error("seccomp", e, "passing the seccomp notify fd to the monitor: %s", strerror(e)) : 0;
}

int apply_seccomp(const struct op *op, int sync_fd)
{
    const typeof(op->u.seccomp) *s = &op->u.seccomp;
    struct sock_fprog prog = { .len = (unsigned short)(s->len / 8), .filter = (struct sock_filter *)(void *)s->prog };
    unsigned flags = s->flags | (s->log ? SECCOMP_FILTER_FLAG_LOG : 0);
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r >= 0)
        return flags & SECCOMP_FLAG_NEW_LISTENER ? hand_over((int)r, sync_fd) : 0;
    int e = errno;
    return status_error("seccomp", e, "loading a filter of %u instructions (flags 0x%x)%s: %s", s->len / 8, flags,
                        e == EACCES ? " without noNewPrivs or CAP_SYS_ADMIN" : "", strerror(e));
}
