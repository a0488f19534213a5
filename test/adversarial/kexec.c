/*
 * kexec_load() and kexec_file_load(), attempted with invalid flags (unknown flag bits and a
 * foreign architecture) so that even unconfined as root the kernel refuses them with EINVAL
 * before looking at anything else; nothing is loaded or unloaded. EINVAL means the call got past
 * every filter and the capability check: "escaped" (reachable). EPERM is blocked (a filter, a
 * missing CAP_SYS_BOOT, or kernel lockdown). ENOSYS comes from kernels without kexec (error).
 */
#include "probe_common.c"
#include <sys/syscall.h>

#define BAD_FLAGS 0x7fff8000UL

int main(void)
{
    PROBE("kexec");
    long a = syscall(SYS_kexec_load, 0UL, 0UL, NULL, BAD_FLAGS);
    int e1 = a < 0 ? errno : 0;
#ifdef SYS_kexec_file_load
    long b = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", BAD_FLAGS);
    int e2 = b < 0 ? errno : 0;
#else
    long b = -1;
    int e2 = ENOSYS;
#endif
    const char *ra = a == 0 ? "returned 0" : en(e1), *rb = b == 0 ? "returned 0" : en(e2);
    int reach_a = a == 0 || (e1 != EPERM && e1 != ENOSYS);
    int reach_b = b == 0 || (e2 != EPERM && e2 != ENOSYS);
    if (reach_a || reach_b)
        report(ESCAPED, "reachable: kexec_load(bad flags): %s; kexec_file_load(bad flags): %s", ra, rb);
    if (e1 == ENOSYS && e2 == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_kexec_load", "__x64_sys_kexec_file_load",
                                            "__arm64_sys_kexec_load", "__arm64_sys_kexec_file_load", NULL };
        attribute_missing(e1, "kexec (CONFIG_KEXEC / CONFIG_KEXEC_FILE)", syms, "kexec_load and kexec_file_load");
    }
    report(BLOCKED, "kexec_load(bad flags): %s; kexec_file_load(bad flags): %s", ra, rb);
}
