/*
 * sandbox.c: the two processes inside the namespaces.
 *
 * The sandbox init (pid 1 of a new pid namespace; an ordinary process of a joined one) finishes what the namespaces need (cgroup
 * namespace, loopback, mounts, hostname), forks the workload and becomes its reaper: it forwards the
 * signals it gets to the workload, reaps every child, and sends the workload's wait status to the
 * monitor.  Staying pid 1 (instead of exec'ing the workload as pid 1) means the workload gets the
 * usual signal semantics and orphans are reaped.
 *
 * The workload process applies what belongs to it alone, in the order of the plan's phases: rlimits,
 * user, capabilities, setsid, the LSM exec label, no_new_privs, Landlock, then announces itself, loads seccomp last and
 * calls execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "sys.h"

static volatile pid_t workload_pid;

static void forward(int sig)
{
    if (workload_pid > 0)
        kill(workload_pid, sig);
}

/* Every failure before execve tells the init (one byte on the exec pipe) that no execve happened. */
static void __attribute__((noreturn)) workload_exit(int exec_fd, int code)
{
    char b = 1;
    if (exec_fd >= 0 && write(exec_fd, &b, 1) < 0) { /* the init is gone: nothing left to tell */ }
    _exit(code);
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* execve, or a PATH search in the plan's environment when the path has no slash (execvpe's rules:
 * EACCES on one candidate does not stop the search, but is what is reported if nothing runs). */
static void __attribute__((noreturn)) do_exec(const struct op *op, int exec_fd)
{
    const typeof(op->u.exec) *e = &op->u.exec;
    int err;
    if (strchr(e->path, '/') != NULL) {
        execve(e->path, e->argv, e->envp);
        err = errno;
    } else {
        const char *path = env_get(e->envp, "PATH");
        char file[PLAN_MAX_PATH + 2];
        bool denied = false;
        err = ENOENT;
        for (const char *dir = path ? path : "/usr/local/bin:/usr/bin:/bin"; dir != NULL;) {
            const char *end = strchr(dir, ':');
            int len = end ? (int)(end - dir) : (int)strlen(dir);
            if (snprintf(file, sizeof file, "%.*s/%s", len, len > 0 ? dir : ".", e->path) < (int)sizeof file) {
                execve(file, e->argv, e->envp);
                if (errno == EACCES)
                    denied = true;
                else if (errno != ENOENT && errno != ENOTDIR) {
                    err = errno;
                    break;
                }
            }
            dir = end ? end + 1 : NULL;
        }
        if (err == ENOENT && denied)
            err = EACCES;
    }
    /* The caller's SIGPIPE disposition is back: a status reader that is gone must not kill us here. */
    signal(SIGPIPE, SIG_IGN);
    status_error("exec", err, "%s: %s", e->path, strerror(err));
    workload_exit(exec_fd, err == ENOENT ? EXIT_EXEC_NOENT : EXIT_EXEC_OTHER);
}

/* Tells the monitor we are about to execve (it reports "started" with our pid in its namespace)
 * and waits for its answer, so "started" precedes anything the workload prints or an exec error. */
static int announce(int sync)
{
    char msg = MSG_EXEC, ack = 0;
    ssize_t n;
    if (send(sync, &msg, 1, MSG_NOSIGNAL) != 1)
        return -1;
    do
        n = recv(sync, &ack, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 1 && ack == MSG_ACK ? 0 : -1;
}

static void __attribute__((noreturn)) workload_main(struct sandbox_ctx *c, int exec_fd)
{
    const struct plan *p = c->plan;
    const struct op *exec_op = &p->ops[p->nops - 1];
    /* Dies when the init does (killed by the monitor, or dying with it), pid namespace or not. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (uint32_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        enum phase ph = op_phase(op->kind);
        int r = 0;
        if (ph < PH_RLIMIT || ph == PH_CGROUP || ph >= PH_SECCOMP)
            continue; /* done by the monitor or the init, or below */
        switch (op->kind) {
        case OP_RLIMIT:
            /* Before the uid change: lowering needs nothing, and a failed raise says so clearly. */
            r = apply_rlimit(op);
            break;
        case OP_USER:
            r = apply_user(op, p->first[OP_CAPABILITIES] != NULL || p->first[OP_CAPABILITY_SETS] != NULL,
                           p->ns & NS_USER);
            /* A credential change clears the parent-death signal: set it again. */
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            break;
        case OP_CAPABILITIES:
            /* After the uid change, which would otherwise recompute the sets behind our back. */
            r = apply_capabilities(op);
            break;
        case OP_CAPABILITY_SETS:
            r = apply_capability_sets(op);
            break;
        case OP_SETSID:
            /* A new session: TIOCSTI and job control cannot reach the caller's terminal. */
            r = op->u.terminal ? pty_attach(c->pty_slave) : (setsid() < 0 ? status_error("setsid", errno, "setsid: %s", strerror(errno)) : 0);
            break;
        case OP_EXEC_LABEL:
            /* The AppArmor profile or SELinux context execve enters: after the identity (writing one's
             * own attr needs no privilege), before no_new_privs, as runc does. */
            r = apply_exec_label(op);
            break;
        case OP_NO_NEW_PRIVS:
            /* Before Landlock and seccomp, which an unprivileged process may only use with it. */
            r = apply_no_new_privs();
            break;
        case OP_LANDLOCK:
            /* After the mounts (its paths are the sandbox's) and before seccomp (it needs syscalls a
             * filter would not allow). */
            r = apply_landlock(op);
            break;
        default:
            break;
        }
        if (r < 0)
            workload_exit(exec_fd, EXIT_SETUP);
        if (i + 1 == p->nops || op_phase(p->ops[i + 1].kind) != ph)
            status_step(ph);
    }
    if (chdir(exec_op->u.exec.cwd) < 0) {
        status_error("exec", errno, "chdir %s: %s", exec_op->u.exec.cwd, strerror(errno));
        workload_exit(exec_fd, EXIT_SETUP);
    }
    /* Nothing of the helper's may reach the workload: every descriptor above stdio is closed at
     * execve (the status descriptor and the socket included; they stay usable until then). */
    if (syscall(SYS_close_range, 3u, ~0u, SK_CLOSE_RANGE_CLOEXEC) < 0)
        for (int fd = 3; fd < 4096; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    /* Held at a start gate, the workload is a created container's process: a signal sent before
     * `start` (`stockade-runtime kill`) must reach it, not wait blocked until execve. */
    if (p->first[OP_START_GATE] != NULL)
        sigprocmask(SIG_SETMASK, &c->orig_mask, NULL);
    if (announce(c->sync_fd) < 0)
        workload_exit(exec_fd, EXIT_SETUP); /* the monitor is gone */
    /* seccomp last, so the filter need not allow the setup's own syscalls. */
    if (p->first[OP_SECCOMP] != NULL) {
        /* Every filter of the plan, in order: they stack, and each call must pass all of them.  The
         * one with NEW_LISTENER hands its notify fd to the monitor as soon as it is loaded (seccomp.c),
         * while the monitor still reads this socket in its loop. */
        for (uint32_t i = 0; i < p->nops; i++)
            if (p->ops[i].kind == OP_SECCOMP && apply_seccomp(&p->ops[i], c->sync_fd) < 0)
                workload_exit(exec_fd, EXIT_SETUP);
        status_step(PH_SECCOMP);
    }
    sigaction(SIGPIPE, &c->orig_sigpipe, NULL);
    sigprocmask(SIG_SETMASK, &c->orig_mask, NULL);
    do_exec(exec_op, exec_fd);
}

/* The sandbox's own pty, when it has a /dev/ptmx, replaces the monitor's (see pty.c). */
static int sandbox_pty(struct sandbox_ctx *c)
{
    int master = pty_open_inside(&c->pty_slave, c->plan->first[OP_USER]);
    if (master == -2)
        return -1;
    if (master == -1)
        return 0;
    char tag = MSG_PTY;
    ssize_t n = send_with_fd(c->sync_fd, &tag, 1, master);
    close(master);
    return n == 1 ? 0 : status_error("setsid", errno, "passing the pty to the monitor: %s", strerror(errno));
}

/* In the init: the steps that affect the whole sandbox. */
static int init_setup(struct sandbox_ctx *c)
{
    const struct plan *p = c->plan;
    uint32_t i = 0;
    /* Joined namespaces first (the monitor joined pid before clone): everything below happens in
     * them.  After a mount namespace join, the root and cwd are that namespace's. */
    if (c->joins.n > 0 && join_namespaces(&c->joins) < 0)
        return -1;
    /* The cgroup namespace now that the monitor has put us in our cgroups: its root is ours. */
    if ((p->ns & NS_CGROUP) && unshare(CLONE_NEWCGROUP) < 0)
        return status_error("namespaces", errno, "unshare(CLONE_NEWCGROUP): %s", strerror(errno));
    if ((p->ns & NS_NET) && loopback_up() < 0)
        return -1;
    while (i < p->nops && op_phase(p->ops[i].kind) < PH_MOUNT)
        i++;
    /* Mounts need the id maps (written by the monitor before MSG_GO) and come before everything
     * that resolves paths in the sandbox's view (hostname needs none, Landlock and exec do). */
    if (i < p->nops && op_phase(p->ops[i].kind) == PH_MOUNT) {
        if (mount_phase(p, &i) < 0)
            return -1;
        status_step(PH_MOUNT);
    }
    /* The hostname needs only the UTS namespace; it is set here, in the init, because it belongs to
     * the whole sandbox, and before the fork so that a failure stops everything before any workload. */
    if (p->first[OP_HOSTNAME] != NULL) {
        const char *name = p->first[OP_HOSTNAME]->u.hostname;
        if (sethostname(name, strlen(name)) < 0)
            return status_error("hostname", errno, "sethostname %s: %s", name, strerror(errno));
        status_step(PH_HOSTNAME);
    }
    /* After the mounts: the pty must come from the sandbox's /dev. */
    if (c->pty_slave >= 0 && sandbox_pty(c) < 0)
        return -1;
    return 0;
}

void sandbox_init_main(struct sandbox_ctx *c)
{
    char go = 0;
    int exec_pipe[2], st = 0;
    sigset_t fwd;
    /* Die with the monitor.  If it died before this line, the recv below sees EOF. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (recv(c->sync_fd, &go, 1, 0) != 1 || go != MSG_GO)
        _exit(EXIT_SETUP);
    if (init_setup(c) < 0)
        _exit(EXIT_SETUP);
    /* OCI: the container's process is its first process (pid 1 of a new pid namespace), as engines
     * and programs expect; the monitor is its parent and takes its wait status directly. */
    if (c->plan->workload_is_init)
        workload_main(c, -1);
    if (pipe2(exec_pipe, O_CLOEXEC) < 0) {
        status_error("exec", errno, "pipe2: %s", strerror(errno));
        _exit(EXIT_SETUP);
    }
    pid_t w = fork();
    if (w == 0) {
        close(exec_pipe[0]);
        workload_main(c, exec_pipe[1]);
    }
    if (w < 0) {
        status_error("exec", errno, "fork: %s", strerror(errno));
        _exit(EXIT_SETUP);
    }
    close(exec_pipe[1]);
    if (c->pty_slave >= 0)
        close(c->pty_slave);
    /* Nothing in the sandbox may ptrace the init or read its memory: it holds the monitor's socket
     * and the status descriptor.  Without a pid namespace, stay the reaper of the workload's tree. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    workload_pid = w;
    /* A pid-namespace init receives from outside only the signals it has handlers for. */
    sigemptyset(&fwd);
    for (size_t i = 0; i < n_forwarded_signals; i++) {
        struct sigaction sa = { .sa_handler = forward };
        sigaction(forwarded_signals[i], &sa, NULL);
        sigaddset(&fwd, forwarded_signals[i]);
    }
    sigprocmask(SIG_UNBLOCK, &fwd, NULL);
    /* EOF without a byte: execve happened (the pipe is close-on-exec) or the workload died trying. */
    char failed = 0;
    ssize_t n;
    do
        n = read(exec_pipe[0], &failed, 1);
    while (n < 0 && errno == EINTR);
    for (;;) {
        pid_t r = waitpid(-1, &st, 0);
        if (r == w || (r < 0 && errno != EINTR))
            break;
    }
    struct result_msg res = { .tag = MSG_RESULT, .exec_ok = n == 0, .wait_status = st };
    send(c->sync_fd, &res, sizeof res, MSG_NOSIGNAL);
    _exit(0);
}
