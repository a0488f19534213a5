/* unshare(CLONE_NEWNS): a private mount namespace, where a process with CAP_SYS_ADMIN could
 * rearrange its view. Process-local and harmless. Escaped if it returned 0. */
#include "probe_common.c"
#include <sched.h>

int main(void)
{
    PROBE("unshare_mnt");
    if (unshare(CLONE_NEWNS) == 0) report(ESCAPED, "unshare(CLONE_NEWNS) returned 0");
    report(BLOCKED, "unshare(CLONE_NEWNS): %s", en(errno));
}
