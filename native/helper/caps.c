/*
 * caps.c: the workload's limits, identity and privileges: rlimits, the user op (groups, gid, uid),
 * capabilities (the capabilities op, or OCI's capabilitySets), no_new_privs.  Run in the workload
 * process, in the order of the plan's phases.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper.h"

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "the plan's groups are 32-bit");

static const char *limit_str(uint64_t v, char *buf, size_t n)
{
    if (v == (uint64_t)RLIM_INFINITY)
        return "unlimited";
    snprintf(buf, n, "%llu", (unsigned long long)v);
    return buf;
}

int apply_rlimit(const struct op *op)
{
    const typeof(op->u.rlimit) *l = &op->u.rlimit;
    struct rlimit want = { .rlim_cur = l->soft, .rlim_max = l->hard }, now;
    char a[24], b[24], c[24];
    if (setrlimit((__rlimit_resource_t)l->resource, &want) == 0)
        return 0;
    int e = errno;
    if (e == EPERM && getrlimit((__rlimit_resource_t)l->resource, &now) == 0)
        return status_error("rlimit", e, "rlimit %s: raising the hard limit from %s to %s needs CAP_SYS_RESOURCE: %s",
                            rlimit_name(l->resource), limit_str(now.rlim_max, a, sizeof a),
                            limit_str(l->hard, b, sizeof b), strerror(e));
    return status_error("rlimit", e, "rlimit %s (soft %s, hard %s): %s", rlimit_name(l->resource),
                        limit_str(l->soft, a, sizeof a), limit_str(l->hard, c, sizeof c), strerror(e));
}

int apply_user(const struct op *op, bool keep_caps, bool in_userns)
{
    const typeof(op->u.user) *u = &op->u.user;
    /* Groups first: it takes CAP_SETGID, which the uid change below may remove.  In a user
     * namespace whose setgroups is denied (rootless), an empty list is all there can be. */
    if (setgroups(u->ngroups, (const gid_t *)u->groups) < 0 && !(errno == EPERM && in_userns && u->ngroups == 0))
        return status_error("user", errno, "setgroups (%u groups): %s", u->ngroups, strerror(errno));
    /* Leaving uid 0 clears the permitted set unless KEEPCAPS is on; the capabilities op that follows
     * needs it (to drop the bounding set, and to keep what it keeps). */
    if (keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return status_error("user", errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return status_error("user", errno, "setresgid %u: %s", u->gid, strerror(errno));
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return status_error("user", errno, "setresuid %u: %s", u->uid, strerror(errno));
    if (keep_caps)
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    return 0;
}

static int capset_masks(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2] = {
        { .effective = (uint32_t)eff, .permitted = (uint32_t)prm, .inheritable = (uint32_t)inh },
        { .effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32), .inheritable = (uint32_t)(inh >> 32) },
    };
    return (int)syscall(SYS_capset, &h, d);
}

static uint64_t permitted_now(void)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
    struct __user_cap_data_struct d[2] = { { 0 } };
    if (syscall(SYS_capget, &h, d) < 0)
        return 0;
    return (uint64_t)d[1].permitted << 32 | d[0].permitted;
}

int apply_capabilities(const struct op *op)
{
    uint64_t keep = op->u.keep, prm = permitted_now();
    /* Dropping from the bounding set needs CAP_SETPCAP in the effective set, which is empty after
     * a uid change: raise everything still permitted first. */
    if (capset_masks(prm, prm, 0) < 0)
        return status_error("capabilities", errno, "capset (raising the permitted set): %s", strerror(errno));
    for (unsigned cap = 0; cap < 64; cap++) {
        bool exists = prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0;
        if (!exists && (keep >> cap & 1))
            return status_error("capabilities", EINVAL, "capability %u is unknown to this kernel", cap);
        if (exists && !(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return status_error("capabilities", errno, "dropping capability %u from the bounding set: %s", cap, strerror(errno));
    }
    if (capset_masks(keep, keep, keep) < 0)
        return status_error("capabilities", errno, "capset to keep 0x%llx (held: 0x%llx): %s",
                            (unsigned long long)keep, (unsigned long long)prm, strerror(errno));
    /* Ambient: a kept capability must survive execve for a non-root uid too. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return status_error("capabilities", errno, "clearing the ambient set: %s", strerror(errno));
    for (unsigned cap = 0; cap < 64; cap++)
        if ((keep >> cap & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return status_error("capabilities", errno, "raising ambient capability %u: %s", cap, strerror(errno));
    return 0;
}

/* OCI process.capabilities: each set as given.  Capabilities this kernel does not know are left out
 * with a warning (as runc does); the plan's validation already made sure effective is within
 * permitted and ambient within permitted and inheritable. */
int apply_capability_sets(const struct op *op)
{
    const typeof(op->u.capsets) *c = &op->u.capsets;
    uint64_t prm = permitted_now(), known = 0;
    for (unsigned cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0)
            known |= 1ull << cap;
    uint64_t unknown = (c->bounding | c->effective | c->permitted | c->inheritable | c->ambient) & ~known;
    uint64_t bnd = c->bounding & known, eff = c->effective & known, perm = c->permitted & known;
    uint64_t inh = c->inheritable & known, amb = c->ambient & known;
    if (unknown)
        status_warning("capabilities", "capabilities 0x%llx are unknown to this kernel and were left out",
                       (unsigned long long)unknown);
    /* CAP_SETPCAP must be effective to drop from the bounding set (the uid change emptied it). */
    if (capset_masks(prm, prm, 0) < 0)
        return status_error("capabilities", errno, "capset (raising the permitted set): %s", strerror(errno));
    for (unsigned cap = 0; cap < 64; cap++)
        if ((known >> cap & 1) && !(bnd >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return status_error("capabilities", errno, "dropping capability %u from the bounding set: %s", cap, strerror(errno));
    if (capset_masks(eff, perm, inh) < 0)
        return status_error("capabilities", errno, "capset (effective 0x%llx, permitted 0x%llx, inheritable 0x%llx; "
                            "held 0x%llx): %s", (unsigned long long)eff, (unsigned long long)perm,
                            (unsigned long long)inh, (unsigned long long)prm, strerror(errno));
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return status_error("capabilities", errno, "clearing the ambient set: %s", strerror(errno));
    for (unsigned cap = 0; cap < 64; cap++)
        if ((amb >> cap & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return status_error("capabilities", errno, "raising ambient capability %u (it needs to be permitted and "
                                "inheritable): %s", cap, strerror(errno));
    return 0;
}

int apply_no_new_privs(void)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return status_error("noNewPrivs", errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    return 0;
}
