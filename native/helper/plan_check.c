/*
 * plan_check.c: what a decoded plan must satisfy as a whole, checked before the helper touches
 * anything: ops in the order of the phases (src/helper/plan.ts PHASES), only mount ops, rlimits and
 * cgroups repeated, a mount phase that starts with a root and ends with pivotRoot, and the
 * namespaces or ops that other ops need.  Also the names of ops, phases and rlimits.
 */
#include <stdarg.h>
#include <stdio.h>

#include "helper.h"

static const char *const op_names[OP_KIND_END] = {
    [OP_NAMESPACES] = "namespaces", [OP_IDMAP] = "idmap", [OP_ROOT_TMPFS] = "rootTmpfs",
    [OP_ROOT_BIND] = "rootBind", [OP_BIND] = "bind", [OP_TMPFS] = "tmpfs", [OP_PROC] = "proc",
    [OP_DEV] = "dev", [OP_MKDIR] = "mkdir", [OP_SYMLINK] = "symlink", [OP_HIDE] = "hide", [OP_READ_ONLY] = "readOnly",
    [OP_PIVOT_ROOT] = "pivotRoot", [OP_HOSTNAME] = "hostname", [OP_RLIMIT] = "rlimit",
    [OP_CGROUP] = "cgroup", [OP_USER] = "user", [OP_CAPABILITIES] = "capabilities",
    [OP_SETSID] = "setsid", [OP_NO_NEW_PRIVS] = "noNewPrivs", [OP_LANDLOCK] = "landlock",
    [OP_SECCOMP] = "seccomp", [OP_EXEC] = "exec",
};

static const char *const phase_names[PH_END] = {
    "namespaces", "idmap", "mount", "hostname", "rlimit", "cgroup", "user", "capabilities",
    "setsid", "noNewPrivs", "landlock", "seccomp", "exec",
};

static const char *const rlimit_names[16] = {
    "cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
    "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
};

const char *op_name(enum op_kind k) { return k > 0 && k < OP_KIND_END ? op_names[k] : "?"; }
const char *phase_name(enum phase ph) { return ph < PH_END ? phase_names[ph] : "?"; }
const char *rlimit_name(uint32_t r) { return r < 16 ? rlimit_names[r] : "?"; }

enum phase op_phase(enum op_kind k)
{
    if (k >= OP_ROOT_TMPFS && k <= OP_PIVOT_ROOT)
        return PH_MOUNT;
    if (k <= OP_IDMAP)
        return (enum phase)(k - OP_NAMESPACES);
    return (enum phase)(PH_HOSTNAME + (k - OP_HOSTNAME));
}

/* Ops that may appear more than once (PHASES: "ops of one phase may repeat"). */
static bool repeatable(enum op_kind k)
{
    return (op_phase(k) == PH_MOUNT && k != OP_ROOT_TMPFS && k != OP_ROOT_BIND && k != OP_PIVOT_ROOT) ||
           k == OP_RLIMIT || k == OP_CGROUP;
}


/* ---- validation ------------------------------------------------------------------------------ */

struct check {
    struct plan *plan;
    char *err;
    size_t errlen;
    long opi;
};

static bool fail(struct check *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct check *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(d->err, d->errlen, "op %ld (%s): %s", d->opi, op_name(d->plan->ops[d->opi].kind), msg);
    return false;
}

bool plan_validate(struct plan *p, char *err, size_t errlen)
{
    struct check c = { .plan = p, .err = err, .errlen = errlen };
    struct check *d = &c;
    enum phase last = PH_NAMESPACES;
    long first_mount = -1, last_mount = -1;
    for (uint32_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        enum phase ph = op_phase(op->kind);
        d->opi = i;
        if (ph < last)
            return fail(d, "a %s op cannot follow the %s phase: phases run in the order namespaces, idmap, "
                           "mount, hostname, rlimit, cgroup, user, capabilities, setsid, noNewPrivs, landlock, "
                           "seccomp, exec", phase_name(ph), phase_name(last));
        last = ph;
        if (p->first[op->kind] != NULL && !repeatable(op->kind))
            return fail(d, "appears twice; it may appear once");
        if (p->first[op->kind] == NULL)
            p->first[op->kind] = op;
        if (ph == PH_MOUNT) {
            if (first_mount < 0)
                first_mount = i;
            last_mount = i;
            if ((op->kind == OP_ROOT_TMPFS || op->kind == OP_ROOT_BIND) && (long)i != first_mount)
                return fail(d, "the new root must be the first op of the mount phase");
        }
    }
    p->ns = p->first[OP_NAMESPACES] ? p->first[OP_NAMESPACES]->u.ns : 0;
    d->opi = (long)p->nops - 1;
    if (p->ops[p->nops - 1].kind != OP_EXEC)
        return fail(d, "the last op must be exec");
    if (first_mount >= 0) {
        d->opi = first_mount;
        if (!(p->ns & NS_MOUNT))
            return fail(d, "mount ops need a mount namespace (namespaces.mount)");
        if (p->ops[first_mount].kind != OP_ROOT_TMPFS && p->ops[first_mount].kind != OP_ROOT_BIND)
            return fail(d, "the mount phase must begin with rootTmpfs or rootBind");
        d->opi = last_mount;
        if (p->ops[last_mount].kind != OP_PIVOT_ROOT)
            return fail(d, "the mount phase must end with pivotRoot");
    }
    for (uint32_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        d->opi = i;
        if (op->kind == OP_IDMAP && !(p->ns & NS_USER))
            return fail(d, "id maps need a user namespace (namespaces.user)");
        if (op->kind == OP_HOSTNAME && !(p->ns & NS_UTS))
            return fail(d, "setting the hostname needs a UTS namespace (namespaces.uts)");
        if (op->kind == OP_BIND && (op->u.mnt.flags & BIND_IDMAP_ROOT) && p->first[OP_USER] == NULL)
            return fail(d, "idmapRoot maps host root to the user op's ids, and there is no user op");
    }
    return true;
}

