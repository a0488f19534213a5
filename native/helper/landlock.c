/*
 * landlock.c: the plan's Landlock ruleset, restricted onto the workload.
 *
 * The handled rights are masked to what the running kernel's ABI knows (a ruleset asking for more
 * is refused by the kernel with EINVAL).  When the plan says `required` and the kernel's ABI is
 * below the plan's, that is an error; otherwise what was dropped is reported as a warning: never
 * weaken silently.  Paths are opened in the sandbox's view (after pivot_root).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"
#include "sys.h"

/* The filesystem rights each ABI handles (index = ABI; ABI 4, 6 and 7 added no fs right). */
static const uint64_t fs_rights[] = {
    0,
    (1ull << 13) - 1, /* 1: EXECUTE .. MAKE_SYM */
    (1ull << 14) - 1, /* 2: + REFER */
    (1ull << 15) - 1, /* 3: + TRUNCATE */
    (1ull << 15) - 1, /* 4: net rights */
    (1ull << 16) - 1, /* 5: + IOCTL_DEV */
    (1ull << 16) - 1, /* 6: scoped */
    (1ull << 16) - 1, /* 7: logging flags */
};
#define KNOWN_ABI ((int)(sizeof fs_rights / sizeof fs_rights[0]) - 1)

static int kernel_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, SK_LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

static int add_path(int ruleset, const struct ll_path *p, uint64_t handled)
{
    struct stat st;
    int fd = open(p->path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && p->optional)
            return 0;
        return status_error("landlock", errno, "path rule %s: %s", p->path, strerror(errno));
    }
    struct sk_landlock_path_beneath_attr attr = { .allowed_access = p->access & handled, .parent_fd = fd };
    /* Rights about directory entries mean nothing on a file, and the kernel refuses them there. */
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        attr.allowed_access &= SK_LL_FS_FILE_RIGHTS;
    int r = attr.allowed_access == 0 ? 0 : (int)syscall(SYS_landlock_add_rule, ruleset, SK_LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
    int e = errno;
    close(fd);
    if (r < 0)
        return status_error("landlock", e, "path rule %s (access 0x%llx): %s", p->path,
                            (unsigned long long)attr.allowed_access, strerror(e));
    return 0;
}

int apply_landlock(const struct op *op)
{
    const typeof(op->u.landlock) *l = &op->u.landlock;
    int abi = kernel_abi();
    if (l->required && abi < (int)l->abi)
        return status_error("landlock", EOPNOTSUPP, "the kernel's Landlock ABI is %d; the ruleset needs ABI %u", abi, l->abi);
    struct sk_landlock_ruleset_attr attr = {
        .handled_access_fs = l->fs & fs_rights[abi > KNOWN_ABI ? KNOWN_ABI : abi],
        .handled_access_net = abi >= 4 ? l->net & 3 : 0,
        .scoped = abi >= 6 ? l->scoped & 3 : 0,
    };
    uint64_t drop_fs = l->fs & ~attr.handled_access_fs, drop_net = l->net & ~attr.handled_access_net,
             drop_scoped = l->scoped & ~attr.scoped;
    if (drop_fs | drop_net | drop_scoped)
        status_warning("landlock", "dropped handledFs 0x%llx, handledNet 0x%llx, scoped 0x%llx: the kernel's Landlock ABI is %d, "
                       "the ruleset was made for ABI %u", (unsigned long long)drop_fs, (unsigned long long)drop_net,
                       (unsigned long long)drop_scoped, abi, l->abi);
    if ((attr.handled_access_fs | attr.handled_access_net | attr.scoped) == 0)
        return 0; /* nothing left to enforce (and said so above, if anything was asked) */
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return status_error("landlock", errno, "landlock_create_ruleset (fs 0x%llx, net 0x%llx, scoped 0x%llx): %s",
                            (unsigned long long)attr.handled_access_fs, (unsigned long long)attr.handled_access_net,
                            (unsigned long long)attr.scoped, strerror(errno));
    int r = 0;
    for (uint32_t i = 0; r == 0 && i < l->npaths; i++)
        r = add_path(ruleset, &l->paths[i], attr.handled_access_fs);
    for (uint32_t i = 0; r == 0 && i < l->nports && attr.handled_access_net != 0; i++) {
        struct sk_landlock_net_port_attr port = { .allowed_access = l->ports[i].access & attr.handled_access_net,
                                                  .port = l->ports[i].port };
        if (port.allowed_access != 0 && syscall(SYS_landlock_add_rule, ruleset, SK_LANDLOCK_RULE_NET_PORT, &port, 0) < 0)
            r = status_error("landlock", errno, "port rule %u: %s", l->ports[i].port, strerror(errno));
    }
    if (r == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        r = status_error("landlock", errno, "landlock_restrict_self%s: %s",
                         errno == EPERM ? " (needs noNewPrivs or CAP_SYS_ADMIN)" : "", strerror(errno));
    close(ruleset);
    return r;
}
