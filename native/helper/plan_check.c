/*
 * plan_check.c: what a decoded plan must satisfy as a whole, checked before the helper touches
 * anything: ops in the order of the phases (src/helper/plan.ts PHASES), only mount ops, rlimits and
 * cgroups repeated, a mount phase that starts with a root and ends with pivotRoot, and the
 * namespaces or ops that other ops need.  Also the names of ops, phases and rlimits.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "helper.h"

static const char *const op_names[OP_KIND_END] = {
    [OP_NAMESPACES] = "namespaces", [OP_IDMAP] = "idmap", [OP_ROOT_TMPFS] = "rootTmpfs",
    [OP_ROOT_BIND] = "rootBind", [OP_BIND] = "bind", [OP_TMPFS] = "tmpfs", [OP_PROC] = "proc",
    [OP_DEV] = "dev", [OP_MKDIR] = "mkdir", [OP_SYMLINK] = "symlink", [OP_HIDE] = "hide", [OP_READ_ONLY] = "readOnly",
    [OP_PIVOT_ROOT] = "pivotRoot", [OP_HOSTNAME] = "hostname", [OP_RLIMIT] = "rlimit",
    [OP_CGROUP] = "cgroup", [OP_USER] = "user", [OP_CAPABILITIES] = "capabilities",
    [OP_SETSID] = "setsid", [OP_NO_NEW_PRIVS] = "noNewPrivs", [OP_LANDLOCK] = "landlock",
    [OP_SECCOMP] = "seccomp", [OP_EXEC] = "exec", [OP_START_GATE] = "startGate",
    [OP_CONSOLE_SOCKET] = "consoleSocket", [OP_OOM_SCORE_ADJ] = "oomScoreAdj",
    [OP_JOIN_NAMESPACE] = "joinNamespace", [OP_ROOTFS] = "rootfs", [OP_MOUNT] = "mount",
    [OP_SYSCTL] = "sysctl", [OP_CAPABILITY_SETS] = "capabilitySets", [OP_SECCOMP_LISTENER] = "seccompListener",
    [OP_EXEC_LABEL] = "execLabel",
};

/* The phase of each op (PHASES in src/helper/plan.ts): by table, since codes 24.. were appended. */
static const enum phase op_phases[OP_KIND_END] = {
    [OP_START_GATE] = PH_MONITOR, [OP_CONSOLE_SOCKET] = PH_MONITOR, [OP_OOM_SCORE_ADJ] = PH_MONITOR,
    [OP_SECCOMP_LISTENER] = PH_MONITOR,
    [OP_NAMESPACES] = PH_NAMESPACES, [OP_JOIN_NAMESPACE] = PH_NAMESPACES, [OP_IDMAP] = PH_IDMAP,
    [OP_ROOT_TMPFS] = PH_MOUNT, [OP_ROOT_BIND] = PH_MOUNT, [OP_ROOTFS] = PH_MOUNT, [OP_BIND] = PH_MOUNT,
    [OP_MOUNT] = PH_MOUNT, [OP_SYSCTL] = PH_MOUNT, [OP_TMPFS] = PH_MOUNT, [OP_PROC] = PH_MOUNT,
    [OP_DEV] = PH_MOUNT, [OP_MKDIR] = PH_MOUNT, [OP_SYMLINK] = PH_MOUNT, [OP_HIDE] = PH_MOUNT,
    [OP_READ_ONLY] = PH_MOUNT, [OP_PIVOT_ROOT] = PH_MOUNT, [OP_HOSTNAME] = PH_HOSTNAME,
    [OP_RLIMIT] = PH_RLIMIT, [OP_CGROUP] = PH_CGROUP, [OP_USER] = PH_USER,
    [OP_CAPABILITIES] = PH_CAPABILITIES, [OP_CAPABILITY_SETS] = PH_CAPABILITIES, [OP_SETSID] = PH_SETSID,
    [OP_EXEC_LABEL] = PH_EXEC_LABEL, [OP_NO_NEW_PRIVS] = PH_NO_NEW_PRIVS, [OP_LANDLOCK] = PH_LANDLOCK,
    [OP_SECCOMP] = PH_SECCOMP,
    [OP_EXEC] = PH_EXEC,
};

static const char *const phase_names[PH_END] = {
    "monitor", "namespaces", "idmap", "mount", "hostname", "rlimit", "cgroup", "user", "capabilities",
    "setsid", "execLabel", "noNewPrivs", "landlock", "seccomp", "exec",
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
    return k > 0 && k < OP_KIND_END ? op_phases[k] : PH_END;
}

const char *ns_type_name(uint32_t ns)
{
    switch (ns) {
    case NS_USER: return "user";
    case NS_PID: return "pid";
    case NS_MOUNT: return "mount";
    case NS_NET: return "net";
    case NS_UTS: return "uts";
    case NS_IPC: return "ipc";
    case NS_CGROUP: return "cgroup";
    default: return "?";
    }
}

const char *lsm_name(uint32_t lsm)
{
    return lsm == LSM_APPARMOR ? "apparmor" : lsm == LSM_SELINUX ? "selinux" : "?";
}

static bool is_root_op(enum op_kind k)
{
    return k == OP_ROOT_TMPFS || k == OP_ROOT_BIND || k == OP_ROOTFS;
}

/* Ops that may appear more than once (PHASES: "ops of one phase may repeat"). */
static bool repeatable(enum op_kind k)
{
    return (op_phase(k) == PH_MOUNT && !is_root_op(k) && k != OP_PIVOT_ROOT) || k == OP_RLIMIT ||
           k == OP_CGROUP || k == OP_JOIN_NAMESPACE || k == OP_SECCOMP || /* seccomp: filters stack */
           k == OP_EXEC_LABEL; /* once per LSM (check_new_op) */
}

/* The namespace a sysctl belongs to (runc's list), 0 for one that is not namespaced: writing that
 * would change the host. */
static uint32_t sysctl_namespace(const char *key)
{
    static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
    if (strncmp(key, "net.", 4) == 0)
        return NS_NET;
    if (strncmp(key, "fs.mqueue.", 10) == 0)
        return NS_IPC;
    for (size_t i = 0; i < sizeof ipc / sizeof *ipc; i++)
        if (strcmp(key, ipc[i]) == 0)
            return NS_IPC;
    if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
        return NS_UTS;
    return 0;
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

/* The rules of the ops added for the OCI runtime. */
static bool check_new_op(struct check *d, const struct op *op)
{
    const struct plan *p = d->plan;
    const struct op *setsid_op = p->first[OP_SETSID];
    if (op->kind == OP_JOIN_NAMESPACE && (p->ns & op->u.target.type))
        return fail(d, "the %s namespace is both created (namespaces) and joined", ns_type_name(op->u.target.type));
    if (op->kind == OP_CONSOLE_SOCKET && (setsid_op == NULL || !setsid_op->u.terminal))
        return fail(d, "a console socket needs a terminal (setsid with terminal: true)");
    if (op->kind == OP_CAPABILITIES && p->first[OP_CAPABILITY_SETS] != NULL)
        return fail(d, "capabilities and capabilitySets exclude each other");
    if (op->kind == OP_SYSCTL) {
        uint32_t ns = sysctl_namespace(op->u.sysctl.key);
        if (ns == 0)
            return fail(d, "sysctl %s is not namespaced: writing it would change the host", op->u.sysctl.key);
        if (!((p->ns | p->joined) & ns))
            return fail(d, "sysctl %s needs a %s namespace of the sandbox's own", op->u.sysctl.key, ns_type_name(ns));
    }
    if (op->kind == OP_SECCOMP && (op->u.seccomp.flags & SECCOMP_FLAG_NEW_LISTENER)) {
        if (p->first[OP_SECCOMP_LISTENER] == NULL)
            return fail(d, "a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER needs a seccompListener op to hand its fd to");
        for (const struct op *o = p->first[OP_SECCOMP]; o < op; o++)
            if (o->kind == OP_SECCOMP && (o->u.seccomp.flags & SECCOMP_FLAG_NEW_LISTENER))
                return fail(d, "only one seccomp op may have SECCOMP_FILTER_FLAG_NEW_LISTENER");
    }
    if (op->kind == OP_SECCOMP_LISTENER) {
        bool found = false;
        for (uint32_t i = 0; i < p->nops && !found; i++)
            found = p->ops[i].kind == OP_SECCOMP && (p->ops[i].u.seccomp.flags & SECCOMP_FLAG_NEW_LISTENER);
        if (!found)
            return fail(d, "a seccomp listener needs a seccomp op with SECCOMP_FILTER_FLAG_NEW_LISTENER (8)");
    }
    if (op->kind == OP_EXEC_LABEL)
        for (const struct op *o = p->first[OP_EXEC_LABEL]; o < op; o++)
            if (o->kind == OP_EXEC_LABEL && o->u.label.lsm == op->u.label.lsm)
                return fail(d, "a second %s label: at most one execLabel op per LSM", lsm_name(op->u.label.lsm));
    if (op->kind == OP_CAPABILITY_SETS) {
        const typeof(op->u.capsets) *c = &op->u.capsets;
        if (c->effective & ~c->permitted)
            return fail(d, "effective capabilities 0x%llx are not in the permitted set",
                        (unsigned long long)(c->effective & ~c->permitted));
        if (c->ambient & ~(c->permitted & c->inheritable))
            return fail(d, "ambient capabilities 0x%llx are not in both the permitted and the inheritable set",
                        (unsigned long long)(c->ambient & ~(c->permitted & c->inheritable)));
    }
    return true;
}

bool plan_validate(struct plan *p, char *err, size_t errlen)
{
    struct check c = { .plan = p, .err = err, .errlen = errlen };
    struct check *d = &c;
    enum phase last = PH_MONITOR;
    long first_mount = -1, last_mount = -1;
    for (uint32_t i = 0; i < p->nops; i++) {
        const struct op *op = &p->ops[i];
        enum phase ph = op_phase(op->kind);
        d->opi = i;
        if (ph < last)
            return fail(d, "a %s op cannot follow the %s phase: phases run in the order monitor, namespaces, "
                           "idmap, mount, hostname, rlimit, cgroup, user, capabilities, setsid, execLabel, noNewPrivs, "
                           "landlock, seccomp, exec", phase_name(ph), phase_name(last));
        last = ph;
        if (p->first[op->kind] != NULL && !repeatable(op->kind))
            return fail(d, "appears twice; it may appear once");
        if (p->first[op->kind] == NULL)
            p->first[op->kind] = op;
        if (ph == PH_MOUNT) {
            if (first_mount < 0)
                first_mount = i;
            last_mount = i;
            if (is_root_op(op->kind) && (long)i != first_mount)
                return fail(d, "the new root must be the first op of the mount phase");
        }
        if (op->kind == OP_JOIN_NAMESPACE) {
            if (p->joined & op->u.target.type)
                return fail(d, "the %s namespace is joined twice", ns_type_name(op->u.target.type));
            p->joined |= op->u.target.type;
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
        if (!is_root_op(p->ops[first_mount].kind))
            return fail(d, "the mount phase must begin with rootTmpfs, rootBind or rootfs");
        if (p->joined & NS_MOUNT)
            return fail(d, "a plan that joins a mount namespace has no mount ops");
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
        if (!check_new_op(d, op))
            return false;
    }
    return true;
}

