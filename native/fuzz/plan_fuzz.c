/*
 * plan_fuzz: a self-contained mutation fuzzer for the helper's plan decoder (native/helper/plan.c)
 * and its JSON rendering (plan_json.c).  Build it with the sanitizers, which abort on the first
 * out-of-bounds access, overflow, leak or undefined behaviour:
 *
 *   gcc -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
 *       -o plan_fuzz native/fuzz/plan_fuzz.c native/helper/plan.c native/helper/plan_ops.c \
 *       native/helper/plan_check.c native/helper/plan_json.c native/helper/status.c
 *
 *   plan_fuzz CORPUS_DIR [--seconds S] [--iterations N] [--seed N]
 *
 * Every file in CORPUS_DIR is a seed (valid plans, as the TypeScript encoder writes them).  Each
 * input is a seed (or an earlier mutant that decoded) with 1 to 8 mutations: bit flips, random and
 * boundary bytes, insertions, deletions, u32 length fields set to boundary values, op codes changed,
 * splices with another seed, duplicated chunks, truncation.  Half the time the header's total length
 * is fixed up afterwards so the input gets past that check into the ops.  Stops after N inputs or S
 * seconds (default 5), whichever comes first, and prints one JSON line:
 *   {"inputs":N,"decoded":D,"seeds":K}
 * Exit status 0; a sanitizer report aborts with a non-zero status.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helper/helper.h"

#define FUZZ_MAX_INPUT (1u << 20)
#define MAX_SEEDS 4096

struct blob { uint8_t *p; size_t n; };

static struct blob seeds[MAX_SEEDS];
static size_t nseeds, nfixed; /* the first nfixed are the corpus; the rest decoded mutants */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t below(size_t n) { return n == 0 ? 0 : (size_t)(rnd() % n); }

static void add_seed(const uint8_t *p, size_t n)
{
    size_t slot = nseeds < MAX_SEEDS ? nseeds++ : nfixed + below(MAX_SEEDS - nfixed);
    free(seeds[slot].p);
    seeds[slot].p = malloc(n ? n : 1);
    memcpy(seeds[slot].p, p, n);
    seeds[slot].n = n;
}

static void load_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL) {
        perror(dir);
        exit(2);
    }
    static uint8_t buf[FUZZ_MAX_INPUT];
    while ((e = readdir(d)) != NULL && nseeds < MAX_SEEDS / 2) {
        char path[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        add_seed(buf, n);
    }
    closedir(d);
    nfixed = nseeds;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void mutate(uint8_t *buf, size_t *len)
{
    static const uint32_t edges[] = { 0, 1, 2, 3, 4, 7, 8, 12, 13, 16, 64, 255, 4095, 4096, 4097, 65535, 65536,
                                      65537, 0x100000, 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    size_t n = *len, a, k;
    switch (below(9)) {
    case 0: /* flip a bit */
        if (n)
            buf[below(n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* a random or boundary byte */
        if (n)
            buf[below(n)] = below(2) ? (uint8_t)rnd() : (uint8_t[]){ 0, 1, 0x7f, 0x80, 0xff }[below(5)];
        break;
    case 2: /* insert bytes */
        k = 1 + below(16);
        if (n + k <= FUZZ_MAX_INPUT) {
            a = below(n + 1);
            memmove(buf + a + k, buf + a, n - a);
            for (size_t i = 0; i < k; i++)
                buf[a + i] = (uint8_t)rnd();
            n += k;
        }
        break;
    case 3: /* delete bytes */
        if (n) {
            a = below(n);
            k = 1 + below(n - a < 16 ? n - a : 16);
            memmove(buf + a, buf + a + k, n - a - k);
            n -= k;
        }
        break;
    case 4: /* a u32 (often a length or count) set to a boundary, or near what is left */
        if (n >= 4) {
            a = below(n - 3);
            uint32_t v = below(3) ? edges[below(sizeof edges / sizeof *edges)] : (uint32_t)(n - a - 4 + below(3) - 1);
            put_u32(buf + a, v);
        }
        break;
    case 5: /* an op code somewhere: a u16 from 0 to one past the last op */
        if (n >= 2) {
            a = below(n - 1);
            buf[a] = (uint8_t)below(OP_KIND_END + 1);
            buf[a + 1] = 0;
        }
        break;
    case 6: { /* splice: our prefix, another seed's suffix */
        const struct blob *o = &seeds[below(nseeds)];
        a = below(n + 1);
        size_t b = below(o->n + 1);
        if (a + (o->n - b) <= FUZZ_MAX_INPUT) {
            memcpy(buf + a, o->p + b, o->n - b);
            n = a + (o->n - b);
        }
        break;
    }
    case 7: /* duplicate a chunk elsewhere */
        if (n) {
            a = below(n);
            k = 1 + below(n - a < 64 ? n - a : 64);
            size_t at = below(n + 1);
            if (n + k <= FUZZ_MAX_INPUT) {
                uint8_t tmp[64];
                memcpy(tmp, buf + a, k);
                memmove(buf + at + k, buf + at, n - at);
                memcpy(buf + at, tmp, k);
                n += k;
            }
        }
        break;
    default: /* truncate */
        n = below(n + 1);
        break;
    }
    *len = n;
}

int main(int argc, char **argv)
{
    double seconds = 5;
    unsigned long long iterations = ~0ull, inputs = 0, decoded = 0;
    static uint8_t buf[FUZZ_MAX_INPUT];
    char err[1024];
    if (argc < 2) {
        fprintf(stderr, "usage: plan_fuzz CORPUS_DIR [--seconds S] [--iterations N] [--seed N]\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "--iterations") == 0)
            iterations = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            rng_state = strtoull(argv[i + 1], NULL, 10) | 1;
    }
    load_corpus(argv[1]);
    if (nseeds == 0) { /* a minimal plan: the header and one empty op */
        static const uint8_t minimal[] = { 'S', 'T', 'K', 'P', 1, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                                           19, 0, 0, 0, 0, 0, 0, 0 };
        add_seed(minimal, sizeof minimal);
        nfixed = 1;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (inputs < iterations) {
        if ((inputs & 255) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
                break;
        }
        const struct blob *s = &seeds[below(nseeds)];
        size_t len = s->n;
        memcpy(buf, s->p, len);
        for (size_t m = 1 + below(8); m > 0; m--)
            mutate(buf, &len);
        if (below(2) && len >= 12)
            put_u32(buf + 8, (uint32_t)len);
        struct plan plan;
        inputs++;
        if (plan_decode(buf, len, &plan, err, sizeof err) == 0) {
            struct sbuf out;
            sb_dynamic(&out);
            plan_render_json(&plan, &out);
            sb_free(&out);
            plan_free(&plan);
            decoded++;
            if (below(16) == 0)
                add_seed(buf, len);
        } else if (err[0] == 0) {
            fprintf(stderr, "plan_fuzz: a refused input came with no message\n");
            abort();
        }
    }
    printf("{\"inputs\":%llu,\"decoded\":%llu,\"seeds\":%zu}\n", inputs, decoded, nfixed);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].p);
    return 0;
}
