/*
 * pty.c: the terminal for `setsid { terminal: true }`.
 *
 * The monitor opens a pty pair before clone.  When the sandbox has a devpts of its own (the dev op),
 * the init replaces it with a pair from there and sends the master to the monitor (MSG_PTY, with
 * SCM_RIGHTS): a terminal from the caller's devpts would have no name inside the sandbox.  The
 * workload makes the slave its controlling terminal and stdio, and the monitor relays between its
 * own stdin/stdout and the master, with its stdin in raw mode (so keys reach the workload as typed,
 * ^C included, and the workload's terminal does the echoing) and the window size copied over on
 * start and on every SIGWINCH.  The caller's terminal mode is restored at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "helper.h"

static struct termios saved_mode;
static bool raw_on;

int pty_open(int *master, int *slave)
{
    struct termios mode;
    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0)
        return status_error("setsid", errno, "opening a pty: %s", strerror(errno));
    /* TIOCGPTPEER opens this master's own slave, with no path lookup that could be raced. */
    *slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave < 0)
        return status_error("setsid", errno, "opening the pty's slave: %s", strerror(errno));
    /* Start from the caller's terminal settings (erase character, flow control, ...) */
    if (tcgetattr(STDIN_FILENO, &mode) == 0)
        tcsetattr(*slave, TCSANOW, &mode);
    pty_copy_winsize(*master);
    return 0;
}

/* In the init, after the mounts: a pty of the sandbox's own devpts, so that ttyname() in the
 * workload finds its terminal under the sandbox's /dev/pts.  It takes over the settings and the
 * size of the monitor's pty (*slave, replaced) and is given to the sandbox user.  Returns the new
 * master, to be passed to the monitor; -1 when the sandbox has no /dev/ptmx (the monitor's pty
 * then stays); -2 after an error, reported. */
int pty_open_inside(int *slave, const struct op *user)
{
    struct termios mode;
    struct winsize ws;
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return -1;
    int s = unlockpt(master) < 0 ? -1 : ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0 || (user != NULL && fchown(s, user->u.user.uid, user->u.user.gid) < 0)) {
        status_error("setsid", errno, "opening a pty in the sandbox's /dev/ptmx: %s", strerror(errno));
        return -2;
    }
    if (tcgetattr(*slave, &mode) == 0)
        tcsetattr(s, TCSANOW, &mode);
    if (ioctl(*slave, TIOCGWINSZ, &ws) == 0)
        ioctl(s, TIOCSWINSZ, &ws);
    close(*slave);
    *slave = s;
    return master;
}

/* In the workload: a new session whose controlling terminal is the slave, which becomes stdio. */
int pty_attach(int slave)
{
    if (setsid() < 0)
        return status_error("setsid", errno, "setsid: %s", strerror(errno));
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return status_error("setsid", errno, "making the pty the controlling terminal: %s", strerror(errno));
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return status_error("setsid", errno, "dup2 of the pty onto fd %d: %s", fd, strerror(errno));
    if (slave > 2)
        close(slave);
    return 0;
}

void pty_raw_mode(void)
{
    struct termios raw;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_mode) < 0)
        return;
    raw = saved_mode;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
        raw_on = true;
        atexit(pty_restore_mode);
    }
}

void pty_restore_mode(void)
{
    if (raw_on)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_mode);
    raw_on = false;
}

void pty_copy_winsize(int master)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
}

/* ---- relay ----------------------------------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            poll(&pfd, 1, 1000);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the caller's stdout is gone: drop what it cannot take */
        p += w;
        n -= (size_t)w;
    }
}

void relay_init(struct relay *r, int master)
{
    memset(r, 0, sizeof *r);
    r->master = master;
    r->in_open = r->out_open = true;
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
}

/* The sandbox's own pty replaces the first one: stdin already read is kept for the new master, and
 * the old master's EIO (its slave was closed) is forgotten. */
void relay_switch(struct relay *r, int master)
{
    r->master = master;
    r->out_open = true;
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
}

int relay_pollfds(struct relay *r, struct pollfd *pfd)
{
    int n = 0;
    short ev = 0;
    if (r->in_open && r->in_len < sizeof r->in)
        pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
    if (r->out_open)
        ev |= POLLIN;
    if (r->in_len > 0)
        ev |= POLLOUT;
    if (ev)
        pfd[n++] = (struct pollfd){ .fd = r->master, .events = ev };
    return n;
}

void relay_handle(struct relay *r, const struct pollfd *pfd, int n)
{
    for (int i = 0; i < n; i++) {
        if (pfd[i].revents == 0)
            continue;
        if (pfd[i].fd == STDIN_FILENO) {
            ssize_t got = read(STDIN_FILENO, r->in + r->in_len, sizeof r->in - r->in_len);
            if (got > 0)
                r->in_len += (size_t)got;
            else if (got == 0 || (errno != EAGAIN && errno != EINTR))
                r->in_open = false; /* the workload keeps its terminal; it just gets no more input */
            continue;
        }
        if (pfd[i].revents & POLLOUT && r->in_len > 0) {
            ssize_t w = write(r->master, r->in, r->in_len);
            if (w > 0) {
                memmove(r->in, r->in + w, r->in_len - (size_t)w);
                r->in_len -= (size_t)w;
            }
        }
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t got = read(r->master, r->out, sizeof r->out);
            if (got > 0)
                write_all(STDOUT_FILENO, r->out, (size_t)got);
            else if (got == 0 || (errno != EAGAIN && errno != EINTR))
                r->out_open = false; /* EIO: every slave descriptor is closed */
        }
    }
}

/* After the sandbox is gone: whatever the workload wrote last is still in the master. */
void relay_drain(struct relay *r)
{
    while (r->out_open) {
        ssize_t got = read(r->master, r->out, sizeof r->out);
        if (got <= 0)
            break;
        write_all(STDOUT_FILENO, r->out, (size_t)got);
    }
}
