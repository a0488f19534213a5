/* Connect to an abstract unix socket (argv[1], the name without the leading NUL) that a process
 * OUTSIDE listens on. Abstract names have no file to hide; only a separate network namespace (or
 * Landlock's scoping) keeps them apart. Escaped if the connection was accepted.
 * An abstract address is the exact bytes given to bind(), so "@name" and "@name" padded with NULs
 * to the whole sun_path are different names; libuv (Node 20) binds the padded form. The probe
 * tries the exact one, then the padded one. */
#include "probe_common.c"
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    PROBE("abstract_unix");
    const char *name = need_arg(argc, argv, 1, "abstract socket NAME (without the leading NUL)");
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    size_t len = strlen(name);
    if (len + 1 > sizeof a.sun_path) report(ERROR, "name too long");
    memcpy(a.sun_path + 1, name, len);
    const socklen_t lens[] = { (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len), (socklen_t)sizeof a };
    const char *const forms[] = { "exact", "NUL-padded" };
    int s = -1, e[2] = { 0, 0 };
    for (int i = 0; i < 2; i++) {
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) report(BLOCKED, "socket(AF_UNIX): %s", en(errno));
        if (connect(s, (struct sockaddr *)&a, lens[i]) == 0) {
            e[i] = 0;
            break;
        }
        e[i] = errno;
        close(s);
        s = -1;
    }
    if (s < 0) report(BLOCKED, "connect @%s: %s (exact name), %s (NUL-padded name)", name, en(e[0]), en(e[1]));
    const char *form = forms[e[0] == 0 ? 0 : 1];
    char banner[65] = "";
    struct pollfd p = { .fd = s, .events = POLLIN };
    if (poll(&p, 1, 1000) == 1) {
        ssize_t n = read(s, banner, sizeof banner - 1);
        banner[n > 0 ? n : 0] = '\0';
        char *nl = strchr(banner, '\n');
        if (nl) *nl = '\0';
    }
    report(ESCAPED, "connected to @%s, %s form (listener said '%s')", name, form, banner);
}
