/* modify_ldt(1): install a custom segment descriptor in this process's LDT (only Wine and DOS
 * emulators need one; the LDT code has a history of kernel bugs). Process-local. Escaped if it
 * returned 0. */
#include "probe_common.c"
#include <sys/syscall.h>
#if defined(__x86_64__) || defined(__i386__)
#include <asm/ldt.h>
#endif

int main(void)
{
    PROBE("modify_ldt");
#if !(defined(__x86_64__) || defined(__i386__))
    report(ERROR, "unsupported: x86 only");
#else
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = 0;
    d.base_addr = 0;
    d.limit = 0xfff;
    d.seg_32bit = 1;
    d.contents = 0; /* data */
    d.limit_in_pages = 1;
    d.useable = 1;
    if (syscall(SYS_modify_ldt, 1, &d, sizeof d) == 0) report(ESCAPED, "modify_ldt(1) installed LDT entry 0");
    int e = errno;
    if (e == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_modify_ldt", NULL };
        attribute_missing(e, "modify_ldt (CONFIG_MODIFY_LDT_SYSCALL)", syms, "modify_ldt");
    }
    report(BLOCKED, "modify_ldt(1): %s", en(e));
#endif
}
