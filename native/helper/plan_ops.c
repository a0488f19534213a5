/*
 * plan_ops.c: decoding the body of each op (format: docs/protocol.md), with the readers of plan.c.
 * Pure code, no syscalls (fuzzed).  Each body is read from its own bounded reader: nothing here can
 * read past the op.
 */
#include <stdio.h>
#include <string.h>

#include "helper.h"
#include "plan_dec.h"

/* ---- ops ------------------------------------------------------------------------------------- */

static bool decode_landlock(struct dec *d, struct rd *r, struct op *op)
{
    typeof(op->u.landlock) *l = &op->u.landlock;
    if (!rd_u32(d, r, "abi", &l->abi) || !rd_bool(d, r, "required", &l->required) ||
        !rd_u64(d, r, "handledFs", &l->fs) || !rd_u64(d, r, "handledNet", &l->net) ||
        !rd_u64(d, r, "scoped", &l->scoped))
        return false;
    if (!rd_count(d, r, "path rule count", 13, &l->npaths) ||
        (l->paths = alloc_array(d, l->npaths, sizeof *l->paths)) == NULL)
        return false;
    for (uint32_t i = 0; i < l->npaths; i++)
        if (!rd_path(d, r, "path rule", &l->paths[i].path) || !rd_u64(d, r, "path access", &l->paths[i].access) ||
            !rd_bool(d, r, "path optional", &l->paths[i].optional))
            return false;
    if (!rd_count(d, r, "port rule count", 12, &l->nports) ||
        (l->ports = alloc_array(d, l->nports, sizeof *l->ports)) == NULL)
        return false;
    for (uint32_t i = 0; i < l->nports; i++) {
        if (!rd_u32(d, r, "port", &l->ports[i].port) || !rd_u64(d, r, "port access", &l->ports[i].access))
            return false;
        if (l->ports[i].port > 65535)
            return dec_fail(d, "port %u is not a TCP port", l->ports[i].port);
    }
    return true;
}

/* The mount op: a bind's source is a host path; other sources are free strings ("proc", "tmpfs"). */
static bool decode_mount(struct dec *d, struct rd *r, struct op *op)
{
    typeof(op->u.mount) *m = &op->u.mount;
    if (!rd_str(d, r, "source", PLAN_MAX_PATH, &m->source) || !rd_path(d, r, "target", &m->target) ||
        !rd_str(d, r, "fstype", 255, &m->fstype) || !rd_u64(d, r, "flags", &m->flags) ||
        !rd_u64(d, r, "propagation", &m->propagation) || !rd_str(d, r, "data", PLAN_MAX_PATH, &m->data) ||
        !rd_u8(d, r, "kind", &m->kind))
        return false;
    if (m->kind > MOUNT_KIND_FILE)
        return dec_fail(d, "kind is %u; 0 (dir) or 1 (file)", m->kind);
    if (m->flags & ~MNT_FLAGS_KNOWN)
        return dec_fail(d, "flags 0x%llx are not MS_* flags a mount op takes (MS_REMOUNT, MS_MOVE and propagation "
                       "types are refused)", (unsigned long long)(m->flags & ~MNT_FLAGS_KNOWN));
    uint64_t type = m->propagation & ~MNT_MS_REC;
    if (m->propagation != 0 && (type == 0 || (type & (type - 1)) != 0 || (type & ~MNT_PROPAGATION_TYPES)))
        return dec_fail(d, "propagation 0x%llx is not one of MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE "
                       "(optionally | MS_REC)", (unsigned long long)m->propagation);
    if (m->flags & MNT_MS_BIND) {
        if (m->source[0] != '/')
            return dec_fail(d, "bind source \"%s\" is not an absolute path", m->source);
        if (m->flags & ~MNT_BIND_FLAGS)
            return dec_fail(d, "flags 0x%llx do not apply to a bind (superblock flags)",
                        (unsigned long long)(m->flags & ~MNT_BIND_FLAGS));
    } else if (m->fstype[0] == 0) {
        return dec_fail(d, "a mount that is not a bind needs an fstype");
    }
    return true;
}

/* A sysctl key: dot-separated names, no slash, no empty, "." or ".." component. */
static bool decode_sysctl(struct dec *d, struct rd *r, struct op *op)
{
    if (!rd_str(d, r, "key", 255, &op->u.sysctl.key) || !rd_str(d, r, "value", PLAN_MAX_PATH, &op->u.sysctl.value))
        return false;
    const char *k = op->u.sysctl.key;
    size_t n = strlen(k);
    if (n == 0 || strchr(k, '/') != NULL || k[0] == '.' || k[n - 1] == '.' || strstr(k, "..") != NULL)
        return dec_fail(d, "sysctl key \"%s\" is not dot-separated names (no '/', no empty or '..' component)", k);
    return true;
}

/* execLabel: an LSM and a label of 1 to 4095 bytes without control characters (it is written to a
 * /proc attr file, where a newline would end it). */
static bool decode_exec_label(struct dec *d, struct rd *r, struct op *op)
{
    typeof(op->u.label) *l = &op->u.label;
    if (!rd_u32(d, r, "lsm", &l->lsm) || !rd_str(d, r, "label", PLAN_MAX_PATH, &l->label))
        return false;
    if (l->lsm != LSM_APPARMOR && l->lsm != LSM_SELINUX)
        return dec_fail(d, "lsm %u is not 1 (apparmor) or 2 (selinux)", l->lsm);
    if (l->label[0] == 0)
        return dec_fail(d, "the label is empty");
    for (const char *c = l->label; *c != 0; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return dec_fail(d, "the label contains the control character 0x%02x", (unsigned)(unsigned char)*c);
    return true;
}

bool decode_body(struct dec *d, struct rd *r, struct op *op)
{
    typeof(op->u.mnt) *m = &op->u.mnt;
    switch (op->kind) {
    case OP_NAMESPACES:
        if (!rd_u32(d, r, "namespace set", &op->u.ns))
            return false;
        if (op->u.ns & ~NS_ALL)
            return dec_fail(d, "unknown namespace bits 0x%x", op->u.ns & ~NS_ALL);
        return true;
    case OP_IDMAP: {
        typeof(op->u.idmap) *im = &op->u.idmap;
        if (!rd_u32(d, r, "uidInside", &im->uid_in) || !rd_u32(d, r, "uidOutside", &im->uid_out) ||
            !rd_u32(d, r, "uidCount", &im->uid_count) || !rd_u32(d, r, "gidInside", &im->gid_in) ||
            !rd_u32(d, r, "gidOutside", &im->gid_out) || !rd_u32(d, r, "gidCount", &im->gid_count))
            return false;
        if (im->uid_count == 0 || im->gid_count == 0)
            return dec_fail(d, "an id range of length 0 maps nothing");
        return true;
    }
    case OP_ROOT_TMPFS: case OP_PIVOT_ROOT: case OP_NO_NEW_PRIVS:
        return true;
    case OP_ROOT_BIND:
        return rd_path(d, r, "source", &m->source);
    case OP_BIND:
        if (!rd_path(d, r, "source", &m->source) || !rd_path(d, r, "target", &m->target) ||
            !rd_u32(d, r, "bind flags", &m->flags))
            return false;
        if (m->flags & ~(BIND_READ_ONLY | BIND_OPTIONAL | BIND_IDMAP_ROOT))
            return dec_fail(d, "unknown bind flags 0x%x", m->flags);
        return true;
    case OP_TMPFS:
        return rd_path(d, r, "target", &m->target) && rd_u64(d, r, "sizeBytes", &m->size) && rd_mode(d, r, &m->mode);
    case OP_PROC: case OP_DEV: case OP_HIDE: case OP_READ_ONLY:
        return rd_path(d, r, "target", &m->target);
    case OP_MKDIR:
        return rd_path(d, r, "target", &m->target) && rd_mode(d, r, &m->mode);
    case OP_SYMLINK:
        if (!rd_str(d, r, "link target", PLAN_MAX_PATH, &m->source) || !rd_path(d, r, "linkPath", &m->target))
            return false;
        return m->source[0] != 0 || dec_fail(d, "the link target is empty");
    case OP_HOSTNAME:
        if (!rd_str(d, r, "hostname", 64, &op->u.hostname))
            return false;
        return op->u.hostname[0] != 0 || dec_fail(d, "the hostname is empty");
    case OP_RLIMIT:
        if (!rd_u32(d, r, "resource", &op->u.rlimit.resource) || !rd_u64(d, r, "soft", &op->u.rlimit.soft) ||
            !rd_u64(d, r, "hard", &op->u.rlimit.hard))
            return false;
        return op->u.rlimit.resource < 16 || dec_fail(d, "resource %u is not an RLIMIT_*", op->u.rlimit.resource);
    case OP_CGROUP:
        if (!rd_str_list(d, r, "procsFiles", true, &op->u.cgroup.n, &op->u.cgroup.files))
            return false;
        return op->u.cgroup.n > 0 || dec_fail(d, "no cgroup.procs file");
    case OP_USER: {
        typeof(op->u.user) *u = &op->u.user;
        if (!rd_u32(d, r, "uid", &u->uid) || !rd_u32(d, r, "gid", &u->gid) ||
            !rd_count(d, r, "group count", 4, &u->ngroups) ||
            (u->groups = alloc_array(d, u->ngroups, sizeof *u->groups)) == NULL)
            return false;
        for (uint32_t i = 0; i < u->ngroups; i++)
            if (!rd_u32(d, r, "group", &u->groups[i]))
                return false;
        return true;
    }
    case OP_CAPABILITIES:
        return rd_u64(d, r, "keep", &op->u.keep);
    case OP_SETSID:
        return rd_bool(d, r, "terminal", &op->u.terminal);
    case OP_LANDLOCK:
        return decode_landlock(d, r, op);
    case OP_SECCOMP: {
        typeof(op->u.seccomp) *s = &op->u.seccomp;
        const uint8_t *b = NULL;
        if (!rd_u32(d, r, "flags", &s->flags) || !rd_bool(d, r, "log", &s->log) || !rd_u32(d, r, "program length", &s->len))
            return false;
        if (s->len == 0 || s->len % 8 != 0 || s->len / 8 > PLAN_MAX_BPF_INSNS)
            return dec_fail(d, "a program of %u bytes is not 1 to %u instructions of 8 bytes", s->len, PLAN_MAX_BPF_INSNS);
        if (!rd_take(d, r, s->len, "program", &b))
            return false;
        if ((s->prog = arena_alloc(&d->plan->arena, s->len)) == NULL)
            return dec_fail(d, "out of memory");
        memcpy(s->prog, b, s->len);
        return true;
    }
    case OP_EXEC: {
        typeof(op->u.exec) *e = &op->u.exec;
        if (!rd_str(d, r, "path", PLAN_MAX_PATH, &e->path) || !rd_str_list(d, r, "argv", false, &e->argc, &e->argv) ||
            !rd_str_list(d, r, "env", false, &e->envc, &e->envp) || !rd_path(d, r, "cwd", &e->cwd))
            return false;
        return e->path[0] != 0 || dec_fail(d, "the program path is empty");
    }
    case OP_START_GATE:
        return rd_path(d, r, "fifo", &op->u.target.path);
    case OP_CONSOLE_SOCKET:
        return rd_path(d, r, "path", &op->u.target.path);
    case OP_OOM_SCORE_ADJ: {
        uint32_t v;
        if (!rd_u32(d, r, "value", &v))
            return false;
        op->u.oom_score_adj = (int32_t)v;
        if (op->u.oom_score_adj < -1000 || op->u.oom_score_adj > 1000)
            return dec_fail(d, "value %d is not from -1000 to 1000", op->u.oom_score_adj);
        return true;
    }
    case OP_JOIN_NAMESPACE: {
        uint32_t t;
        if (!rd_u32(d, r, "type", &t) || !rd_path(d, r, "path", &op->u.target.path))
            return false;
        op->u.target.type = t;
        if (t != NS_PID && t != NS_MOUNT && t != NS_NET && t != NS_UTS && t != NS_IPC && t != NS_CGROUP)
            return dec_fail(d, "type 0x%x is not one of pid 2, mount 4, net 8, uts 16, ipc 32, cgroup 64", t);
        return true;
    }
    case OP_ROOTFS: {
        bool ro;
        if (!rd_path(d, r, "source", &m->source) || !rd_bool(d, r, "readOnly", &ro))
            return false;
        m->flags = ro ? 1u : 0u;
        return true;
    }
    case OP_MOUNT:
        return decode_mount(d, r, op);
    case OP_SYSCTL:
        return decode_sysctl(d, r, op);
    case OP_CAPABILITY_SETS: {
        typeof(op->u.capsets) *c = &op->u.capsets;
        return rd_u64(d, r, "bounding", &c->bounding) && rd_u64(d, r, "effective", &c->effective) &&
               rd_u64(d, r, "permitted", &c->permitted) && rd_u64(d, r, "inheritable", &c->inheritable) &&
               rd_u64(d, r, "ambient", &c->ambient);
    }
    case OP_SECCOMP_LISTENER: {
        typeof(op->u.listener) *l = &op->u.listener;
        if (!rd_path(d, r, "path", &l->path) || !rd_str(d, r, "metadata", PLAN_MAX_STRING, &l->metadata) ||
            !rd_str(d, r, "state", PLAN_MAX_STRING, &l->state))
            return false;
        size_t n = strlen(l->state);
        return (n >= 2 && l->state[0] == '{' && l->state[n - 1] == '}') ||
               dec_fail(d, "the state is not a JSON object ({...})");
    }
    case OP_EXEC_LABEL:
        return decode_exec_label(d, r, op);
    case OP_KIND_END:
        break;
    }
    return dec_fail(d, "unknown op");
}

