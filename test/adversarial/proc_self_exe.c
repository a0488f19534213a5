/*
 * Overwriting the runtime's binary (CVE-2019-5736 style): open an executable for writing. argv[1]
 * is the path (default /proc/self/exe: the probe's own, running binary; pass the sandbox runtime's
 * binary, e.g. /proc/<pid>/exe of the runtime, for the interesting case). Only open(O_WRONLY) is
 * attempted; nothing is ever written. The kernel itself refuses writes to a running executable
 * (ETXTBSY), which is reported as blocked with that errno. Escaped if the open succeeded.
 */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("proc_self_exe");
    const char *path = argc > 1 && argv[1][0] ? argv[1] : "/proc/self/exe";
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        report(ESCAPED, "opened %s for writing (nothing written)", path);
    }
    int e = errno;
    if (e == ETXTBSY) report(BLOCKED, "open %s O_WRONLY: ETXTBSY (the kernel refuses to write a running executable)", path);
    report(BLOCKED, "open %s O_WRONLY: %s", path, en(e));
}
