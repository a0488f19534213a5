/*
 * TIOCSTI: push bytes into a terminal's input queue, as if typed; run from a sandbox that shares
 * the user's terminal, the "typed" command runs outside when the sandboxed program exits.
 * argv[1] is the slave side of a pty (the test reads the master to see the injected bytes echoed);
 * argv[2] the bytes to inject (default "#", no newline, so nothing is ever run).
 * Without CAP_SYS_ADMIN the kernel allows TIOCSTI only on the caller's controlling terminal, so the
 * probe first makes itself a session leader and opens the pty without O_NOCTTY, which makes it the
 * controlling terminal when it is nobody else's. Escaped if every byte was injected.
 */
#include "probe_common.c"
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

static void run(const char *tty, const char *inject, const char *how)
{
    int fd = open(tty, O_RDWR | O_CLOEXEC);
    if (fd < 0) report(ERROR, "open %s: %s", tty, en(errno));
    int ctty = tcgetsid(fd) == getsid(0);
    for (const char *p = inject; *p; p++) {
        if (ioctl(fd, TIOCSTI, p) < 0)
            report(BLOCKED, "ioctl(%s, TIOCSTI) of byte %zu: %s (%s; %s)", tty, (size_t)(p - inject), en(errno),
                   ctty ? "it is our controlling tty" : "not our controlling tty", how);
    }
    report(ESCAPED, "injected %zu bytes into %s with TIOCSTI (%s; %s)", strlen(inject), tty,
           ctty ? "as our controlling tty" : "not our controlling tty", how);
}

int main(int argc, char **argv)
{
    PROBE("tiocsti");
    const char *tty = need_arg(argc, argv, 1, "PTY slave path");
    const char *inject = argc > 2 && argv[2][0] ? argv[2] : "#";
    if (getsid(0) == getpid()) run(tty, inject, "already a session leader");
    if (setsid() >= 0) run(tty, inject, "setsid ok");
    /* A process group leader cannot setsid: do it in a child and pass its outcome on. */
    pid_t child = fork();
    if (child < 0) report(ERROR, "fork: %s", en(errno));
    if (child == 0) {
        if (setsid() < 0) run(tty, inject, "setsid failed");
        run(tty, inject, "setsid ok in a child");
    }
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) report(ERROR, "waitpid: %s", en(errno));
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        kill(getpid(), WTERMSIG(status));
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : ERROR);
}
