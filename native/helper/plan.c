/*
 * plan.c: decoding the plan (format: docs/protocol.md): the arena, the bounds-checked readers and the
 * header; plan_ops.c decodes each op's body, plan_check.c then validates the plan whole.
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
#include "plan_dec.h"

/* ---- arena: everything a plan owns, freed at once ------------------------------------------- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *arena_alloc(struct arena *a, size_t n)
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


bool dec_fail(struct dec *d, const char *fmt, ...)
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

bool rd_take(struct dec *d, struct rd *r, size_t n, const char *what, const uint8_t **out)
{
    if (r->left < n) {
        dec_fail(d, "%s needs %zu bytes but only %zu are left", what, n, r->left);
        return false;
    }
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

bool rd_u8(struct dec *d, struct rd *r, const char *what, uint8_t *v)
{
    const uint8_t *b = NULL;
    if (!rd_take(d, r, 1, what, &b))
        return false;
    *v = b[0];
    return true;
}

bool rd_u16(struct dec *d, struct rd *r, const char *what, uint16_t *v)
{
    const uint8_t *b = NULL;
    if (!rd_take(d, r, 2, what, &b))
        return false;
    *v = (uint16_t)(b[0] | b[1] << 8);
    return true;
}

bool rd_u32(struct dec *d, struct rd *r, const char *what, uint32_t *v)
{
    const uint8_t *b = NULL;
    if (!rd_take(d, r, 4, what, &b))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

bool rd_u64(struct dec *d, struct rd *r, const char *what, uint64_t *v)
{
    uint32_t lo, hi;
    if (!rd_u32(d, r, what, &lo) || !rd_u32(d, r, what, &hi))
        return false;
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

bool rd_bool(struct dec *d, struct rd *r, const char *what, bool *v)
{
    uint8_t b;
    if (!rd_u8(d, r, what, &b))
        return false;
    if (b > 1)
        return dec_fail(d, "%s is %u; a boolean is 0 or 1", what, b);
    *v = b == 1;
    return true;
}

/* A u32 length, then that many bytes with no NUL; copied into the arena with a NUL appended. */
bool rd_str(struct dec *d, struct rd *r, const char *what, size_t max, char **out)
{
    uint32_t n;
    const uint8_t *b = NULL;
    if (!rd_u32(d, r, what, &n))
        return false;
    if (n > max)
        return dec_fail(d, "%s is %u bytes long; at most %zu are allowed", what, n, max);
    if (!rd_take(d, r, n, what, &b))
        return false;
    if (memchr(b, 0, n) != NULL)
        return dec_fail(d, "%s contains a NUL byte", what);
    char *s = arena_alloc(&d->plan->arena, (size_t)n + 1);
    if (s == NULL)
        return dec_fail(d, "out of memory");
    memcpy(s, b, n);
    s[n] = 0;
    *out = s;
    return true;
}

/* An absolute path, at most PATH_MAX - 1 bytes. */
bool rd_path(struct dec *d, struct rd *r, const char *what, char **out)
{
    if (!rd_str(d, r, what, PLAN_MAX_PATH, out))
        return false;
    if ((*out)[0] != '/')
        return dec_fail(d, "%s \"%s\" is not an absolute path", what, *out);
    return true;
}

/* A u32 count of elements that take at least `min_size` bytes each: checked before allocating. */
bool rd_count(struct dec *d, struct rd *r, const char *what, size_t min_size, uint32_t *n)
{
    if (!rd_u32(d, r, what, n))
        return false;
    if (*n > PLAN_MAX_LIST)
        return dec_fail(d, "%s is %u; at most %u are allowed", what, *n, PLAN_MAX_LIST);
    if ((size_t)*n * min_size > r->left)
        return dec_fail(d, "%s is %u but only %zu bytes are left", what, *n, r->left);
    return true;
}

void *alloc_array(struct dec *d, size_t n, size_t size)
{
    void *p = arena_alloc(&d->plan->arena, (n + 1) * size); /* +1: NULL-terminated string lists */
    if (p != NULL)
        memset(p, 0, (n + 1) * size);
    else
        dec_fail(d, "out of memory");
    return p;
}

bool rd_str_list(struct dec *d, struct rd *r, const char *what, bool paths, uint32_t *n, char ***out)
{
    if (!rd_count(d, r, what, 4, n) || (*out = alloc_array(d, *n, sizeof(char *))) == NULL)
        return false;
    for (uint32_t i = 0; i < *n; i++)
        if (!(paths ? rd_path(d, r, what, &(*out)[i]) : rd_str(d, r, what, PLAN_MAX_STRING, &(*out)[i])))
            return false;
    return true;
}

bool rd_mode(struct dec *d, struct rd *r, uint32_t *mode)
{
    if (!rd_u32(d, r, "mode", mode))
        return false;
    if (*mode > 07777)
        return dec_fail(d, "mode 0%o has bits beyond 07777", *mode);
    return true;
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
        dec_fail(&d, "the plan is %zu bytes; at most %u are allowed", len, PLAN_MAX_BYTES);
        return -1;
    }
    if (!rd_take(&d, &r, 4, "magic", &magic))
        return -1;
    if (memcmp(magic, PLAN_MAGIC, 4) != 0) {
        dec_fail(&d, "bad magic: this is not a stockade plan");
        return -1;
    }
    if (!rd_u16(&d, &r, "version", &version) || !rd_u16(&d, &r, "flags", &flags) || !rd_u32(&d, &r, "length", &total) ||
        !rd_u64(&d, &r, "wallTimeoutMs", &p->wall_timeout_ms) || !rd_u32(&d, &r, "op count", &p->nops))
        goto bad;
    if (version != PLAN_VERSION) {
        dec_fail(&d, "protocol version %u; this helper speaks version %u", version, PLAN_VERSION);
        goto bad;
    }
    if (flags & ~PLAN_FLAGS_KNOWN) {
        dec_fail(&d, "unknown flags 0x%x", flags & ~PLAN_FLAGS_KNOWN);
        goto bad;
    }
    if (total != len) {
        dec_fail(&d, "the plan says it is %u bytes long but %zu were read (truncated or padded)", total, len);
        goto bad;
    }
    p->verbose = flags & PLAN_FLAG_VERBOSE;
    p->detached = flags & PLAN_FLAG_DETACHED;
    p->workload_is_init = flags & PLAN_FLAG_WORKLOAD_IS_INIT;
    if (p->nops == 0 || p->nops > PLAN_MAX_OPS || (size_t)p->nops * 8 > r.left) {
        dec_fail(&d, "op count %u is not between 1 and %u, or more than %zu bytes can hold", p->nops, PLAN_MAX_OPS, r.left);
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
            dec_fail(&d, "unknown op code %u", kind);
            goto bad;
        }
        p->ops[i].kind = (enum op_kind)kind;
        if (reserved != 0) {
            dec_fail(&d, "the reserved field is %u, not 0", reserved);
            goto bad;
        }
        if (!rd_take(&d, &r, size, "op body", &body.p))
            goto bad;
        body.left = size;
        if (!decode_body(&d, &body, &p->ops[i]))
            goto bad;
        if (body.left != 0) {
            dec_fail(&d, "%zu bytes left over at the end of the op", body.left);
            goto bad;
        }
    }
    d.opi = -1;
    if (r.left != 0) {
        dec_fail(&d, "%zu bytes left over after the last op", r.left);
        goto bad;
    }
    if (!plan_validate(p, err, errlen))
        goto bad;
    return 0;
bad:
    plan_free(p);
    return -1;
}
