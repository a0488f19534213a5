/* umount2(MOUNTPOINT, MNT_DETACH) of an existing mount given in argv[1]. Unconfined, give it only a
 * throwaway mount (the test harness mounts a tmpfs of its own); inside a sandbox /proc is telling.
 * Escaped if umount2() returned 0. EINVAL on a path that is not a mount point means there was
 * nothing to detach (error); EINVAL on a mount point means the kernel refused (a locked mount). */
#include "probe_common.c"
#include <sys/mount.h>
#include <sys/stat.h>

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

int main(int argc, char **argv)
{
    PROBE("umount_detach");
    const char *path = need_arg(argc, argv, 1, "MOUNTPOINT to detach");
    struct statx stx;
    int mount_root = -1;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0) {
        if (errno == ENOENT) report(ERROR, "%s does not exist here: nothing to detach", path);
    } else if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
        mount_root = (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    }
    if (umount2(path, MNT_DETACH) == 0) report(ESCAPED, "umount2(%s, MNT_DETACH) returned 0", path);
    int e = errno;
    if (e == EINVAL && mount_root == 0)
        report(ERROR, "umount2(%s): EINVAL, and it is not a mount point here: nothing to detach", path);
    if (e == EINVAL)
        report(BLOCKED, "umount2(%s): EINVAL on a mount point (locked by the kernel, or not a mount)", path);
    report(BLOCKED, "umount2(%s, MNT_DETACH): %s", path, en(e));
}
