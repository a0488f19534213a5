/*
 * seccomp.c: loading the plan's classic-BPF program.  The helper does not read the program: it was
 * compiled and checked on the TypeScript side (src/seccomp); the kernel verifies it again here.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

int apply_seccomp(const struct op *op)
{
    const typeof(op->u.seccomp) *s = &op->u.seccomp;
    struct sock_fprog prog = { .len = (unsigned short)(s->len / 8), .filter = (struct sock_filter *)(void *)s->prog };
    unsigned flags = s->flags | (s->log ? SECCOMP_FILTER_FLAG_LOG : 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) >= 0)
        return 0;
    int e = errno;
    return status_error("seccomp", e, "loading a filter of %u instructions (flags 0x%x)%s: %s", s->len / 8, flags,
                        e == EACCES ? " without noNewPrivs or CAP_SYS_ADMIN" : "", strerror(e));
}
