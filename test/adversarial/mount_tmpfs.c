/* mount(2): mount a small tmpfs on a fresh directory under DIR (argv[1], default /tmp), then
 * unmount it and remove the directory. Escaped if mount() returned 0. */
#include "probe_common.c"
#include <sys/mount.h>

int main(int argc, char **argv)
{
    PROBE("mount_tmpfs");
    const char *base = argc > 1 ? argv[1] : "/tmp";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/mount-probe-XXXXXX", base);
    if (!mkdtemp(dir)) report(ERROR, "mkdtemp in %s: %s", base, en(errno));
    if (mount("stockade-probe", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") == 0) {
        int u = umount2(dir, MNT_DETACH), ue = errno;
        rmdir(dir);
        report(ESCAPED, "mount(tmpfs) on %s returned 0 (umount afterwards: %s)", dir, u == 0 ? "ok" : en(ue));
    }
    int e = errno;
    rmdir(dir);
    report(BLOCKED, "mount(tmpfs) on %s: %s", dir, en(e));
}
