/*
 * mounts.c: the mount phase, run by the sandbox init inside its new mount namespace.
 *
 *   1. make / private (recursively), so nothing we mount propagates to the caller or back;
 *   2. mount a staging tmpfs on /tmp and pivot_root into it: the caller's tree is now /oldroot (bind
 *      sources are resolved there) and the new root is built at /newroot;
 *   3. run the ops: every mount is made detached (open_tree / fsmount), given its attributes while
 *      detached (read-only, nosuid, idmap: so it is never visible writable) and then moved onto its
 *      target with move_mount;
 *   4. pivotRoot: pivot_root into /newroot, detach the staging root and the host tree with it.
 *
 * Targets are resolved inside the new root with openat2(RESOLVE_IN_ROOT) (oci_ops.c): a symlink in the
 * rootfs (or one made by an earlier op) cannot send a mount to a host path.  Sources are host paths,
 * resolved the same way inside /oldroot, so absolute symlinks among them mean what they mean on the
 * host.  The rootfs, mount and sysctl ops (OCI) are in oci_ops.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"
#include "sys.h"
#include "mounts.h"

/* A new detached filesystem mount: OPTS are "key=value" strings or bare flags. */
static int new_fs(struct mctx *m, const char *type, const char *const *opts, unsigned attrs)
{
    int fs = sk_fsopen(type, SK_FSOPEN_CLOEXEC);
    if (fs < 0)
        return mount_fail(m, type);
    for (; *opts != NULL; opts++) {
        char key[32];
        const char *eq = strchr(*opts, '=');
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - *opts) : (int)strlen(*opts), *opts);
        int r = eq ? sk_fsconfig(fs, SK_FSCONFIG_SET_STRING, key, eq + 1, 0)
                   : sk_fsconfig(fs, SK_FSCONFIG_SET_FLAG, key, NULL, 0);
        if (r < 0) {
            mount_fail(m, *opts);
            close(fs);
            return -1;
        }
    }
    int mnt = -1;
    if (sk_fsconfig(fs, SK_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 || (mnt = sk_fsmount(fs, SK_FSMOUNT_CLOEXEC, attrs)) < 0)
        mount_fail(m, type);
    close(fs);
    return mnt;
}

/* A detached recursive copy of the tree at SRC with ATTRS set on every mount in it (so a read-only
 * bind is read-only in its submounts too); with USERNS >= 0 it is idmapped through that namespace. */
int clone_tree(struct mctx *m, int src, unsigned attrs, int userns)
{
    struct sk_mount_attr attr = { .attr_set = attrs };
    int t = sk_open_tree(src, "", SK_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | SK_AT_RECURSIVE);
    if (t < 0)
        return mount_fail(m, "open_tree");
    if (sk_mount_setattr(t, "", AT_EMPTY_PATH | SK_AT_RECURSIVE, &attr) < 0) {
        mount_fail(m, "mount_setattr");
        goto bad;
    }
    if (userns >= 0) {
        struct sk_mount_attr idmap = { .attr_set = SK_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
        if (sk_mount_setattr(t, "", AT_EMPTY_PATH | SK_AT_RECURSIVE, &idmap) < 0) {
            mount_fail(m, errno == EINVAL ? "idmapping (the file system refuses idmapped mounts)" : "idmapping");
            goto bad;
        }
    }
    return t;
bad:
    close(t);
    return -1;
}

/* Moves the detached mount MNT onto TARGET (inside the new root), making the target if asked. */
int attach(struct mctx *m, int mnt, const char *target, enum mk mk, mode_t mode)
{
    int r = -1, t = open_in(m->newroot, target, mk, mode);
    if (t < 0)
        mount_fail(m, "making the mount point");
    else if ((r = sk_move_mount(mnt, "", t, "", SK_MOVE_MOUNT_F_EMPTY_PATH | SK_MOVE_MOUNT_T_EMPTY_PATH)) < 0)
        mount_fail(m, "move_mount");
    if (t >= 0)
        close(t);
    close(mnt);
    /* A bind onto "/" (the host's root as the view) is stacked on top of /newroot: the descriptor
     * we hold still names the tmpfs underneath, so later mounts and pivot_root would land there.
     * Reopen /newroot to get the top of the stack. */
    if (r == 0 && strcmp(target, "/") == 0) {
        close(m->newroot);
        if ((m->newroot = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
            return mount_fail(m, "/newroot");
    }
    return r;
}

/* A host path, resolved inside /oldroot (so its absolute symlinks mean what they mean on the host). */
int host_path(struct mctx *m, const char *source)
{
    return open_how(m->oldroot, source);
}

static int stage(struct mctx *m)
{
    snprintf(m->what, sizeof m->what, "staging");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return mount_fail(m, "making / private");
    /* /tmp is covered only in our namespace, and only until the pivot below moves the tmpfs to /. */
    if (mount("stockade", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        return mount_fail(m, "tmpfs on /tmp");
    /* /mnt: where the mount op's mount(2) happens, before the mount is moved onto its target. */
    if (mkdir("/tmp/oldroot", 0700) < 0 || mkdir("/tmp/newroot", 0755) < 0 || mkdir("/tmp/proc", 0555) < 0 ||
        mkdir("/tmp/mnt", 0700) < 0)
        return mount_fail(m, "mkdir");
    if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") < 0 || chdir("/") < 0)
        return mount_fail(m, "pivot_root into the staging tmpfs");
    if ((m->oldroot = open("/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return mount_fail(m, "/oldroot");
    if ((m->empty_file = open("/empty", O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0444)) < 0)
        return mount_fail(m, "/empty");
    return 0;
}

static int root_op(struct mctx *m, const struct op *op)
{
    static const char *const mode[] = { "mode=0755", NULL };
    int mnt, src;
    if (op->kind == OP_ROOT_TMPFS) {
        mnt = new_fs(m, "tmpfs", mode, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NODEV);
    } else {
        if ((src = host_path(m, op->u.mnt.source)) < 0)
            return mount_fail(m, "opening the source");
        /* rootfs (an OCI bundle's): as it is, setuid files included; read-only (if asked) at the end,
         * after the mounts inside it are made (oci_ops.c). */
        mnt = clone_tree(m, src, op->kind == OP_ROOTFS ? 0 : SK_MOUNT_ATTR_RDONLY | SK_MOUNT_ATTR_NOSUID, -1);
        m->seal_root = op->kind == OP_ROOTFS && (op->u.mnt.flags & 1u);
        close(src);
    }
    if (mnt < 0)
        return -1;
    int r = sk_move_mount(mnt, "", AT_FDCWD, "/newroot", SK_MOVE_MOUNT_F_EMPTY_PATH);
    close(mnt);
    if (r < 0)
        return mount_fail(m, "move_mount onto /newroot");
    if ((m->newroot = open("/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return mount_fail(m, "/newroot");
    return 0;
}

static int bind_op(struct mctx *m, const struct op *op)
{
    const typeof(op->u.mnt) *b = &op->u.mnt;
    const struct op *user = m->plan->first[OP_USER];
    struct stat st;
    int src = host_path(m, b->source);
    if (src < 0)
        return errno == ENOENT && (b->flags & BIND_OPTIONAL) ? 0 : mount_fail(m, "opening the source");
    if (fstat(src, &st) < 0) {
        close(src);
        return mount_fail(m, "fstat");
    }
    /* idmapRoot: a throwaway user namespace mapping 0 to the user op's ids.  Its child's pid is
     * looked up in a procfs of our own pid namespace, mounted on the staging tmpfs for this. */
    if ((b->flags & BIND_IDMAP_ROOT) && m->userns < 0 &&
        ((!m->have_proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) ||
         (m->have_proc = true, m->userns = idmap_userns_fd(user->u.user.uid, user->u.user.gid, "/proc")) < 0)) {
        close(src);
        return mount_fail(m, "making the user namespace for idmapRoot");
    }
    unsigned attrs = SK_MOUNT_ATTR_NOSUID | (b->flags & BIND_READ_ONLY ? SK_MOUNT_ATTR_RDONLY : 0);
    int mnt = clone_tree(m, src, attrs, b->flags & BIND_IDMAP_ROOT ? m->userns : -1);
    close(src);
    return mnt < 0 ? -1 : attach(m, mnt, b->target, S_ISDIR(st.st_mode) ? MK_DIR : MK_FILE, 0755);
}

/* dev: a tmpfs with the host's harmless character devices bound in, a devpts of its own, /dev/shm
 * and the usual links.  Entries are made while the tmpfs is detached; binds go on after attaching. */
static int dev_op(struct mctx *m, const char *target)
{
    static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
    static const char *const links[][2] = { { "ptmx", "pts/ptmx" }, { "fd", "/proc/self/fd" },
        { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" } };
    static const char *const tmpfs_opts[] = { "mode=0755", NULL };
    static const char *const pts_opts[] = { "newinstance", "ptmxmode=0666", "mode=0620", NULL };
    static const char *const shm_opts[] = { "mode=01777", NULL };
    char path[PLAN_MAX_PATH + 32];
    int mnt = new_fs(m, "tmpfs", tmpfs_opts, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NOEXEC);
    if (mnt < 0)
        return -1;
    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        int fd = openat(mnt, devices[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (fd >= 0)
            close(fd);
    }
    int r = mkdirat(mnt, "pts", 0755) | mkdirat(mnt, "shm", 01777);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        r |= symlinkat(links[i][1], mnt, links[i][0]);
    if (r < 0) {
        close(mnt);
        return mount_fail(m, "filling the tmpfs");
    }
    if (attach(m, mnt, target, MK_DIR, 0755) < 0)
        return -1;
    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        snprintf(path, sizeof path, "/dev/%s", devices[i]);
        int src = host_path(m, path);
        if (src < 0)
            return mount_fail(m, path);
        mnt = clone_tree(m, src, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NOEXEC, -1);
        close(src);
        snprintf(path, sizeof path, "%s/%s", target, devices[i]);
        if (mnt < 0 || attach(m, mnt, path, MK_NONE, 0) < 0)
            return -1;
    }
    snprintf(path, sizeof path, "%s/pts", target);
    if ((mnt = new_fs(m, "devpts", pts_opts, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NOEXEC)) < 0 ||
        attach(m, mnt, path, MK_NONE, 0) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/shm", target);
    if ((mnt = new_fs(m, "tmpfs", shm_opts, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NODEV)) < 0 ||
        attach(m, mnt, path, MK_NONE, 0) < 0)
        return -1;
    return 0;
}

/* Mounts the detached mount `mnt` (or nothing, when making it failed: mnt < 0) over the open
 * target `t`, and closes both: the last step of hide and readOnly. */
static int cover(struct mctx *m, int mnt, int t)
{
    int r = mnt < 0 ? -1 : sk_move_mount(mnt, "", t, "", SK_MOVE_MOUNT_F_EMPTY_PATH | SK_MOVE_MOUNT_T_EMPTY_PATH);
    if (mnt >= 0 && r < 0)
        mount_fail(m, "move_mount");
    if (mnt >= 0)
        close(mnt);
    close(t);
    return r;
}

/* hide: an empty read-only tmpfs over a directory, an empty read-only file over anything else. */
static int hide_op(struct mctx *m, const char *target)
{
    static const char *const opts[] = { "mode=0755", NULL };
    const unsigned ro = SK_MOUNT_ATTR_RDONLY | SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NODEV | SK_MOUNT_ATTR_NOEXEC;
    struct stat st;
    int t = open_how(m->newroot, target);
    if (t < 0)
        return errno == ENOENT ? 0 : mount_fail(m, "opening the target");
    int mnt = fstat(t, &st) < 0 ? mount_fail(m, "fstat")
              : S_ISDIR(st.st_mode) ? new_fs(m, "tmpfs", opts, ro) : clone_tree(m, m->empty_file, ro, -1);
    return cover(m, mnt, t);
}

/* readOnly: a read-only bind of a path of the new root onto itself (e.g. /proc/sys after proc, so a
 * process mapped to a privileged uid cannot write sysctls); absent targets are skipped. */
static int read_only_op(struct mctx *m, const char *target)
{
    int t = open_how(m->newroot, target);
    if (t < 0)
        return errno == ENOENT ? 0 : mount_fail(m, "opening the target");
    int mnt = clone_tree(m, t, SK_MOUNT_ATTR_RDONLY | SK_MOUNT_ATTR_NOSUID, -1);
    return cover(m, mnt, t);
}

static int symlink_op(struct mctx *m, const struct op *op)
{
    char dir[PLAN_MAX_PATH + 1];
    snprintf(dir, sizeof dir, "%s", op->u.mnt.target);
    char *slash = strrchr(dir, '/');
    const char *name = op->u.mnt.target + (slash - dir) + 1;
    slash[slash == dir ? 1 : 0] = 0;
    int parent = open_in(m->newroot, dir, MK_DIR, 0755);
    if (parent < 0)
        return mount_fail(m, "making the parent directory");
    int r = symlinkat(op->u.mnt.source, parent, name);
    if (r < 0)
        mount_fail(m, "symlinkat");
    close(parent);
    return r;
}

/* pivot_root(".", "."): the new root becomes /, the staging root (with the host's tree under it) is
 * stacked on top and detached at once, so no path in the sandbox leads back to the host. */
static int pivot_op(struct mctx *m)
{
    if (seal_root(m) < 0)
        return -1;
    if (fchdir(m->newroot) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        return mount_fail(m, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return mount_fail(m, "detaching the old root");
    if (chdir("/") < 0)
        return mount_fail(m, "chdir /");
    return 0;
}

static int run_op(struct mctx *m, const struct op *op)
{
    static const char *const proc_opts[] = { NULL };
    const typeof(op->u.mnt) *o = &op->u.mnt;
    char opt_mode[32], opt_size[48];
    const char *tmpfs_opts[] = { opt_mode, o->size ? opt_size : NULL, NULL };
    int fd, mnt;
    if (op->kind == OP_BIND)
        snprintf(m->what, sizeof m->what, "bind %s -> %s", o->source, o->target);
    else if (op->kind == OP_SYMLINK)
        snprintf(m->what, sizeof m->what, "symlink %s -> %s", o->target, o->source);
    else if (op->kind == OP_MOUNT)
        snprintf(m->what, sizeof m->what, "mount %s -> %s", op->u.mount.source, op->u.mount.target);
    else if (op->kind == OP_SYSCTL)
        snprintf(m->what, sizeof m->what, "sysctl %s", op->u.sysctl.key);
    else
        snprintf(m->what, sizeof m->what, "%s %s", op_name(op->kind),
                 op->kind == OP_ROOT_BIND || op->kind == OP_ROOTFS ? o->source : o->target ? o->target : "");
    switch (op->kind) {
    case OP_ROOT_TMPFS: case OP_ROOT_BIND: case OP_ROOTFS:
        return root_op(m, op);
    case OP_MOUNT:
        return mount_op(m, op);
    case OP_SYSCTL:
        return sysctl_op(m, op);
    case OP_BIND:
        return bind_op(m, op);
    case OP_TMPFS:
        snprintf(opt_mode, sizeof opt_mode, "mode=0%o", o->mode);
        snprintf(opt_size, sizeof opt_size, "size=%llu", (unsigned long long)o->size);
        mnt = new_fs(m, "tmpfs", tmpfs_opts, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NODEV);
        return mnt < 0 ? -1 : attach(m, mnt, o->target, MK_DIR, 0755);
    case OP_PROC:
        /* A procfs of our own: it shows the new pid namespace, whose init we are. */
        mnt = new_fs(m, "proc", proc_opts, SK_MOUNT_ATTR_NOSUID | SK_MOUNT_ATTR_NODEV | SK_MOUNT_ATTR_NOEXEC);
        return mnt < 0 ? -1 : attach(m, mnt, o->target, MK_DIR, 0555);
    case OP_DEV:
        return dev_op(m, o->target);
    case OP_MKDIR:
        if ((fd = open_in(m->newroot, o->target, MK_DIR, o->mode)) < 0)
            return mount_fail(m, "mkdir");
        close(fd);
        return 0;
    case OP_SYMLINK:
        return symlink_op(m, op);
    case OP_HIDE:
        return hide_op(m, o->target);
    case OP_READ_ONLY:
        return read_only_op(m, o->target);
    case OP_PIVOT_ROOT:
        return pivot_op(m);
    default:
        errno = EINVAL;
        return mount_fail(m, "not a mount op");
    }
}

int mount_phase(const struct plan *p, uint32_t *i)
{
    static struct mctx m; /* static: the error buffer is large */
    int r = 0;
    m = (struct mctx){ .plan = p, .oldroot = -1, .newroot = -1, .empty_file = -1, .userns = -1 };
    /* The modes in the plan are exact: no umask applies while we build the tree. */
    mode_t old_umask = umask(0);
    r = stage(&m);
    for (; r == 0 && *i < p->nops && op_phase(p->ops[*i].kind) == PH_MOUNT; (*i)++) {
        if (p->ops[*i].kind == OP_PIVOT_ROOT) {
            /* Close what points into the staging tree first: none of it may reach the workload. */
            close(m.oldroot);
            close(m.empty_file);
            if (m.userns >= 0)
                close(m.userns);
            m.oldroot = m.empty_file = m.userns = -1;
        }
        r = run_op(&m, &p->ops[*i]);
    }
    if (m.newroot >= 0)
        close(m.newroot);
    umask(old_umask);
    return r;
}
