/*
 * The x32 ABI: syscall numbers with bit 30 (__X32_SYSCALL_BIT) set reach the x32 table under the
 * same AUDIT_ARCH_X86_64 arch; a filter that compares numbers without looking at that bit can be
 * walked around. x32 getpid is 0x40000000|39. Escaped if it returns this process's pid.
 * ENOSYS is ambiguous: kernels built without CONFIG_X86_X32_ABI (most distributions since 5.x)
 * answer ENOSYS themselves. The probe then checks /proc/kallsyms for the x32 entry code and says
 * "error" (unsupported) rather than "blocked" when the kernel has none.
 */
#include "probe_common.c"
#include <sys/syscall.h>

int main(void)
{
    PROBE("x32_getpid");
#if !defined(__x86_64__)
    report(ERROR, "unsupported: x86_64 only");
#else
    long r = syscall(0x40000000L | 39);
    if (r == getpid()) report(ESCAPED, "x32 getpid (0x40000027) returned this pid (%ld)", r);
    if (r >= 0) report(ESCAPED, "x32 getpid (0x40000027) returned %ld (pid is %d): the call got through", r, (int)getpid());
    int e = errno;
    if (e == ENOSYS) {
        static const char *const syms[] = { "x32_sys_call", "__x32_compat_sys_*", "x32_sys_call_table", NULL };
        attribute_missing(e, "the x32 ABI (CONFIG_X86_X32_ABI)", syms, "x32 getpid");
    }
    report(BLOCKED, "x32 getpid (0x40000027): %s", en(e));
#endif
}
