/*
 * The i386 ABI from a 64-bit process: `int $0x80` enters the kernel's 32-bit syscall table, which
 * a filter written only for x86_64 numbers would not check. First i386 getpid (20), to see that
 * the ABI is there at all, then i386 unshare (310) with CLONE_NEWUSER, which stockade:default
 * refuses on every ABI. Escaped if unshare returned 0. A filter may also kill the process (SIGSYS).
 */
#include "probe_common.c"
#include <sched.h>

#if defined(__x86_64__)
static long sys32(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c)
                     : "memory", "cc", "r8", "r9", "r10", "r11");
    return ret;
}
#endif

int main(void)
{
    PROBE("i386_unshare");
#if !defined(__x86_64__)
    report(ERROR, "unsupported: x86_64 only");
#else
    long pid = sys32(20, 0, 0, 0);
    if (pid != getpid()) {
        static const char *const syms[] = { "ia32_sys_call", "__ia32_sys_getpid", NULL };
        if (pid < 0 && pid > -4096) {
            if (-pid == ENOSYS && (kernel_has(syms) == 0 || seccomp_mode() == 0))
                report(ERROR, "unsupported: i386 getpid: ENOSYS from the kernel: no ia32 emulation (not built, or ia32_emulation=0)");
            report(ERROR, "i386 getpid: %s: the i386 ABI is unavailable (kernel ia32_emulation off, or a filter)",
                   en((int)-pid));
        }
        report(ERROR, "i386 getpid returned %ld, not %d", pid, (int)getpid());
    }
    long r = sys32(310, CLONE_NEWUSER, 0, 0);
    if (r == 0) report(ESCAPED, "i386 unshare(CLONE_NEWUSER) via int 0x80 returned 0 (i386 getpid worked too)");
    if (r < 0 && r > -4096) report(BLOCKED, "i386 unshare(CLONE_NEWUSER): %s (i386 getpid worked)", en((int)-r));
    report(ERROR, "i386 unshare returned %ld", r);
#endif
}
