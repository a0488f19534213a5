/*
 * recorder_btf.c (ebpf-recorder): kernel layouts, from BTF: the offset of a struct member, read
 * from the kernel's own type information.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/btf.h>
#include "ebpf_recorder.h"

/* The byte offset of `member` in `struct sname`, from the kernel's own type information
 * (/sys/kernel/btf/vmlinux); exits when the kernel has none or the member is not found. */
static size_t btf_size;
static uint8_t *btf;
int btf_member_offset(const char *sname, const char *member) {
  static const char *path = "/sys/kernel/btf/vmlinux";
  if (!btf) {
    FILE *f = fopen(path, "rb");
    if (!f) fail(errno, "open %s (the kernel's BTF, CONFIG_DEBUG_INFO_BTF)", path);
    size_t cap = 1 << 20;
    btf = malloc(cap);
    need(btf != NULL, "out of memory");
    for (size_t n; (n = fread(btf + btf_size, 1, cap - btf_size, f)) > 0;) {
      btf_size += n;
      if (btf_size == cap) { btf = realloc(btf, cap *= 2); need(btf != NULL, "out of memory"); }
    }
    fclose(f);
  }
  const struct btf_header *h = (const void *)btf;
  need(btf_size >= sizeof *h && h->magic == BTF_MAGIC && h->hdr_len + (size_t)h->type_off + h->type_len <= btf_size &&
       h->hdr_len + (size_t)h->str_off + h->str_len <= btf_size, "/sys/kernel/btf/vmlinux: not BTF");
  const uint8_t *types = btf + h->hdr_len + h->type_off;
  const char *strs = (const char *)btf + h->hdr_len + h->str_off;
  for (uint32_t off = 0; off + sizeof(struct btf_type) <= h->type_len;) {
    const struct btf_type *t = (const void *)(types + off);
    unsigned kind = BTF_INFO_KIND(t->info), vlen = BTF_INFO_VLEN(t->info);
    size_t extra = 0;
    switch (kind) {
      case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: extra = 4; break;
      case BTF_KIND_ARRAY: extra = 12; break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_ENUM64: extra = 12 * (size_t)vlen; break;
      case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO: extra = 8 * (size_t)vlen; break;
      default: break;
    }
    need(off + sizeof *t + extra <= h->type_len, "/sys/kernel/btf/vmlinux: truncated type");
    if (kind == BTF_KIND_STRUCT && t->name_off < h->str_len && strcmp(strs + t->name_off, sname) == 0) {
      const struct btf_member *m = (const void *)(t + 1);
      for (unsigned i = 0; i < vlen; i++) {
        if (m[i].name_off >= h->str_len || strcmp(strs + m[i].name_off, member) != 0) continue;
        uint32_t bits = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
        need(bits % 8 == 0, "BTF: a bit-field member");
        return (int)(bits / 8);
      }
    }
    off += (uint32_t)(sizeof *t + extra);
  }
  fprintf(stderr, "ebpf-recorder: /sys/kernel/btf/vmlinux: no member %s in struct %s\n", member, sname);
  exit(1);
}
