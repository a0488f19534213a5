/* process_vm_readv() of an outside process's memory (argv[1]): the first readable mapping listed
 * in /proc/PID/maps, or, if that is unreadable, address 0x10000 (then EFAULT/EIO still prove the
 * call reached the target past the permission check). Escaped if bytes were read, or reachable. */
#include "probe_common.c"
#include <sys/uio.h>

int main(int argc, char **argv)
{
    PROBE("process_vm_readv");
    pid_t pid = parse_pid(need_arg(argc, argv, 1, "PID of an outside process"));
    unsigned long addr = 0x10000;
    char path[64], line[512];
    const char *where = "a guessed address";
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        unsigned long lo, hi;
        char perms[8];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r') {
                addr = lo;
                where = "its first readable mapping";
                break;
            }
        fclose(f);
    }
    char buf[16];
    struct iovec local = { buf, sizeof buf }, remote = { (void *)addr, sizeof buf };
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n > 0) report(ESCAPED, "read %zd bytes of pid %d at 0x%lx (%s)", n, (int)pid, addr, where);
    int e = errno;
    if (n == 0 || e == EFAULT || e == EIO)
        report(ESCAPED, "reachable: process_vm_readv(pid %d, 0x%lx, %s): %s", (int)pid, addr, where, n == 0 ? "0 bytes" : en(e));
    report(BLOCKED, "process_vm_readv(pid %d): %s", (int)pid, en(e));
}
