/*
 * plan_dec.h: the bounds-checked readers of plan.c, shared with plan_ops.c (op bodies).  Pure code,
 * no syscalls (fuzzed with native/fuzz/plan_fuzz.c).
 */
#ifndef STOCKADE_PLAN_DEC_H
#define STOCKADE_PLAN_DEC_H

#include "helper.h"

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

void *arena_alloc(struct arena *a, size_t n);
bool dec_fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool rd_take(struct dec *d, struct rd *r, size_t n, const char *what, const uint8_t **out);
bool rd_u8(struct dec *d, struct rd *r, const char *what, uint8_t *v);
bool rd_u16(struct dec *d, struct rd *r, const char *what, uint16_t *v);
bool rd_u32(struct dec *d, struct rd *r, const char *what, uint32_t *v);
bool rd_u64(struct dec *d, struct rd *r, const char *what, uint64_t *v);
bool rd_bool(struct dec *d, struct rd *r, const char *what, bool *v);
bool rd_str(struct dec *d, struct rd *r, const char *what, size_t max, char **out);
bool rd_path(struct dec *d, struct rd *r, const char *what, char **out);
bool rd_count(struct dec *d, struct rd *r, const char *what, size_t min_size, uint32_t *n);
void *alloc_array(struct dec *d, size_t n, size_t size);
bool rd_str_list(struct dec *d, struct rd *r, const char *what, bool paths, uint32_t *n, char ***out);
bool rd_mode(struct dec *d, struct rd *r, uint32_t *mode);
bool decode_body(struct dec *d, struct rd *r, struct op *op);

#endif
