/* syslog(SYSLOG_ACTION_READ_ALL): the kernel log (kernel addresses, other containers' messages).
 * Escaped if any of it was read. */
#include "probe_common.c"
#include <sys/klog.h>

int main(void)
{
    PROBE("syslog_read");
    static char buf[16384];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf);
    if (n > 0) report(ESCAPED, "read %d bytes of the kernel log", n);
    if (n == 0) report(ESCAPED, "syslog(READ_ALL) returned 0 (allowed, log empty)");
    report(BLOCKED, "syslog(READ_ALL): %s", en(errno));
}
