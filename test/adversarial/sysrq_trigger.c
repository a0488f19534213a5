/* /proc/sysrq-trigger: one byte to reboot, crash or freeze the host. The probe writes only 'h'
 * (print the help to the kernel log). A masked file (not procfs) is blocked. Kernels without
 * CONFIG_MAGIC_SYSRQ have no such file: that is reported as error (unsupported). Escaped if the
 * write was accepted. */
#include "probe_common.c"
#include <sys/vfs.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

int main(void)
{
    PROBE("sysrq_trigger");
    const char *path = "/proc/sysrq-trigger";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct statfs p;
        static const char *const syms[] = { "write_sysrq_trigger", "__handle_sysrq", NULL };
        if (e == ENOENT && statfs("/proc", &p) == 0 && p.f_type == PROC_SUPER_MAGIC && kernel_has(syms) != 1)
            report(ERROR, "unsupported: %s does not exist on this procfs: the kernel has no magic SysRq", path);
        report(BLOCKED, "open %s O_WRONLY: %s", path, en(e));
    }
    struct statfs sfs;
    struct stat st;
    if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) report(ERROR, "fstat: %s", en(errno));
    if (sfs.f_type != PROC_SUPER_MAGIC || !S_ISREG(st.st_mode))
        report(BLOCKED, "%s opened, but it is masked (not a procfs file: fs magic 0x%lx)", path, (unsigned long)sfs.f_type);
    if (write(fd, "h", 1) == 1) report(ESCAPED, "wrote 'h' (help) to %s", path);
    report(BLOCKED, "opened %s, but write: %s", path, en(errno));
}
