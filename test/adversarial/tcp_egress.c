/* Network egress: TCP connect to HOST:PORT (argv[1] the port, argv[2] the host, default
 * 127.0.0.1) where a listener runs OUTSIDE the sandbox. In a fresh network namespace 127.0.0.1 is
 * the sandbox's own loopback, where nothing listens. Escaped if the connection was accepted. The
 * detail lists the network interfaces this process sees, and what the listener sent. */
#include "probe_common.c"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static char ifaces[1024];

static void list_ifaces(void)
{
    struct if_nameindex *ifs = if_nameindex();
    size_t n = 0;
    ifaces[0] = '\0';
    if (!ifs) {
        snprintf(ifaces, sizeof ifaces, "(if_nameindex: %s)", en(errno));
        return;
    }
    for (struct if_nameindex *i = ifs; i->if_index && n < sizeof ifaces - 32; i++)
        n += (size_t)snprintf(ifaces + n, sizeof ifaces - n, "%s%s", n ? "," : "", i->if_name);
    if_freenameindex(ifs);
}

int main(int argc, char **argv)
{
    PROBE("tcp_egress");
    const char *port_s = need_arg(argc, argv, 1, "TCP PORT listening outside");
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    long port = strtol(port_s, NULL, 10);
    if (port <= 0 || port > 65535) report(ERROR, "bad port '%s'", port_s);
    list_ifaces();
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) report(ERROR, "bad IPv4 address '%s'", host);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) report(BLOCKED, "socket(AF_INET): %s; interfaces: %s", en(errno), ifaces);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd p = { .fd = s, .events = POLLOUT };
        if (poll(&p, 1, 3000) == 1) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
            r = err ? -1 : 0;
            errno = err;
        } else {
            errno = ETIMEDOUT;
        }
    }
    if (r < 0) report(BLOCKED, "connect %s:%ld: %s; interfaces: %s", host, port, en(errno), ifaces);
    char banner[65] = "";
    struct pollfd p = { .fd = s, .events = POLLIN };
    if (poll(&p, 1, 1000) == 1) {
        ssize_t n = read(s, banner, sizeof banner - 1);
        banner[n > 0 ? n : 0] = '\0';
        char *nl = strchr(banner, '\n');
        if (nl) *nl = '\0';
    }
    report(ESCAPED, "connected to %s:%ld (listener said '%s'); interfaces: %s", host, port, banner, ifaces);
}
