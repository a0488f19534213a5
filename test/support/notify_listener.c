/*
 * notify_listener: a small seccomp agent for test/seccomp-notify.test.ts.
 *
 *   notify_listener SOCKET OUT CONNECTIONS
 *
 * Listens on the unix socket SOCKET and writes OUT.ready once it accepts connections.  Each of the
 * first CONNECTIONS connections is served by a child of its own: it reads the runtime's message to
 * EOF (the container process state, with the seccomp notify fd in SCM_RIGHTS), writes the JSON to
 * OUT.N.json (N from 0) and the fd count to OUT.N.fds, then answers notifications: mkdir and mkdirat
 * fail with EXDEV (so the test can tell the listener answered), anything else goes on
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE).  Each answer is a line in OUT.N.log.  A child ends when the
 * filter has no task left (POLLHUP); the parent when its children have.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void write_file(const char *path, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n)
        die(path);
    close(fd);
}

static bool is_mkdir(int nr)
{
#ifdef __NR_mkdir
    if (nr == __NR_mkdir)
        return true;
#endif
    return nr == __NR_mkdirat;
}

static void serve(int conn, const char *out, int index)
{
    static char buf[1 << 20];
    char path[4096], line[128];
    union { char b[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } u;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
    size_t len = 0;
    int notify = -1, nfds = 0;
    ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        die("recvmsg");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(&notify, CMSG_DATA(c), sizeof notify);
        }
    len = (size_t)n;
    while (n > 0 && len < sizeof buf - 1) {
        n = read(conn, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        len += (size_t)n;
    }
    close(conn);
    snprintf(path, sizeof path, "%s.%d.json", out, index);
    write_file(path, buf, len);
    snprintf(path, sizeof path, "%s.%d.fds", out, index);
    int m = snprintf(line, sizeof line, "%d\n", nfds);
    write_file(path, line, (size_t)m);
    if (notify < 0)
        exit(2);
    snprintf(path, sizeof path, "%s.%d.log", out, index);
    int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0)
        die(path);
    for (;;) {
        struct pollfd pfd = { .fd = notify, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (!(pfd.revents & POLLIN))
            break; /* POLLHUP: no task uses the filter any more */
        struct seccomp_notif req;
        struct seccomp_notif_resp resp;
        memset(&req, 0, sizeof req);
        if (ioctl(notify, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT)
                continue; /* the caller went away meanwhile */
            die("SECCOMP_IOCTL_NOTIF_RECV");
        }
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        if (is_mkdir(req.data.nr))
            resp.error = -EXDEV;
        else
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        if (ioctl(notify, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
            die("SECCOMP_IOCTL_NOTIF_SEND");
        m = snprintf(line, sizeof line, "nr %d pid %u %s\n", req.data.nr, req.pid, resp.error ? "EXDEV" : "continue");
        if (write(log, line, (size_t)m) != m)
            die("write log");
    }
    close(log);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: notify_listener SOCKET OUT CONNECTIONS\n");
        return 2;
    }
    const char *sock = argv[1], *out = argv[2];
    int conns = atoi(argv[3]);
    char ready[4096];
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(sock) >= sizeof sa.sun_path) {
        fprintf(stderr, "notify_listener: %s is too long for sun_path\n", sock);
        return 2;
    }
    strcpy(sa.sun_path, sock);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(sock);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 8) < 0)
        die("socket");
    snprintf(ready, sizeof ready, "%s.ready", out);
    write_file(ready, "", 0);
    for (int i = 0; i < conns; i++) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            die("accept");
        }
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            close(s);
            serve(c, out, i);
        }
        close(c);
    }
    close(s);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return 0;
}
