/* reboot(2) with WRONG magic numbers (and the harmless CAD_OFF command): the kernel checks
 * CAP_SYS_BOOT first (EPERM), then the magic (EINVAL), so it can never act. EINVAL means the call
 * got past every filter and the capability check: "escaped" (reachable). EPERM is blocked. */
#include "probe_common.c"
#include <linux/reboot.h>
#include <sys/syscall.h>

int main(void)
{
    PROBE("reboot_magic");
    long r = syscall(SYS_reboot, 0x12345678, 0x0badc0de, LINUX_REBOOT_CMD_CAD_OFF, NULL);
    if (r == 0) report(ESCAPED, "reboot(bad magic, CAD_OFF) returned 0");
    int e = errno;
    if (e == EINVAL) report(ESCAPED, "reachable: reboot(bad magic): EINVAL (the magic check answered)");
    report(BLOCKED, "reboot(bad magic): %s", en(e));
}
