/*
 * oci_ops.c: what the mount phase needs for OCI bundles, whose rootfs is untrusted.
 *
 *   resolution  every target of the mount phase (bind, mount, tmpfs, proc, dev, mkdir, symlink,
 *               hide, readOnly, sysctl) is resolved inside the new root with openat2(RESOLVE_IN_ROOT |
 *               RESOLVE_NO_MAGICLINKS): `..` and symlinks, absolute or relative, stay inside the
 *               root, so a link such as rootfs/evil -> /etc names rootfs/etc.  Missing components are
 *               made one at a time, relative to the descriptor of the part already resolved, without
 *               following a link (mkdirat, O_CREAT|O_EXCL|O_NOFOLLOW), and the mount goes onto the
 *               resolved descriptor (move_mount with MOVE_MOUNT_T_EMPTY_PATH): no path is looked up
 *               twice.
 *   seal_root   rootfs { readOnly }: the root mount (only it) is made read-only before pivot_root.
 *   mount_op    a general mount(2), OCI `mounts[]`: a bind is cloned from its host source
 *               (open_tree), given the flags it carries while still detached (mount_setattr, which
 *               only adds flags, so flags a user namespace locks on the source are kept, never
 *               refused), and moved onto its target; any other file system is mounted with mount(2)
 *               on the staging /mnt and moved from there.  Then the propagation, if any.
 *   sysctl_op   value -> <new root>/proc/sys/<key, dots as slashes>, resolved inside the root and
 *               checked to be on a procfs.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "helper.h"
#include "mounts.h"
#include "sys.h"

int mount_fail(struct mctx *m, const char *how)
{
    int e = errno;
    return status_error("mount", e, "%s: %s: %s", m->what, how, strerror(e));
}

static int open_flags(int root, const char *path, uint64_t flags)
{
    struct sk_open_how how = { .flags = flags | O_CLOEXEC, .resolve = SK_RESOLVE_IN_ROOT | SK_RESOLVE_NO_MAGICLINKS };
    int fd;
    do /* EAGAIN: a concurrent rename somewhere in the tree; the kernel asks us to retry */
        fd = sk_openat2(root, path, &how);
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

int open_how(int root, const char *path)
{
    return open_flags(root, path, O_PATH);
}

/* Opens PATH (absolute) inside ROOT as O_PATH.  With MK_DIR / MK_FILE a missing path is made: parents
 * as 0755 directories, the last component as a directory of MODE or an empty file.  Each component
 * is made relative to the descriptor of its parent, and each prefix is resolved inside ROOT again
 * after it is made.  A dangling symlink is not followed to make its target: that is an error. */
int open_in(int root, const char *path, enum mk mk, mode_t mode)
{
    char buf[PLAN_MAX_PATH + 1];
    if (strlen(path) > PLAN_MAX_PATH) { /* a target joined with a /dev entry name */
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open_how(root, path);
    if (fd >= 0 || errno != ENOENT || mk == MK_NONE)
        return fd;
    snprintf(buf, sizeof buf, "%s", path);
    for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
        buf[n - 1] = 0;
    int parent = open_how(root, "/");
    char *s = buf;
    while (parent >= 0) {
        while (*s == '/')
            s++;
        char *end = strchr(s, '/');
        if (end != NULL)
            *end = 0;
        fd = open_how(root, buf);
        if (fd < 0 && errno == ENOENT) {
            int r;
            if (end == NULL && mk == MK_FILE) {
                r = openat(parent, s, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (r >= 0)
                    close(r);
            } else {
                r = mkdirat(parent, s, end == NULL ? mode : 0755);
            }
            fd = r < 0 && errno != EEXIST ? -1 : open_how(root, buf);
        }
        int e = errno;
        close(parent);
        errno = e;
        if (fd < 0 || end == NULL)
            return fd;
        *end = '/';
        s = end + 1;
        parent = fd;
    }
    return -1;
}

int seal_root(struct mctx *m)
{
    struct sk_mount_attr ro = { .attr_set = SK_MOUNT_ATTR_RDONLY };
    if (!m->seal_root)
        return 0;
    snprintf(m->what, sizeof m->what, "rootfs (read-only)");
    return sk_mount_setattr(m->newroot, "", AT_EMPTY_PATH, &ro) < 0 ? mount_fail(m, "mount_setattr") : 0;
}

/* MS_* flags of a bind -> MOUNT_ATTR_* (an atime mode is set with __ATIME cleared first). */
static void bind_attrs(uint64_t flags, struct sk_mount_attr *a)
{
    static const struct { uint64_t ms; uint64_t attr; } map[] = {
        { MNT_MS_RDONLY, SK_MOUNT_ATTR_RDONLY }, { MNT_MS_NOSUID, SK_MOUNT_ATTR_NOSUID },
        { MNT_MS_NODEV, SK_MOUNT_ATTR_NODEV }, { MNT_MS_NOEXEC, SK_MOUNT_ATTR_NOEXEC },
        { MNT_MS_NODIRATIME, SK_MOUNT_ATTR_NODIRATIME }, { MNT_MS_NOSYMFOLLOW, SK_MOUNT_ATTR_NOSYMFOLLOW },
        { MNT_MS_NOATIME, SK_MOUNT_ATTR_NOATIME }, { MNT_MS_STRICTATIME, SK_MOUNT_ATTR_STRICTATIME },
    };
    *a = (struct sk_mount_attr){ 0 };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (flags & map[i].ms)
            a->attr_set |= map[i].attr;
    if (flags & (MNT_MS_NOATIME | MNT_MS_STRICTATIME | MNT_MS_RELATIME))
        a->attr_clr |= SK_MOUNT_ATTR__ATIME;
}

static int bind_mount(struct mctx *m, const struct op *op)
{
    const typeof(op->u.mount) *o = &op->u.mount;
    const unsigned rec = o->flags & MNT_MS_REC ? SK_AT_RECURSIVE : 0;
    struct sk_mount_attr attr;
    int src = host_path(m, o->source);
    if (src < 0)
        return mount_fail(m, "opening the source");
    int t = sk_open_tree(src, "", SK_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | rec);
    close(src);
    if (t < 0)
        return mount_fail(m, "open_tree");
    bind_attrs(o->flags, &attr);
    int r = attr.attr_set || attr.attr_clr ? sk_mount_setattr(t, "", AT_EMPTY_PATH | rec, &attr) : 0;
    if (r < 0 && errno == EPERM && attr.attr_clr) {
        /* The source's atime mode is locked (a mount from a more privileged user namespace): keep
         * it, and set the other flags, which only add restrictions. */
        attr.attr_set &= ~(uint64_t)SK_MOUNT_ATTR__ATIME;
        attr.attr_clr = 0;
        r = sk_mount_setattr(t, "", AT_EMPTY_PATH | rec, &attr);
    }
    if (r < 0) {
        mount_fail(m, "mount_setattr");
        close(t);
        return -1;
    }
    return attach(m, t, o->target, o->kind == MOUNT_KIND_FILE ? MK_FILE : MK_DIR, 0755);
}

/* Any other file system: mount(2) on the staging /mnt (outside the new root, private), then moved
 * onto the resolved target. */
static int fs_mount(struct mctx *m, const struct op *op)
{
    const typeof(op->u.mount) *o = &op->u.mount;
    unsigned long flags = (unsigned long)(o->flags & ~MNT_MS_REC);
    if (mount(o->source, "/mnt", o->fstype, flags, o->data[0] ? o->data : NULL) < 0)
        return mount_fail(m, o->fstype);
    int r = -1, t = open_in(m->newroot, o->target, o->kind == MOUNT_KIND_FILE ? MK_FILE : MK_DIR, 0755);
    if (t < 0)
        mount_fail(m, "making the mount point");
    else if ((r = sk_move_mount(AT_FDCWD, "/mnt", t, "", SK_MOVE_MOUNT_T_EMPTY_PATH)) < 0)
        mount_fail(m, "move_mount");
    if (t >= 0)
        close(t);
    if (r < 0)
        umount2("/mnt", MNT_DETACH);
    return r;
}

int mount_op(struct mctx *m, const struct op *op)
{
    const typeof(op->u.mount) *o = &op->u.mount;
    int r = o->flags & MNT_MS_BIND ? bind_mount(m, op) : fs_mount(m, op);
    if (r < 0 || o->propagation == 0)
        return r;
    /* The mount now on the target (the top of its stack), looked up inside the root again. */
    struct sk_mount_attr prop = { .propagation = o->propagation & ~MNT_MS_REC };
    int t = open_how(m->newroot, o->target);
    if (t < 0)
        return mount_fail(m, "opening the target for its propagation");
    r = sk_mount_setattr(t, "", AT_EMPTY_PATH | (o->propagation & MNT_MS_REC ? SK_AT_RECURSIVE : 0), &prop);
    if (r < 0)
        mount_fail(m, "setting the propagation");
    close(t);
    return r;
}

int sysctl_op(struct mctx *m, const struct op *op)
{
    char path[PLAN_MAX_PATH + 16];
    struct statfs sf;
    const char *value = op->u.sysctl.value;
    size_t n = strlen(value);
    snprintf(path, sizeof path, "/proc/sys/%s", op->u.sysctl.key);
    for (char *c = path + 10; *c != 0; c++)
        if (*c == '.')
            *c = '/';
    int fd = open_flags(m->newroot, path, O_WRONLY | O_NOFOLLOW);
    if (fd < 0)
        return mount_fail(m, path);
    if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) {
        close(fd);
        errno = EXDEV;
        return mount_fail(m, "not on a procfs (the proc mount must come first)");
    }
    ssize_t w = write(fd, value, n);
    int e = w == (ssize_t)n ? 0 : w < 0 ? errno : EIO;
    close(fd);
    errno = e;
    return e ? mount_fail(m, "writing the value") : 0;
}
