/*
 * listener.c: the seccompListener directive (OCI linux.seccomp.listenerPath), the monitor's half.
 *
 * The workload loads the seccomp op that has SECCOMP_FILTER_FLAG_NEW_LISTENER, gets the filter's
 * notify fd and passes it at once to the monitor (MSG_LISTENER, SCM_RIGHTS; seccomp.c).  The monitor,
 * connected to the listener's socket since before clone (gate.c), sends it on in one message: the OCI
 * runtime spec's container process state, with the fd in SCM_RIGHTS,
 *
 *   {"ociVersion":"1.0.2","fds":["seccompFd"],"pid":PID,"metadata":"...","state":{"pid":PID,...}}
 *
 * (metadata only when not empty; PID as our pid namespace sees the workload; state is the op's JSON
 * object, which has no pid, with "pid" added first).  Then it closes its copy of the fd and the
 * connection: the end of the stream ends the message.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

/* The message; false when it could not be built (out of memory). */
static bool build_message(struct sbuf *b, const struct op *op, pid_t pid)
{
    const char *state = op->u.listener.state + 1; /* past the '{' (plan_check.c: an object) */
    while (*state == ' ' || *state == '\t' || *state == '\n' || *state == '\r')
        state++;
    sb_printf(b, "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d", (int)pid);
    if (op->u.listener.metadata[0] != 0) {
        sb_puts(b, ",\"metadata\":");
        sb_json_str(b, op->u.listener.metadata);
    }
    sb_printf(b, ",\"state\":{\"pid\":%d%s", (int)pid, *state == '}' ? "" : ",");
    sb_puts(b, state);
    sb_puts(b, "}");
    return !b->overflow;
}

/* Sends the notify fd and the state, then closes the connection.  The caller closes notify_fd. */
int listener_send(struct directives *d, const struct op *op, int notify_fd, pid_t pid)
{
    struct sbuf b;
    int e = 0;
    if (d->listener < 0)
        return status_error("monitor", EPROTO, "seccompListener: a second notify fd, or one without a listener");
    sb_dynamic(&b);
    if (!build_message(&b, op, pid)) {
        e = ENOMEM;
    } else {
        /* The fd rides on the first bytes; a stream socket may take the rest in later calls. */
        size_t sent = 0;
        while (sent < b.len) {
            ssize_t n = sent == 0 ? send_with_fd(d->listener, b.p, b.len, notify_fd)
                                  : send(d->listener, b.p + sent, b.len - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                e = n < 0 ? errno : EIO;
                break;
            }
            sent += (size_t)n;
        }
    }
    sb_free(&b);
    close(d->listener);
    d->listener = -1;
    return e ? status_error("monitor", e, "seccompListener %s: sending the seccomp notify fd: %s", op->u.listener.path,
                            strerror(e))
             : 0;
}
