/* unshare(CLONE_NEWUSER): become root of a new user namespace (the door to most other namespace
 * tricks). Process-local and harmless. Escaped if it returned 0. */
#include "probe_common.c"
#include <sched.h>

int main(void)
{
    PROBE("unshare_user");
    if (unshare(CLONE_NEWUSER) == 0) {
        char ns[64] = "?";
        ssize_t n = readlink("/proc/self/ns/user", ns, sizeof ns - 1);
        if (n > 0) ns[n] = '\0';
        report(ESCAPED, "unshare(CLONE_NEWUSER) returned 0; now in %s", ns);
    }
    report(BLOCKED, "unshare(CLONE_NEWUSER): %s", en(errno));
}
