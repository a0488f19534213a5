/*
 * status.c: string buffers with JSON escaping, and the status lines (one JSON object per line, see
 * HelperStatus in src/helper/plan.ts) written to the status descriptor.
 *
 * The monitor, the sandbox init and the workload (before execve) all write to the same descriptor,
 * so each line goes out in one write(2) of at most STATUS_LINE_MAX bytes: below PIPE_BUF, a line is
 * never interleaved with another process's.  Long details are cut, never an escape or a UTF-8
 * sequence in half.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

#define STATUS_LINE_MAX 4000u

/* ---- string buffers ------------------------------------------------------------------------- */

void sb_fixed(struct sbuf *b, char *mem, size_t cap)
{
    *b = (struct sbuf){ .p = mem, .cap = cap };
}

void sb_dynamic(struct sbuf *b)
{
    *b = (struct sbuf){ .dynamic = true };
}

void sb_free(struct sbuf *b)
{
    if (b->dynamic)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends all of s[0..n) or, when it does not fit (a fixed buffer, or out of memory), nothing; after
 * the first miss nothing more is appended, so a cut buffer is always a prefix of the intended one. */
void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->dynamic && cap - b->len < n && cap < ((size_t)1 << 40))
            cap *= 2;
        char *p = b->dynamic && cap - b->len >= n ? realloc(b->p, cap) : NULL;
        if (p == NULL) {
            b->overflow = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void sb_puts(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string.  Bytes >= 0x80 go through as they are (the plan's strings came from JavaScript as
 * UTF-8); a multi-byte sequence is appended whole or not at all. */
void sb_json_str(struct sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c != 0;) {
        char esc[8];
        size_t n = 1;
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            sb_add(b, esc, 2);
        } else if (*c == '\n') {
            sb_add(b, "\\n", 2);
        } else if (*c == '\t') {
            sb_add(b, "\\t", 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            sb_add(b, esc, 6);
        } else {
            if (*c >= 0xc0)
                while (n < 4 && (c[n] & 0xc0) == 0x80)
                    n++;
            sb_add(b, (const char *)c, n);
        }
        c += n;
    }
    if (!b->overflow)
        sb_add(b, "\"", 1);
}

/* ---- status lines ----------------------------------------------------------------------------- */

static int status_out = -1;
static bool status_verbose;

void status_setup(int fd, bool verbose)
{
    status_out = fd;
    status_verbose = verbose;
}

int status_fd(void)
{
    return status_out;
}

/* A reader that closed its end (EPIPE: SIGPIPE is ignored) or, in detached mode, one that does not
 * read (EAGAIN) loses the line; the helper goes on either way. */
static void emit(const struct sbuf *b)
{
    if (status_out < 0)
        return;
    ssize_t n;
    do
        n = write(status_out, b->p, b->len);
    while (n < 0 && errno == EINTR);
}

/* Detached: nobody may be reading the status descriptor any more, and a full pipe must not stall the
 * monitor (lines are below PIPE_BUF, so each is written whole or not at all). */
void status_nonblocking(void)
{
    int fl = fcntl(status_out, F_GETFL);
    if (fl >= 0)
        fcntl(status_out, F_SETFL, fl | O_NONBLOCK);
}

/* {"kind":KIND,"step":STEP,<middle>"detail":"<fmt...>"}: the detail is cut to fit one line. */
static void emit_detail(const char *kind, const char *step, const char *middle, const char *fmt, va_list ap)
{
    char detail[STATUS_LINE_MAX], mem[STATUS_LINE_MAX];
    struct sbuf b;
    vsnprintf(detail, sizeof detail, fmt, ap);
    sb_fixed(&b, mem, sizeof mem - 8); /* room for the closing "}\n after a cut */
    sb_printf(&b, "{\"kind\":\"%s\",\"step\":\"%s\",%s\"detail\":", kind, step, middle);
    sb_json_str(&b, detail);
    if (b.overflow) {
        b.overflow = false;
        b.cap = sizeof mem;
        sb_add(&b, "\"", 1);
    }
    b.cap = sizeof mem;
    sb_add(&b, "}\n", 2);
    emit(&b);
}

int status_error(const char *step, int err, const char *fmt, ...)
{
    char middle[32];
    va_list ap;
    snprintf(middle, sizeof middle, "\"errno\":%d,", err);
    va_start(ap, fmt);
    emit_detail("error", step, middle, fmt, ap);
    va_end(ap);
    return -1;
}

void status_warning(const char *step, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_detail("warning", step, "", fmt, ap);
    va_end(ap);
}

void status_step(enum phase ph)
{
    char mem[128];
    struct sbuf b;
    if (!status_verbose)
        return;
    sb_fixed(&b, mem, sizeof mem);
    sb_printf(&b, "{\"kind\":\"step\",\"step\":\"%s\",\"ok\":true}\n", phase_name(ph));
    emit(&b);
}

void status_event(const char *kind, const char *field, long long value)
{
    char mem[128];
    struct sbuf b;
    sb_fixed(&b, mem, sizeof mem);
    sb_printf(&b, "{\"kind\":\"%s\",\"%s\":%lld}\n", kind, field, value);
    emit(&b);
}

void status_event2(const char *kind, const char *f1, long long v1, const char *f2, long long v2)
{
    char mem[160];
    struct sbuf b;
    sb_fixed(&b, mem, sizeof mem);
    sb_printf(&b, "{\"kind\":\"%s\",\"%s\":%lld,\"%s\":%lld}\n", kind, f1, v1, f2, v2);
    emit(&b);
}
