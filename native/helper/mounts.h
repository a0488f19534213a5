/*
 * mounts.h: the mount phase's context, shared by mounts.c (staging, the classic ops, pivot_root) and
 * oci_ops.c (secure target resolution, the rootfs op's seal, the general mount op, sysctl).  Only
 * the sandbox init uses it, inside its new mount namespace.
 */
#ifndef STOCKADE_MOUNTS_H
#define STOCKADE_MOUNTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "helper.h"

enum mk { MK_NONE, MK_DIR, MK_FILE };

struct mctx {
    const struct plan *plan;
    int oldroot;    /* O_PATH: the caller's root, at /oldroot in the staging tmpfs */
    int newroot;    /* O_PATH: the root being built, at /newroot */
    int empty_file; /* an empty file in the staging tmpfs, bound over hidden files */
    int userns;     /* the user namespace idmapRoot binds map through, made on first use */
    bool have_proc; /* a procfs is mounted on the staging tmpfs's /proc */
    bool seal_root; /* rootfs { readOnly: true }: the root mount goes read-only before pivot_root */
    char what[2 * PLAN_MAX_PATH + 64]; /* the op being run, for error details */
};

/* Reports "<what>: <how>: <strerror(errno)>" as a mount error; returns -1. */
int mount_fail(struct mctx *m, const char *how);

/* oci_ops.c: resolution inside a root (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). */
int open_how(int root, const char *path);
int open_in(int root, const char *path, enum mk mk, mode_t mode);
int mount_op(struct mctx *m, const struct op *op);
int sysctl_op(struct mctx *m, const struct op *op);
int seal_root(struct mctx *m);

/* mounts.c */
int clone_tree(struct mctx *m, int src, unsigned attrs, int userns);
int attach(struct mctx *m, int mnt, const char *target, enum mk mk, mode_t mode);
int host_path(struct mctx *m, const char *source);

#endif
