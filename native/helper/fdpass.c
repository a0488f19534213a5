/*
 * fdpass.c: sending one descriptor over a unix socket (SCM_RIGHTS), with a payload.  Used for the
 * sandbox's pty (sandbox.c -> monitor), the seccomp notify fd (seccomp.c -> monitor -> listener.c)
 * and the console socket (gate.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "helper.h"

ssize_t send_with_fd(int sock, const void *payload, size_t len, int fd)
{
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    ssize_t n;
    memset(u.buf, 0, sizeof u.buf);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}
