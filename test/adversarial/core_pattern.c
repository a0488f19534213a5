/*
 * /proc/sys/kernel/core_pattern is global: a "|/path" pattern makes the kernel run that program
 * as root, outside any sandbox, on the next crash. The probe reads the current value and writes
 * the SAME value back, so nothing changes. A masked file (e.g. /dev/null bound over it) is not
 * procfs: blocked. Escaped if the write was accepted.
 */
#include "probe_common.c"
#include <sys/vfs.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

int main(int argc, char **argv)
{
    PROBE("core_pattern");
    const char *path = argc > 1 && argv[1][0] ? argv[1] : "/proc/sys/kernel/core_pattern";
    char value[512];
    ssize_t len = -1;
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        len = read(rfd, value, sizeof value);
        close(rfd);
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) report(BLOCKED, "open %s O_WRONLY: %s", path, en(errno));
    struct statfs sfs;
    struct stat st;
    if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) report(ERROR, "fstat: %s", en(errno));
    if (sfs.f_type != PROC_SUPER_MAGIC || !S_ISREG(st.st_mode))
        report(BLOCKED, "%s opened for writing, but it is masked (not a procfs file: fs magic 0x%lx)", path,
               (unsigned long)sfs.f_type);
    if (len <= 0) report(ESCAPED, "opened %s for writing (could not read the value, so nothing written)", path);
    ssize_t w = write(fd, value, (size_t)len);
    if (w < 0) report(BLOCKED, "opened %s for writing, but write: %s", path, en(errno));
    report(ESCAPED, "wrote %s (its own value back, %zd bytes)", path, w);
}
