/* perf_event_open() of a software counter (task clock) on this process, user space only. With
 * perf_event_paranoid <= 2 even an unprivileged process may do this, so only a filter stops it.
 * Escaped if it returned an fd. */
#include "probe_common.c"
#include <linux/perf_event.h>
#include <sys/syscall.h>

int main(void)
{
    PROBE("perf_event_open");
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd >= 0) report(ESCAPED, "perf_event_open(task clock, self) returned fd %ld", fd);
    int e = errno;
    if (e == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_perf_event_open", "__arm64_sys_perf_event_open", NULL };
        attribute_missing(e, "perf events", syms, "perf_event_open");
    }
    report(BLOCKED, "perf_event_open(task clock, self): %s", en(e));
}
