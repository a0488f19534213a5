/*
 * Kernel module loading, attempted so that it can never load anything: init_module() of an empty
 * image (the kernel's own check answers ENOEXEC) and finit_module() of /dev/null (EINVAL: not a
 * regular file). Either of those answers means the call got past every filter and the capability
 * check: "escaped" (reachable). EPERM is blocked. ENOSYS comes from kernels built without
 * CONFIG_MODULES (error, unsupported) or from a filter.
 */
#include "probe_common.c"
#include <sys/syscall.h>

int main(void)
{
    PROBE("module_load");
    static char image[1];
    long a = syscall(SYS_init_module, image, 0UL, "");
    int e1 = a < 0 ? errno : 0;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    long b = devnull >= 0 ? syscall(SYS_finit_module, devnull, "", 0) : -1;
    int e2 = devnull < 0 ? EBADF : b < 0 ? errno : 0;
    const char *ra = a == 0 ? "returned 0" : en(e1), *rb = b == 0 ? "returned 0" : en(e2);
    int reach_a = a == 0 || (e1 != EPERM && e1 != ENOSYS && e1 != EACCES);
    int reach_b = devnull >= 0 && (b == 0 || (e2 != EPERM && e2 != ENOSYS && e2 != EACCES));
    if (reach_a || reach_b)
        report(ESCAPED, "reachable: init_module(empty): %s; finit_module(/dev/null): %s (the kernel's own checks answered)",
               ra, rb);
    if (e1 == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_init_module", "__arm64_sys_init_module", NULL };
        attribute_missing(e1, "module loading (CONFIG_MODULES)", syms, "init_module");
    }
    report(BLOCKED, "init_module(empty): %s; finit_module(/dev/null): %s", ra, rb);
}
