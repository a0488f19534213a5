/*
 * plan_json.c: the canonical JSON rendering of a decoded plan, printed by `stockade-helper --decode`.
 *
 * It has the shape of the TypeScript Plan (src/helper/plan.ts), so test/helper-protocol.test.ts can
 * compare what the helper decoded with what the encoder was given.  Canonical choices: 64-bit values
 * that JavaScript numbers cannot hold exactly (rlimits, Landlock masks) are decimal strings, the
 * seccomp program is lower-case hex, capabilities are a sorted list of numbers, rlimit resources are
 * names, namespace types are names, mount flags and capability sets are decimal strings, `verbose` and
 * `detached` are always present.  Keys come in a fixed order; nothing else varies.
 */
#include <inttypes.h>

#include "helper.h"

static void key(struct sbuf *b, const char *k)
{
    sb_printf(b, ",\"%s\":", k);
}

static void kstr(struct sbuf *b, const char *k, const char *v)
{
    key(b, k);
    sb_json_str(b, v);
}

static void kbool(struct sbuf *b, const char *k, bool v)
{
    sb_printf(b, ",\"%s\":%s", k, v ? "true" : "false");
}

static void knum(struct sbuf *b, const char *k, uint64_t v)
{
    sb_printf(b, ",\"%s\":%" PRIu64, k, v);
}

static void kbig(struct sbuf *b, const char *k, uint64_t v)
{
    sb_printf(b, ",\"%s\":\"%" PRIu64 "\"", k, v);
}

static void kstrs(struct sbuf *b, const char *k, char *const *v, uint32_t n)
{
    key(b, k);
    sb_puts(b, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0)
            sb_puts(b, ",");
        sb_json_str(b, v[i]);
    }
    sb_puts(b, "]");
}

static void render_landlock(struct sbuf *b, const struct op *op)
{
    const typeof(op->u.landlock) *l = &op->u.landlock;
    sb_printf(b, ",\"ruleset\":{\"abi\":%u", l->abi);
    kbig(b, "handledFs", l->fs);
    kbig(b, "handledNet", l->net);
    kbig(b, "scoped", l->scoped);
    sb_puts(b, ",\"paths\":[");
    for (uint32_t i = 0; i < l->npaths; i++) {
        sb_puts(b, i > 0 ? ",{\"path\":" : "{\"path\":");
        sb_json_str(b, l->paths[i].path);
        kbig(b, "access", l->paths[i].access);
        kbool(b, "optional", l->paths[i].optional);
        sb_puts(b, "}");
    }
    sb_puts(b, "],\"ports\":[");
    for (uint32_t i = 0; i < l->nports; i++) {
        sb_printf(b, "%s{\"port\":%u", i > 0 ? "," : "", l->ports[i].port);
        kbig(b, "access", l->ports[i].access);
        sb_puts(b, "}");
    }
    sb_puts(b, "]");
    kbool(b, "required", l->required);
    sb_puts(b, "}");
}

static void render_op(struct sbuf *b, const struct op *op)
{
    const typeof(op->u.mnt) *m = &op->u.mnt;
    sb_printf(b, "{\"op\":\"%s\"", op_name(op->kind));
    switch (op->kind) {
    case OP_NAMESPACES:
        sb_printf(b, ",\"ns\":{\"user\":%s", op->u.ns & NS_USER ? "true" : "false");
        kbool(b, "pid", op->u.ns & NS_PID);
        kbool(b, "mount", op->u.ns & NS_MOUNT);
        kbool(b, "net", op->u.ns & NS_NET);
        kbool(b, "uts", op->u.ns & NS_UTS);
        kbool(b, "ipc", op->u.ns & NS_IPC);
        kbool(b, "cgroup", op->u.ns & NS_CGROUP);
        sb_puts(b, "}");
        break;
    case OP_IDMAP:
        knum(b, "uidInside", op->u.idmap.uid_in);
        knum(b, "uidOutside", op->u.idmap.uid_out);
        knum(b, "uidCount", op->u.idmap.uid_count);
        knum(b, "gidInside", op->u.idmap.gid_in);
        knum(b, "gidOutside", op->u.idmap.gid_out);
        knum(b, "gidCount", op->u.idmap.gid_count);
        break;
    case OP_ROOT_TMPFS: case OP_PIVOT_ROOT: case OP_NO_NEW_PRIVS: case OP_KIND_END:
        break;
    case OP_ROOT_BIND:
        kstr(b, "source", m->source);
        break;
    case OP_BIND:
        kstr(b, "source", m->source);
        kstr(b, "target", m->target);
        kbool(b, "readOnly", m->flags & BIND_READ_ONLY);
        kbool(b, "optional", m->flags & BIND_OPTIONAL);
        kbool(b, "idmapRoot", m->flags & BIND_IDMAP_ROOT);
        break;
    case OP_TMPFS:
        kstr(b, "target", m->target);
        knum(b, "sizeBytes", m->size);
        knum(b, "mode", m->mode);
        break;
    case OP_PROC: case OP_DEV: case OP_HIDE: case OP_READ_ONLY:
        kstr(b, "target", m->target);
        break;
    case OP_MKDIR:
        kstr(b, "target", m->target);
        knum(b, "mode", m->mode);
        break;
    case OP_SYMLINK:
        kstr(b, "target", m->source);
        kstr(b, "linkPath", m->target);
        break;
    case OP_HOSTNAME:
        kstr(b, "name", op->u.hostname);
        break;
    case OP_RLIMIT:
        kstr(b, "resource", rlimit_name(op->u.rlimit.resource));
        kbig(b, "soft", op->u.rlimit.soft);
        kbig(b, "hard", op->u.rlimit.hard);
        break;
    case OP_CGROUP:
        kstrs(b, "procsFiles", op->u.cgroup.files, op->u.cgroup.n);
        break;
    case OP_USER:
        knum(b, "uid", op->u.user.uid);
        knum(b, "gid", op->u.user.gid);
        sb_puts(b, ",\"groups\":[");
        for (uint32_t i = 0; i < op->u.user.ngroups; i++)
            sb_printf(b, "%s%u", i > 0 ? "," : "", op->u.user.groups[i]);
        sb_puts(b, "]");
        break;
    case OP_CAPABILITIES: {
        bool first = true;
        sb_puts(b, ",\"keep\":[");
        for (unsigned cap = 0; cap < 64; cap++)
            if (op->u.keep >> cap & 1) {
                sb_printf(b, "%s%u", first ? "" : ",", cap);
                first = false;
            }
        sb_puts(b, "]");
        break;
    }
    case OP_SETSID:
        kbool(b, "terminal", op->u.terminal);
        break;
    case OP_LANDLOCK:
        render_landlock(b, op);
        break;
    case OP_SECCOMP:
        sb_puts(b, ",\"program\":\"");
        for (uint32_t i = 0; i < op->u.seccomp.len; i++)
            sb_printf(b, "%02x", op->u.seccomp.prog[i]);
        sb_puts(b, "\"");
        knum(b, "flags", op->u.seccomp.flags);
        kbool(b, "log", op->u.seccomp.log);
        break;
    case OP_EXEC:
        kstr(b, "path", op->u.exec.path);
        kstrs(b, "argv", op->u.exec.argv, op->u.exec.argc);
        kstrs(b, "env", op->u.exec.envp, op->u.exec.envc);
        kstr(b, "cwd", op->u.exec.cwd);
        break;
    case OP_START_GATE:
        kstr(b, "fifo", op->u.target.path);
        break;
    case OP_CONSOLE_SOCKET:
        kstr(b, "path", op->u.target.path);
        break;
    case OP_OOM_SCORE_ADJ:
        sb_printf(b, ",\"value\":%d", (int)op->u.oom_score_adj);
        break;
    case OP_JOIN_NAMESPACE:
        kstr(b, "type", ns_type_name(op->u.target.type));
        kstr(b, "path", op->u.target.path);
        break;
    case OP_ROOTFS:
        kstr(b, "source", m->source);
        kbool(b, "readOnly", m->flags & 1u);
        break;
    case OP_MOUNT:
        kstr(b, "source", op->u.mount.source);
        kstr(b, "target", op->u.mount.target);
        kstr(b, "fstype", op->u.mount.fstype);
        kbig(b, "flags", op->u.mount.flags);
        kbig(b, "propagation", op->u.mount.propagation);
        kstr(b, "data", op->u.mount.data);
        kstr(b, "kind", op->u.mount.kind == MOUNT_KIND_FILE ? "file" : "dir");
        break;
    case OP_SYSCTL:
        kstr(b, "key", op->u.sysctl.key);
        kstr(b, "value", op->u.sysctl.value);
        break;
    case OP_CAPABILITY_SETS:
        kbig(b, "bounding", op->u.capsets.bounding);
        kbig(b, "effective", op->u.capsets.effective);
        kbig(b, "permitted", op->u.capsets.permitted);
        kbig(b, "inheritable", op->u.capsets.inheritable);
        kbig(b, "ambient", op->u.capsets.ambient);
        break;
    case OP_SECCOMP_LISTENER:
        kstr(b, "path", op->u.listener.path);
        kstr(b, "metadata", op->u.listener.metadata);
        kstr(b, "state", op->u.listener.state);
        break;
    case OP_EXEC_LABEL:
        kstr(b, "lsm", lsm_name(op->u.label.lsm));
        kstr(b, "label", op->u.label.label);
        break;
    }
    sb_puts(b, "}");
}

void plan_render_json(const struct plan *p, struct sbuf *b)
{
    sb_printf(b, "{\"version\":%d,\"verbose\":%s,\"detached\":%s,%s\"wallTimeoutMs\":%" PRIu64 ",\"ops\":[",
              PLAN_VERSION, p->verbose ? "true" : "false", p->detached ? "true" : "false",
              p->workload_is_init ? "\"workloadIsInit\":true," : "", p->wall_timeout_ms);
    for (uint32_t i = 0; i < p->nops; i++) {
        if (i > 0)
            sb_puts(b, ",");
        render_op(b, &p->ops[i]);
    }
    sb_puts(b, "]}\n");
}
