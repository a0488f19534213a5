/* Kernel keyrings are not namespaced: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) creates and joins
 * a fresh anonymous session keyring, and add_key() puts a key in this thread's own keyring (which
 * dies with the thread). Both touch only this process's keyrings. Escaped if either succeeded. */
#include "probe_common.c"
#include <linux/keyctl.h>
#include <sys/syscall.h>

int main(void)
{
    PROBE("keyctl_join");
    long ring = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
    int e1 = errno;
    long key = syscall(SYS_add_key, "user", "stockade-probe", "x", 1, KEY_SPEC_THREAD_KEYRING);
    int e2 = errno;
    if (ring >= 0 || key >= 0)
        report(ESCAPED, "keyctl(JOIN_SESSION_KEYRING): %s; add_key(thread keyring): %s",
               ring >= 0 ? "joined a new keyring" : en(e1), key >= 0 ? "added" : en(e2));
    if (e1 == ENOSYS && e2 == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_keyctl", "__arm64_sys_keyctl", NULL };
        attribute_missing(e1, "keyrings (CONFIG_KEYS)", syms, "keyctl and add_key");
    }
    report(BLOCKED, "keyctl(JOIN_SESSION_KEYRING): %s; add_key: %s", en(e1), en(e2));
}
