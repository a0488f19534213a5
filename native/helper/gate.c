/*
 * gate.c: the monitor's directives, the first phase of a plan, carried out around clone():
 *
 *   startGate      the FIFO (a host path) is opened before clone, for reading and, through
 *                  /proc/self/fd, for writing too: a FIFO without a writer polls POLLHUP forever, and
 *                  with our own writer it polls POLLIN only when `stockade-runtime start` has written
 *                  its byte.  The workload is held after MSG_EXEC until then ('created' first).
 *   consoleSocket  connected before clone, so a missing listener fails before anything runs; the
 *                  final pty master goes over it with SCM_RIGHTS when the workload is ready.
 *   oomScoreAdj    written to /proc/<init>/oom_score_adj before the init is released.
 *   seccompListener connected before clone, as the console socket; the workload's seccomp notify fd
 *                  goes over it with the container's state when the workload hands it over
 *                  (listener.c).
 *
 * The paths of joined namespaces are opened here too, before clone: pid is joined by the monitor
 * itself (setns(CLONE_NEWPID) only moves its future children), the others by the init (ns.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helper.h"

static int open_gate(const char *fifo, struct directives *d)
{
    char self[64];
    struct stat st;
    /* O_PATH first: nothing is opened for real (no device side effect) until it is known a FIFO; then
     * the same inode twice through /proc/self/fd, never the path again (it may be replaced meanwhile). */
    int path = open(fifo, O_PATH | O_CLOEXEC);
    if (path < 0)
        return status_error("monitor", errno, "startGate %s: opening the fifo: %s", fifo, strerror(errno));
    if (fstat(path, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        close(path);
        return status_error("monitor", ENOTSUP, "startGate %s: not a fifo", fifo);
    }
    snprintf(self, sizeof self, "/proc/self/fd/%d", path);
    d->gate_r = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    d->gate_w = d->gate_r < 0 ? -1 : open(self, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(path);
    if (d->gate_w < 0)
        return status_error("monitor", e, "startGate %s: opening the fifo through /proc/self/fd: %s", fifo, strerror(e));
    return 0;
}

/* Connects *out (AF_UNIX, SOCK_STREAM) to path; `what` names the directive in errors.  A path longer
 * than sun_path is reached through its directory's descriptor under /proc/self/fd. */
int connect_unix(const char *path, const char *what, int *out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int dir = -1, r;
    if (strlen(path) < sizeof sa.sun_path) {
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    } else {
        char parent[PLAN_MAX_PATH + 1];
        snprintf(parent, sizeof parent, "%s", path);
        char *slash = strrchr(parent, '/');
        slash[slash == parent ? 1 : 0] = 0;
        if ((dir = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
            return status_error("monitor", errno, "%s %s: opening its directory: %s", what, path, strerror(errno));
        if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dir, strrchr(path, '/') + 1) >=
            sizeof sa.sun_path) {
            close(dir);
            return status_error("monitor", ENAMETOOLONG, "%s %s: the socket's name is too long", what, path);
        }
    }
    *out = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    do
        r = *out < 0 ? -1 : connect(*out, (struct sockaddr *)&sa, sizeof sa);
    while (r < 0 && errno == EINTR);
    int e = errno;
    if (dir >= 0)
        close(dir);
    return r < 0 ? status_error("monitor", e, "%s %s: connect: %s", what, path, strerror(e)) : 0;
}

static int open_join(const struct op *op, struct joins *j)
{
    const char *type = ns_type_name(op->u.target.type);
    int fd = open(op->u.target.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return status_error("namespaces", errno, "joining the %s namespace %s: open: %s", type, op->u.target.path,
                            strerror(errno));
    if (op->u.target.type == NS_PID) {
        int r = setns(fd, CLONE_NEWPID), e = errno;
        close(fd);
        return r < 0 ? status_error("namespaces", e, "joining the pid namespace %s: setns: %s", op->u.target.path,
                                    strerror(e))
                     : 0;
    }
    if (j->n == MAX_JOINS) { /* validation allows one per type: cannot happen */
        close(fd);
        return status_error("namespaces", E2BIG, "joining the %s namespace: too many joins", type);
    }
    j->fd[j->n] = fd;
    j->type[j->n++] = op->u.target.type;
    return 0;
}

/* Before clone.  On failure everything opened so far is closed again by the caller's exit. */
int directives_open(const struct plan *p, struct directives *d, struct joins *j)
{
    d->gate_r = d->gate_w = d->console = d->listener = -1;
    j->n = 0;
    for (uint32_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        int r = 0;
        if (op->kind == OP_START_GATE)
            r = open_gate(op->u.target.path, d);
        else if (op->kind == OP_CONSOLE_SOCKET)
            r = connect_unix(op->u.target.path, "consoleSocket", &d->console);
        else if (op->kind == OP_SECCOMP_LISTENER)
            r = connect_unix(op->u.listener.path, "seccompListener", &d->listener);
        else if (op->kind == OP_JOIN_NAMESPACE)
            r = open_join(op, j);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* In the init: none of this is the sandbox's. */
void directives_close(struct directives *d)
{
    int *fds[] = { &d->gate_r, &d->gate_w, &d->console, &d->listener };
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int write_oom_score_adj(const struct plan *p, pid_t init)
{
    const struct op *op = p->first[OP_OOM_SCORE_ADJ];
    char path[64], value[16];
    if (op == NULL)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)init);
    int n = snprintf(value, sizeof value, "%d\n", (int)op->u.oom_score_adj);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t w = fd < 0 ? -1 : write(fd, value, (size_t)n);
    int e = w == n ? 0 : w < 0 ? errno : EIO;
    if (fd >= 0)
        close(fd);
    return e ? status_error("monitor", e, "oomScoreAdj %d: writing %s: %s", (int)op->u.oom_score_adj, path, strerror(e))
             : 0;
}

/* Sends the pty master over the console socket (one message: a short name and the descriptor, as
 * runc's --console-socket does), then closes the socket.  The caller closes its copy of the master. */
int console_send(struct directives *d, int master)
{
    static const char name[] = "/dev/ptmx";
    ssize_t n = send_with_fd(d->console, name, sizeof name - 1, master);
    int e = errno;
    close(d->console);
    d->console = -1;
    return n == (ssize_t)(sizeof name - 1) ? 0 : status_error("monitor", n < 0 ? e : EIO, "consoleSocket: sending the pty: %s",
                                                         strerror(n < 0 ? e : EIO));
}

/* The gate is readable: 1 when `start` wrote its byte (the gate is then closed), 0 otherwise. */
int gate_read(struct directives *d)
{
    char b[64];
    ssize_t n = read(d->gate_r, b, sizeof b);
    if (n <= 0)
        return 0; /* EAGAIN or EINTR; EOF cannot happen while we hold a writer */
    close(d->gate_r);
    close(d->gate_w);
    d->gate_r = d->gate_w = -1;
    return 1;
}
