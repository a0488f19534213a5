/*
 * plan.c: decoding the plan (format: docs/protocol.md); plan_check.c then validates it whole.
 *
 * Pure code, no syscalls, so native/fuzz/plan_fuzz.c can run it millions of times under ASan and
 * UBSan.  Every read is checked against what is left of the enclosing op (or of the header); every
 * count is checked against the bytes that could hold it before anything is allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper.h"

/* ---- arena: everything a plan owns, freed at once ------------------------------------------- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    struct arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 65536u ? n : 65536u;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void plan_free(struct plan *p)
{
    struct arena_chunk *c = p->arena.head;
    while (c != NULL) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(p, 0, sizeof *p);
}

/* ---- bounds-checked reading ------------------------------------------------------------------ */

struct dec {
    struct plan *plan;
    char *err;
    size_t errlen;
    long opi; /* index of the op being decoded, -1 in the header */
};

struct rd {
    const uint8_t *p;
    size_t left;
};

static bool fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct dec *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->opi < 0)
        snprintf(d->err, d->errlen, "header: %s", msg);
    else
        snprintf(d->err, d->errlen, "op %ld (%s): %s", d->opi, op_name(d->plan->ops[d->opi].kind), msg);
    return false;
}

static bool take(struct dec *d, struct rd *r, size_t n, const char *what, const uint8_t **out)
{
    if (r->left < n) {
        fail(d, "%s needs %zu bytes but only %zu are left", what, n, r->left);
        return false;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static bool rd_u8(struct dec *d, struct rd *r, const char *what, uint8_t *v)
{
    const uint8_t *b = NULL;
    if (!take(d, r, 1, what, &b))
        return false;
    *v = b[0];
    return true;
}

static bool rd_u16(struct dec *d, struct rd *r, const char *what, uint16_t *v)
{
    const uint8_t *b = NULL;
    if (!take(d, r, 2, what, &b))
        return false;
    *v = (uint16_t)(b[0] | b[1] << 8);
    return true;
}

static bool rd_u32(struct dec *d, struct rd *r, const char *what, uint32_t *v)
{
    const uint8_t *b = NULL;
    if (!take(d, r, 4, what, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

static bool rd_u64(struct dec *d, struct rd *r, const char *what, uint64_t *v)
{
    uint32_t lo, hi;
    if (!rd_u32(d, r, what, &lo) || !rd_u32(d, r, what, &hi))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

static bool rd_bool(struct dec *d, struct rd *r, const char *what, bool *v)
{
    uint8_t b;
    if (!rd_u8(d, r, what, &b))
        return false;
    if (b > 1)
        return fail(d, "%s is %u; a boolean is 0 or 1", what, b);
    *v = b == 1;
    return true;
}

/* A u32 length, then that many bytes with no NUL; copied into the arena with a NUL appended. */
static bool rd_str(struct dec *d, struct rd *r, const char *what, size_t max, char **out)
{
    uint32_t n;
    const uint8_t *b = NULL;
    if (!rd_u32(d, r, what, &n))
        return false;
    if (n > max)
        return fail(d, "%s is %u bytes long; at most %zu are allowed", what, n, max);
    if (!take(d, r, n, what, &b))
        return false;
    if (memchr(b, 0, n) != NULL)
        return fail(d, "%s contains a NUL byte", what);
    char *s = arena_alloc(&d->plan->arena, (size_t)n + 1);
    if (s == NULL)
        return fail(d, "out of memory");
    memcpy(s, b, n);
    s[n] = 0;
    *out = s;
    return true;
}

/* An absolute path, at most PATH_MAX - 1 bytes. */
static bool rd_path(struct dec *d, struct rd *r, const char *what, char **out)
{
    if (!rd_str(d, r, what, PLAN_MAX_PATH, out))
        return false;
    if ((*out)[0] != '/')
        return fail(d, "%s \"%s\" is not an absolute path", what, *out);
    return true;
}

/* A u32 count of elements that take at least `min_size` bytes each: checked before allocating. */
static bool rd_count(struct dec *d, struct rd *r, const char *what, size_t min_size, uint32_t *n)
{
    if (!rd_u32(d, r, what, n))
        return false;
    if (*n > PLAN_MAX_LIST)
        return fail(d, "%s is %u; at most %u are allowed", what, *n, PLAN_MAX_LIST);
    if ((size_t)*n * min_size > r->left)
        return fail(d, "%s is %u but only %zu bytes are left", what, *n, r->left);
    return true;
}

static void *alloc_array(struct dec *d, size_t n, size_t size)
{
    void *p = arena_alloc(&d->plan->arena, (n + 1) * size); /* +1: NULL-terminated string lists */
    if (p != NULL)
        memset(p, 0, (n + 1) * size);
    else
        fail(d, "out of memory");
    return p;
}

static bool rd_str_list(struct dec *d, struct rd *r, const char *what, bool paths, uint32_t *n, char ***out)
{
    if (!rd_count(d, r, what, 4, n) || (*out = alloc_array(d, *n, sizeof(char *))) == NULL)
        return false;
    for (uint32_t i = 0; i < *n; i++)
        if (!(paths ? rd_path(d, r, what, &(*out)[i]) : rd_str(d, r, what, PLAN_MAX_STRING, &(*out)[i])))
            return false;
    return true;
}

static bool rd_mode(struct dec *d, struct rd *r, uint32_t *mode)
{
    if (!rd_u32(d, r, "mode", mode))
        return false;
    if (*mode > 07777)
        return fail(d, "mode 0%o has bits beyond 07777", *mode);
    return true;
}

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
            return fail(d, "port %u is not a TCP port", l->ports[i].port);
    }
    return true;
}

static bool decode_body(struct dec *d, struct rd *r, struct op *op)
{
    typeof(op->u.mnt) *m = &op->u.mnt;
    switch (op->kind) {
    case OP_NAMESPACES:
        if (!rd_u32(d, r, "namespace set", &op->u.ns))
            return false;
        if (op->u.ns & ~NS_ALL)
            return fail(d, "unknown namespace bits 0x%x", op->u.ns & ~NS_ALL);
        return true;
    case OP_IDMAP: {
        typeof(op->u.idmap) *im = &op->u.idmap;
        if (!rd_u32(d, r, "uidInside", &im->uid_in) || !rd_u32(d, r, "uidOutside", &im->uid_out) ||
            !rd_u32(d, r, "uidCount", &im->uid_count) || !rd_u32(d, r, "gidInside", &im->gid_in) ||
            !rd_u32(d, r, "gidOutside", &im->gid_out) || !rd_u32(d, r, "gidCount", &im->gid_count))
            return false;
        if (im->uid_count == 0 || im->gid_count == 0)
            return fail(d, "an id range of length 0 maps nothing");
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
            return fail(d, "unknown bind flags 0x%x", m->flags);
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
        return m->source[0] != 0 || fail(d, "the link target is empty");
    case OP_HOSTNAME:
        if (!rd_str(d, r, "hostname", 64, &op->u.hostname))
            return false;
        return op->u.hostname[0] != 0 || fail(d, "the hostname is empty");
    case OP_RLIMIT:
        if (!rd_u32(d, r, "resource", &op->u.rlimit.resource) || !rd_u64(d, r, "soft", &op->u.rlimit.soft) ||
            !rd_u64(d, r, "hard", &op->u.rlimit.hard))
            return false;
        return op->u.rlimit.resource < 16 || fail(d, "resource %u is not an RLIMIT_*", op->u.rlimit.resource);
    case OP_CGROUP:
        if (!rd_str_list(d, r, "procsFiles", true, &op->u.cgroup.n, &op->u.cgroup.files))
            return false;
        return op->u.cgroup.n > 0 || fail(d, "no cgroup.procs file");
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
            return fail(d, "a program of %u bytes is not 1 to %u instructions of 8 bytes", s->len, PLAN_MAX_BPF_INSNS);
        if (!take(d, r, s->len, "program", &b))
            return false;
        if ((s->prog = arena_alloc(&d->plan->arena, s->len)) == NULL)
            return fail(d, "out of memory");
        memcpy(s->prog, b, s->len);
        return true;
    }
    case OP_EXEC: {
        typeof(op->u.exec) *e = &op->u.exec;
        if (!rd_str(d, r, "path", PLAN_MAX_PATH, &e->path) || !rd_str_list(d, r, "argv", false, &e->argc, &e->argv) ||
            !rd_str_list(d, r, "env", false, &e->envc, &e->envp) || !rd_path(d, r, "cwd", &e->cwd))
            return false;
        return e->path[0] != 0 || fail(d, "the program path is empty");
    }
    case OP_KIND_END:
        break;
    }
    return fail(d, "unknown op");
}

/* ---- entry ----------------------------------------------------------------------------------- */

int plan_decode(const uint8_t *buf, size_t len, struct plan *p, char *err, size_t errlen)
{
    struct dec d = { .plan = p, .err = err, .errlen = errlen, .opi = -1 };
    struct rd r = { .p = buf, .left = len };
    const uint8_t *magic = NULL;
    uint16_t version, flags;
    uint32_t total;
    memset(p, 0, sizeof *p);
    err[0] = 0;
    if (len > PLAN_MAX_BYTES) {
        fail(&d, "the plan is %zu bytes; at most %u are allowed", len, PLAN_MAX_BYTES);
        return -1;
    }
    if (!take(&d, &r, 4, "magic", &magic))
        return -1;
    if (memcmp(magic, PLAN_MAGIC, 4) != 0) {
        fail(&d, "bad magic: this is not a stockade plan");
        return -1;
    }
    if (!rd_u16(&d, &r, "version", &version) || !rd_u16(&d, &r, "flags", &flags) || !rd_u32(&d, &r, "length", &total) ||
        !rd_u64(&d, &r, "wallTimeoutMs", &p->wall_timeout_ms) || !rd_u32(&d, &r, "op count", &p->nops))
        goto bad;
    if (version != PLAN_VERSION) {
        fail(&d, "protocol version %u; this helper speaks version %u", version, PLAN_VERSION);
        goto bad;
    }
    if (flags & ~PLAN_FLAG_VERBOSE) {
        fail(&d, "unknown flags 0x%x", flags & ~PLAN_FLAG_VERBOSE);
        goto bad;
    }
    if (total != len) {
        fail(&d, "the plan says it is %u bytes long but %zu were read (truncated or padded)", total, len);
        goto bad;
    }
    p->verbose = flags & PLAN_FLAG_VERBOSE;
    if (p->nops == 0 || p->nops > PLAN_MAX_OPS || (size_t)p->nops * 8 > r.left) {
        fail(&d, "op count %u is not between 1 and %u, or more than %zu bytes can hold", p->nops, PLAN_MAX_OPS, r.left);
        goto bad;
    }
    if ((p->ops = alloc_array(&d, p->nops, sizeof *p->ops)) == NULL)
        goto bad;
    for (uint32_t i = 0; i < p->nops; i++) {
        uint16_t kind, reserved;
        uint32_t size;
        struct rd body;
        d.opi = -1;
        if (!rd_u16(&d, &r, "op code", &kind) || !rd_u16(&d, &r, "op reserved field", &reserved) ||
            !rd_u32(&d, &r, "op length", &size))
            goto bad;
        d.opi = i;
        if (kind == 0 || kind >= OP_KIND_END) {
            p->ops[i].kind = OP_KIND_END;
            fail(&d, "unknown op code %u", kind);
            goto bad;
        }
        p->ops[i].kind = (enum op_kind)kind;
        if (reserved != 0) {
            fail(&d, "the reserved field is %u, not 0", reserved);
            goto bad;
        }
        if (!take(&d, &r, size, "op body", &body.p))
            goto bad;
        body.left = size;
        if (!decode_body(&d, &body, &p->ops[i]))
            goto bad;
        if (body.left != 0) {
            fail(&d, "%zu bytes left over at the end of the op", body.left);
            goto bad;
        }
    }
    d.opi = -1;
    if (r.left != 0) {
        fail(&d, "%zu bytes left over after the last op", r.left);
        goto bad;
    }
    if (!plan_validate(p, err, errlen))
        goto bad;
    return 0;
bad:
    plan_free(p);
    return -1;
}
