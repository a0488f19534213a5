/*
 * The little JSON the front needs (front_create.c): flat objects of strings, integers, booleans
 * and null, as the planner (src/oci-runtime/planner.ts) and the helper's status lines write them;
 * and a growable buffer to write them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

static void grow(struct buf *b, size_t more) {
  if (b->len + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) fail(1, "create", "out of memory");
  b->p = p, b->cap = cap;
}

void buf_add(struct buf *b, const char *s, size_t n) {
  grow(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void buf_fmt(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  grow(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void buf_str(struct buf *b, const char *s) {
  buf_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      buf_add(b, e, 2);
    } else if (c < 0x20) {
      buf_fmt(b, "\\u%04x", c);
    } else {
      buf_add(b, (const char *)&c, 1);
    }
  }
  buf_add(b, "\"", 1);
}

static char *skip(char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return p;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* The string at *pp (after its opening quote), unescaped in place; returns it, advances past it. */
static char *string_at(char **pp) {
  char *start = *pp, *r = *pp, *w = *pp;
  for (;;) {
    unsigned char c = (unsigned char)*r;
    if (c == '\0' || c < 0x20) return NULL;
    if (c == '"') break;
    if (c != '\\') {
      *w++ = *r++;
      continue;
    }
    r++;
    unsigned u;
    switch (*r) {
    case '"': case '\\': case '/': *w++ = *r; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u':
      if (hex4(r + 1, &u) < 0 || u == 0) return NULL;
      r += 4;
      if (u < 0x80) {
        *w++ = (char)u;
      } else if (u < 0x800) {
        *w++ = (char)(0xc0 | (u >> 6)), *w++ = (char)(0x80 | (u & 0x3f));
      } else {
        *w++ = (char)(0xe0 | (u >> 12)), *w++ = (char)(0x80 | ((u >> 6) & 0x3f)), *w++ = (char)(0x80 | (u & 0x3f));
      }
      break;
    default: return NULL;
    }
    r++;
  }
  *w = '\0';
  *pp = r + 1;
  return start;
}

int json_flat(char *line, struct jfield *f, int max) {
  char *p = skip(line);
  int n = 0;
  if (*p++ != '{') return -1;
  p = skip(p);
  if (*p == '}') return *skip(p + 1) ? -1 : 0;
  for (;;) {
    if (*p++ != '"' || n == max) return -1;
    struct jfield *x = &f[n++];
    memset(x, 0, sizeof *x);
    if (!(x->key = string_at(&p))) return -1;
    p = skip(p);
    if (*p++ != ':') return -1;
    p = skip(p);
    if (*p == '"') {
      p++;
      x->type = 's';
      if (!(x->str = string_at(&p))) return -1;
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      char *end;
      x->type = 'n';
      x->num = strtoll(p, &end, 10);
      if (end == p || *end == '.' || *end == 'e' || *end == 'E') return -1;
      p = end;
    } else if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
      x->type = 'b';
      x->num = *p == 't';
      p += *p == 't' ? 4 : 5;
    } else if (strncmp(p, "null", 4) == 0) {
      x->type = 'z';
      p += 4;
    } else {
      return -1; /* nested values are not part of this protocol */
    }
    p = skip(p);
    if (*p == '}') return *skip(p + 1) ? -1 : n;
    if (*p++ != ',') return -1;
    p = skip(p);
  }
}

const struct jfield *json_get(const struct jfield *f, int n, const char *key, char type) {
  for (int i = 0; i < n; i++)
    if (strcmp(f[i].key, key) == 0) return f[i].type == type ? &f[i] : NULL;
  return NULL;
}
