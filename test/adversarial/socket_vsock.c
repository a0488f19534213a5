/* socket(AF_VSOCK): the host/guest channel of virtual machines (and a family with a history of
 * kernel bugs). Only the socket is created; nothing is connected. Escaped if it returned an fd.
 * EAFNOSUPPORT is also what a kernel without vsock says: then the probe reports error. */
#include "probe_common.c"
#include <sys/socket.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

int main(void)
{
    PROBE("socket_vsock");
    int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0) report(ESCAPED, "socket(AF_VSOCK, SOCK_STREAM) returned fd %d", s);
    int e = errno;
    if (e == EAFNOSUPPORT) {
        static const char *const syms[] = { "vsock_create", NULL };
        attribute_missing(e, "AF_VSOCK", syms, "socket(AF_VSOCK)");
    }
    report(BLOCKED, "socket(AF_VSOCK): %s", en(e));
}
