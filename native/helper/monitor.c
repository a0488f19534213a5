/*
 * monitor.c: the helper process itself.  It stays in the caller's namespaces and
 *
 *   1. clone()s the sandbox init into the new namespaces (with CLONE_NEWPID the init is pid 1);
 *   2. writes the init's uid/gid maps (only a process outside the new user namespace can);
 *   3. writes the init's pid into the cgroup.procs files, before the init may run anything, so
 *      every process of the sandbox is accounted from its first instruction;
 *   4. releases the init (MSG_GO) and waits in a poll loop: signals (from a signalfd) are forwarded
 *      to the init, which forwards them to the workload; the wall-clock timeout kills the sandbox;
 *      MSG_EXEC from the workload becomes the "started" line, with the workload's pid as the kernel
 *      translates it into our pid namespace (SCM_CREDENTIALS); with a startGate it becomes "created"
 *      and the workload is held until the gate's FIFO gets a byte (gate.c); with a consoleSocket the
 *      pty master is sent there first; MSG_LISTENER carries the workload's seccomp notify fd, sent on
 *      to the seccompListener (listener.c); MSG_RESULT from the init carries the workload's wait status;
 *      in terminal mode without a console socket the pty is relayed;
 *   5. reports the workload's end and exits with its status (128 + signal for a signal).
 *
 * The sandbox dies with the monitor: the init has PR_SET_PDEATHSIG(SIGKILL), and when a pid
 * namespace's init dies the kernel kills everything in it (a joined pid namespace is not ours: there
 * the workload dies by its own PR_SET_PDEATHSIG, tied to the init).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };
const size_t n_forwarded_signals = sizeof forwarded_signals / sizeof forwarded_signals[0];

struct monitor {
    const struct plan *plan;
    pid_t init, workload; /* as seen from our pid namespace; workload 0 until MSG_EXEC */
    int sync, sigfd, timer, master;
    bool sync_open, init_done, have_result, timed_out, terminal, failed;
    bool relay_on;  /* terminal mode, relayed on our stdio (no console socket) */
    bool gate_wait; /* "created" is reported; the workload waits for the gate */
    struct directives dir;
    int init_status;
    struct result_msg result;
    struct relay relay;
};

static unsigned long clone_flags(uint32_t ns)
{
    /* With CLONE_NEWUSER in the same call the kernel makes the user namespace first, so it owns the
     * others: that is what lets an unprivileged caller have them.  The cgroup namespace is left to
     * the init, after the cgroup join (sandbox.c), so that its root is the sandbox's cgroup. */
    return (ns & NS_USER ? CLONE_NEWUSER : 0) | (ns & NS_PID ? CLONE_NEWPID : 0) | (ns & NS_MOUNT ? CLONE_NEWNS : 0) |
           (ns & NS_NET ? CLONE_NEWNET : 0) | (ns & NS_UTS ? CLONE_NEWUTS : 0) | (ns & NS_IPC ? CLONE_NEWIPC : 0);
}

static int abort_sandbox(struct monitor *m)
{
    kill(m->init, SIGKILL);
    while (waitpid(m->init, NULL, 0) < 0 && errno == EINTR)
        ;
    return EXIT_SETUP;
}

static int join_cgroups(const struct plan *p, pid_t pid)
{
    char num[16];
    int n = snprintf(num, sizeof num, "%d\n", (int)pid);
    for (uint32_t i = 0; i < p->nops; i++) {
        if (p->ops[i].kind != OP_CGROUP)
            continue;
        for (uint32_t j = 0; j < p->ops[i].u.cgroup.n; j++) {
            const char *file = p->ops[i].u.cgroup.files[j];
            int fd = open(file, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, num, (size_t)n) != n) {
                int e = errno;
                if (fd >= 0)
                    close(fd);
                return status_error("cgroup", e, "writing pid %d to %s: %s", (int)pid, file, strerror(e));
            }
            close(fd);
        }
    }
    return 0;
}

/* The workload may go on to execve: "started", then the acknowledgement it waits for. */
static void release_workload(struct monitor *m)
{
    char ack = MSG_ACK;
    status_event("started", "pid", m->workload);
    send(m->sync, &ack, 1, MSG_NOSIGNAL);
}

/* A failure after the init was released: the sandbox is killed and the helper exits 125. */
static void fail_sandbox(struct monitor *m)
{
    m->failed = true;
    kill(m->init, SIGKILL);
    if (m->workload > 0)
        kill(m->workload, SIGKILL);
}

/* MSG_EXEC: the pty goes to the console socket first, then "created" (held at the gate) or "started". */
static void on_exec(struct monitor *m, pid_t sender)
{
    m->workload = sender;
    if (m->dir.console >= 0) {
        int r = console_send(&m->dir, m->master);
        close(m->master);
        m->master = -1;
        if (r < 0) {
            fail_sandbox(m);
            return;
        }
    }
    if (m->dir.gate_r >= 0) {
        status_event2("created", "pid", m->workload, "initPid", m->init);
        m->gate_wait = true;
        return;
    }
    release_workload(m);
}

/* One message from the sandbox; false when there was none. */
static bool on_message(struct monitor *m)
{
    union { struct result_msg r; char b[64]; } buf;
    union { char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } cbuf;
    struct iovec iov = { .iov_base = &buf, .iov_len = sizeof buf };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf };
    ssize_t n = recvmsg(m->sync, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return false;
    if (n <= 0) { /* every sandbox process has closed its end */
        m->sync_open = false;
        return false;
    }
    pid_t sender = 0;
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred uc;
            memcpy(&uc, CMSG_DATA(c), sizeof uc);
            sender = uc.pid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
        }
    }
    if (buf.b[0] == MSG_PTY && fd >= 0 && m->terminal) {
        /* The sandbox's own pty replaces ours (see pty.c); nothing was written to ours yet. */
        close(m->master);
        m->master = fd;
        if (m->relay_on)
            relay_switch(&m->relay, fd);
        fd = -1;
    } else if (buf.b[0] == MSG_EXEC) {
        on_exec(m, sender);
    } else if (buf.b[0] == MSG_LISTENER && fd >= 0) {
        /* The workload's seccomp notify fd, right after its filter's load: on to the listener. */
        if (listener_send(&m->dir, m->plan->first[OP_SECCOMP_LISTENER], fd, sender) < 0)
            fail_sandbox(m);
    } else if (buf.b[0] == MSG_RESULT && n == (ssize_t)sizeof(struct result_msg)) {
        m->result = buf.r;
        m->have_result = true;
    }
    if (fd >= 0)
        close(fd);
    return true;
}

static void on_signals(struct monitor *m)
{
    struct signalfd_siginfo si;
    while (read(m->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo, st;
        if (sig == SIGCHLD) {
            if (waitpid(m->init, &st, WNOHANG) == m->init) {
                m->init_done = true;
                m->init_status = st;
            }
        } else if (sig == SIGWINCH && m->relay_on) {
            pty_copy_winsize(m->master); /* the kernel signals the pty's foreground group */
        } else {
            kill(m->init, sig);
        }
    }
}

static void on_timeout(struct monitor *m)
{
    m->timed_out = true;
    status_event("timeout", "afterMs", (long long)m->plan->wall_timeout_ms);
    /* Killing the init kills its pid namespace; without one, the workload is killed by name too. */
    kill(m->init, SIGKILL);
    if (m->workload > 0)
        kill(m->workload, SIGKILL);
    close(m->timer);
    m->timer = -1;
}

/* The helper's exit status, after the init is gone. */
static int outcome(struct monitor *m)
{
    int st = m->result.wait_status;
    if (m->failed)
        return EXIT_SETUP; /* an error line said why */
    if (m->timed_out)
        return 128 + SIGKILL;
    if (m->plan->workload_is_init && m->workload > 0) {
        /* The init was the workload: its own wait status is the result (a failed execve has
         * already said why, with 126 or 127). */
        st = m->init_status;
        if (WIFSIGNALED(st)) {
            status_event("signaled", "signal", WTERMSIG(st));
            return 128 + WTERMSIG(st);
        }
        status_event("exited", "code", WEXITSTATUS(st));
        return WEXITSTATUS(st);
    }
    if (m->have_result && m->result.exec_ok && WIFEXITED(st)) {
        status_event("exited", "code", WEXITSTATUS(st));
        return WEXITSTATUS(st);
    }
    if (m->have_result && m->result.exec_ok && WIFSIGNALED(st)) {
        status_event("signaled", "signal", WTERMSIG(st));
        return 128 + WTERMSIG(st);
    }
    if (m->have_result) /* the workload failed before execve and said why (125, 126, 127) */
        return WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : EXIT_SETUP;
    if (WIFEXITED(m->init_status) && WEXITSTATUS(m->init_status) != 0)
        return WEXITSTATUS(m->init_status); /* the init failed during setup and said why */
    status_error("monitor", 0, "the sandbox init ended (%s %d) before the workload did",
                 WIFSIGNALED(m->init_status) ? "signal" : "status",
                 WIFSIGNALED(m->init_status) ? WTERMSIG(m->init_status) : WEXITSTATUS(m->init_status));
    return EXIT_SETUP;
}

static int loop(struct monitor *m)
{
    while (!m->init_done) {
        struct pollfd pfd[7];
        int n = 1, sync_at = -1, timer_at = -1, gate_at = -1, relay_at;
        pfd[0] = (struct pollfd){ .fd = m->sigfd, .events = POLLIN };
        if (m->sync_open) {
            sync_at = n;
            pfd[n++] = (struct pollfd){ .fd = m->sync, .events = POLLIN };
        }
        if (m->timer >= 0) {
            timer_at = n;
            pfd[n++] = (struct pollfd){ .fd = m->timer, .events = POLLIN };
        }
        if (m->gate_wait) {
            gate_at = n;
            pfd[n++] = (struct pollfd){ .fd = m->dir.gate_r, .events = POLLIN };
        }
        relay_at = n;
        if (m->relay_on)
            n += relay_pollfds(&m->relay, pfd + n);
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            status_error("monitor", errno, "poll: %s", strerror(errno));
            return abort_sandbox(m);
        }
        if (pfd[0].revents)
            on_signals(m);
        if (sync_at >= 0 && pfd[sync_at].revents)
            on_message(m);
        if (timer_at >= 0 && pfd[timer_at].revents)
            on_timeout(m);
        if (gate_at >= 0 && pfd[gate_at].revents && gate_read(&m->dir)) {
            m->gate_wait = false;
            release_workload(m);
        }
        if (m->relay_on)
            relay_handle(&m->relay, pfd + relay_at, n - relay_at);
    }
    while (m->sync_open && on_message(m)) /* MSG_RESULT may still be queued */
        ;
    if (m->relay_on) {
        relay_drain(&m->relay);
        pty_restore_mode();
    }
    return outcome(m);
}

int monitor_run(const struct plan *p, const struct sigaction *orig_sigpipe)
{
    static struct monitor m;
    struct sandbox_ctx c = { .plan = p, .pty_slave = -1, .orig_sigpipe = *orig_sigpipe };
    sigset_t set;
    int sv[2], one = 1;
    const struct op *setsid_op = p->first[OP_SETSID];
    m = (struct monitor){ .plan = p, .sync_open = true, .timer = -1, .master = -1,
                          .terminal = setsid_op != NULL && setsid_op->u.terminal };
    m.relay_on = m.terminal && p->first[OP_CONSOLE_SOCKET] == NULL;
    /* From here on signals are read from a signalfd in the loop: none is lost between clone and the
     * loop, none interrupts the setup.  The sandbox inherits this mask; the init unblocks what it
     * forwards, the workload restores the caller's mask just before execve. */
    sigemptyset(&set);
    for (size_t i = 0; i < n_forwarded_signals; i++)
        sigaddset(&set, forwarded_signals[i]);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &c.orig_mask);
    if ((m.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
        return status_error("monitor", errno, "signalfd: %s", strerror(errno)), EXIT_SETUP;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
        setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        return status_error("monitor", errno, "socketpair: %s", strerror(errno)), EXIT_SETUP;
    /* The gate, the console socket and joined namespaces: opened (pid: joined) before clone. */
    if (directives_open(p, &m.dir, &c.joins) < 0)
        return EXIT_SETUP;
    /* The pty exists before clone, so the sandbox needs no access to the caller's devpts. */
    if (m.terminal && pty_open(&m.master, &c.pty_slave) < 0)
        return EXIT_SETUP;
    pid_t pid = (pid_t)syscall(SYS_clone, clone_flags(p->ns) | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(sv[0]);
        close(m.sigfd);
        if (m.master >= 0)
            close(m.master);
        directives_close(&m.dir);
        c.sync_fd = sv[1];
        sandbox_init_main(&c);
    }
    int e = errno;
    close(sv[1]);
    joins_close(&c.joins); /* the init has its own copies */
    if (c.pty_slave >= 0)
        close(c.pty_slave);
    if (pid < 0)
        return status_error("namespaces", e, "clone (namespace set 0x%x): %s", p->ns, strerror(e)), EXIT_SETUP;
    m.init = pid;
    m.sync = sv[0];
    if (write_oom_score_adj(p, pid) < 0)
        return abort_sandbox(&m);
    if (p->first[OP_START_GATE] != NULL || p->first[OP_CONSOLE_SOCKET] != NULL || p->first[OP_OOM_SCORE_ADJ] != NULL ||
        p->first[OP_SECCOMP_LISTENER] != NULL)
        status_step(PH_MONITOR);
    if (p->first[OP_NAMESPACES] != NULL || p->first[OP_JOIN_NAMESPACE] != NULL)
        status_step(PH_NAMESPACES);
    /* The maps before anything else: until they exist the sandbox's ids are unmapped (and its
     * mounts, setuid calls and file creation fail). */
    if (p->ns & NS_USER) {
        if (write_id_maps(pid, p->first[OP_IDMAP], geteuid() != 0) < 0)
            return abort_sandbox(&m);
        if (p->first[OP_IDMAP] != NULL)
            status_step(PH_IDMAP);
    }
    /* The cgroups while the init still waits: nothing of the sandbox runs unaccounted. */
    if (p->first[OP_CGROUP] != NULL) {
        if (join_cgroups(p, pid) < 0)
            return abort_sandbox(&m);
        status_step(PH_CGROUP);
    }
    if (p->wall_timeout_ms > 0) {
        struct itimerspec its = { .it_value = { .tv_sec = (time_t)(p->wall_timeout_ms / 1000),
                                                .tv_nsec = (long)(p->wall_timeout_ms % 1000) * 1000000L } };
        if ((m.timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
            timerfd_settime(m.timer, 0, &its, NULL) < 0) {
            status_error("monitor", errno, "timerfd: %s", strerror(errno));
            return abort_sandbox(&m);
        }
    }
    if (m.relay_on) {
        relay_init(&m.relay, m.master);
        pty_raw_mode();
    }
    char go = MSG_GO;
    if (send(m.sync, &go, 1, MSG_NOSIGNAL) != 1) {
        status_error("monitor", errno, "releasing the sandbox: %s", strerror(errno));
        return abort_sandbox(&m);
    }
    return loop(&m);
}
