/* setns() into the mount namespace of PID (argv[1], default 1): /proc/PID/ns/mnt. Escaped if
 * setns() returned 0 (the detail says whether the namespace actually changed). Failing to open
 * the namespace file (the pid is not visible) counts as blocked. */
#include "probe_common.c"
#include <sched.h>

int main(int argc, char **argv)
{
    PROBE("setns_mnt");
    pid_t pid = parse_pid(argc > 1 ? argv[1] : "1");
    char path[64], before[64] = "?", after[64] = "?", target[64] = "?";
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
    ssize_t n = readlink("/proc/self/ns/mnt", before, sizeof before - 1);
    if (n > 0) before[n] = '\0';
    n = readlink(path, target, sizeof target - 1);
    if (n > 0) target[n] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) report(BLOCKED, "open %s: %s", path, en(errno));
    if (setns(fd, CLONE_NEWNS) == 0) {
        n = readlink("/proc/self/ns/mnt", after, sizeof after - 1);
        if (n > 0) after[n] = '\0';
        report(ESCAPED, "setns(%s) returned 0: %s -> %s (target %s)", path, before, after, target);
    }
    report(BLOCKED, "setns(%s, CLONE_NEWNS): %s", path, en(errno));
}
