/* socket(AF_ALG): the kernel crypto API's socket interface (CVE-2017-17806, the 2024 "copy fail"
 * bugs and others). Only the socket is created. Escaped if it returned an fd. EAFNOSUPPORT is
 * also what a kernel without CONFIG_CRYPTO_USER_API says: then the probe reports error. */
#include "probe_common.c"
#include <sys/socket.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif

int main(void)
{
    PROBE("socket_alg");
    int s = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s >= 0) report(ESCAPED, "socket(AF_ALG, SOCK_SEQPACKET) returned fd %d", s);
    int e = errno;
    if (e == EAFNOSUPPORT) {
        static const char *const syms[] = { "alg_create", "af_alg_register_type", NULL };
        attribute_missing(e, "AF_ALG (CONFIG_CRYPTO_USER_API)", syms, "socket(AF_ALG)");
    }
    report(BLOCKED, "socket(AF_ALG): %s", en(e));
}
