/*
 * sys.h: kernel interfaces the helper uses that are newer than the uapi headers it is built
 * against (linux-libc-dev 6.1) or that glibc 2.36 wraps inconsistently.  Everything is called
 * through syscall(2) with our own names (SK_*), so no header version can clash with them.
 */
#ifndef STOCKADE_SYS_H
#define STOCKADE_SYS_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Syscall numbers (x86_64; identical in asm-generic for the new-style calls). */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* open_tree / move_mount / fsopen / fsconfig / fsmount / mount_setattr (5.2 .. 5.12). */
#define SK_OPEN_TREE_CLONE 1u
#define SK_AT_RECURSIVE 0x8000u
#define SK_MOVE_MOUNT_F_EMPTY_PATH 0x04u
#define SK_MOVE_MOUNT_T_EMPTY_PATH 0x40u
#define SK_FSOPEN_CLOEXEC 1u
#define SK_FSCONFIG_SET_STRING 1u
#define SK_FSCONFIG_SET_FLAG 0u
#define SK_FSCONFIG_CMD_CREATE 6u
#define SK_FSMOUNT_CLOEXEC 1u
#define SK_MOUNT_ATTR_RDONLY 0x01u
#define SK_MOUNT_ATTR_NOSUID 0x02u
#define SK_MOUNT_ATTR_NODEV 0x04u
#define SK_MOUNT_ATTR_NOEXEC 0x08u
#define SK_MOUNT_ATTR_NOATIME 0x10u
#define SK_MOUNT_ATTR_STRICTATIME 0x20u
#define SK_MOUNT_ATTR__ATIME 0x70u
#define SK_MOUNT_ATTR_NODIRATIME 0x80u
#define SK_MOUNT_ATTR_IDMAP 0x00100000u
#define SK_MOUNT_ATTR_NOSYMFOLLOW 0x00200000u

struct sk_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* openat2 (5.6) */
struct sk_open_how {
    uint64_t flags, mode, resolve;
};
#define SK_RESOLVE_NO_MAGICLINKS 0x02u
#define SK_RESOLVE_IN_ROOT 0x10u

/* close_range (5.9) */
#define SK_CLOSE_RANGE_CLOEXEC (1u << 2)

/* Landlock (5.13; net rights ABI 4, IOCTL_DEV ABI 5, scoped ABI 6). */
#define SK_LANDLOCK_CREATE_RULESET_VERSION 1u
#define SK_LANDLOCK_RULE_PATH_BENEATH 1
#define SK_LANDLOCK_RULE_NET_PORT 2
#define SK_LL_FS_EXECUTE (1ull << 0)
#define SK_LL_FS_WRITE_FILE (1ull << 1)
#define SK_LL_FS_READ_FILE (1ull << 2)
#define SK_LL_FS_REFER (1ull << 13)    /* ABI 2 */
#define SK_LL_FS_TRUNCATE (1ull << 14) /* ABI 3 */
#define SK_LL_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
/* The rights that make sense on a file that is not a directory (the kernel refuses others). */
#define SK_LL_FS_FILE_RIGHTS \
    (SK_LL_FS_EXECUTE | SK_LL_FS_WRITE_FILE | SK_LL_FS_READ_FILE | SK_LL_FS_TRUNCATE | SK_LL_FS_IOCTL_DEV)

struct sk_landlock_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct sk_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct sk_landlock_net_port_attr {
    uint64_t allowed_access, port;
};

static inline int sk_open_tree(int dfd, const char *path, unsigned flags)
{
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}
static inline int sk_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
    return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}
static inline int sk_fsopen(const char *fs, unsigned flags)
{
    return (int)syscall(SYS_fsopen, fs, flags);
}
static inline int sk_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static inline int sk_fsmount(int fd, unsigned flags, unsigned attrs)
{
    return (int)syscall(SYS_fsmount, fd, flags, attrs);
}
static inline int sk_mount_setattr(int dfd, const char *path, unsigned flags, struct sk_mount_attr *attr)
{
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}
static inline int sk_openat2(int dfd, const char *path, struct sk_open_how *how)
{
    return (int)syscall(SYS_openat2, dfd, path, how, sizeof *how);
}

#endif
