/*
 * device-filter: enforces OCI device rules (linux.resources.devices) on a cgroup v2 directory by
 * attaching a BPF_PROG_TYPE_CGROUP_DEVICE program, hand-assembled (no libbpf/clang).
 *
 *   device-filter --cgroup DIR RULE...
 *
 * RULE is one argument of five space-separated fields, in OCI order:
 *   TYPE MAJOR MINOR ACCESS VERDICT    TYPE a|b|c, MAJOR and MINOR a number or *, ACCESS a
 *                                      non-empty subset of "rwm", VERDICT allow|deny
 * e.g. "a * * rwm deny" "c 1 3 rwm allow". Type a matches block and char devices (a number given
 * with it still has to match).
 *
 * Semantics: later rules override earlier ones, decided per access bit. For each bit the request
 * asks for (m, r, w), the last rule that matches the device and names that bit decides it; a bit
 * no rule names is denied. The request is allowed only if every bit it asks for is allowed. (An
 * open for O_RDWR asks for r and w; mknod asks for m.)
 *
 * Loads the program, attaches it to DIR (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) and exits 0: the
 * attachment lives as long as the cgroup. It applies to every task in DIR and below, together with
 * any program attached above (all must allow). Errors: one line on stderr naming the step, exit 1
 * (a verifier rejection adds the verifier log's last lines); usage errors exit 2.
 *
 * The program (context struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }):
 *
 *   r2 = ctx->access_type; r3 = r2 >> 16 (requested access bits, "left"); r2 &= 0xffff (type)
 *   r4 = ctx->major; r5 = ctx->minor
 *   if r3 == 0 goto deny
 *   for each rule, last to first:                     (a check is left out when the field is a wildcard)
 *     if r2 != TYPE goto next
 *     if r4 != MAJOR goto next                        (a number above INT32_MAX: ld64 r0 + a register compare)
 *     if r5 != MINOR goto next
 *     r0 = r3; r0 &= ACC; if r0 == 0 goto next        (left out for rwm: r3 is never 0 here)
 *     deny rule:  r0 = 0; exit
 *     allow rule: r3 &= ~ACC; if r3 == 0 goto allow   (rwm: goto allow)
 *   next:
 *   deny:  r0 = 0; exit                               (reached by the r3 == 0 test, or no rule decided)
 *   allow: r0 = 1; exit                               (emitted only if a rule jumps to it)
 *
 * A rule that matches everything (type a, both wildcards, rwm) decides every request, so the rules
 * before it are not emitted (the verifier rejects unreachable instructions).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#define MAX_RULES 2048
/* Per rule at most: type 1 + major 3 + minor 3 + access 3 + verdict 2 = 12 instructions, 5 jumps. */
#define MAX_INSNS (16 + 12 * MAX_RULES)
#define MAX_LABELS (8 + 6 * MAX_RULES)
#define LOG_TAIL_LINES 20
enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, FP };

/* Values of struct bpf_cgroup_dev_ctx's fields (linux/bpf.h names them too; spelled out for old headers). */
#define DEV_BLOCK 1
#define DEV_CHAR 2
#define ACC_MKNOD 1
#define ACC_READ 2
#define ACC_WRITE 4
#define ACC_ALL (ACC_MKNOD | ACC_READ | ACC_WRITE)
#define CTX_ACCESS_TYPE 0
#define CTX_MAJOR 4
#define CTX_MINOR 8

static void need(int ok, const char *what) {
  if (!ok) { fprintf(stderr, "device-filter: %s\n", what); exit(1); }
}

#include "../recorder/bpf_asm.h" /* the assembler: instruction macros, labels, ld64 */

#define WILD (-1L)
struct rule {
  int type; /* 0 = any (a), DEV_BLOCK, DEV_CHAR */
  long major, minor; /* WILD or 0..UINT32_MAX */
  int access; /* ACC_* bits, non-zero */
  int allow;
};

static struct rule rules[MAX_RULES];
static int nrules;
static struct prog prog;
static char vlog[1 << 22];

__attribute__((format(printf, 1, 2))) static void usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "device-filter: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nusage: device-filter --cgroup DIR RULE...\n"
                  "  RULE: \"TYPE MAJOR MINOR ACCESS VERDICT\", TYPE a|b|c, MAJOR/MINOR a number or *,\n"
                  "        ACCESS a subset of rwm, VERDICT allow|deny; later rules override earlier ones\n");
  exit(2);
}

/* A decimal u32, or * (WILD). Returns -2 when malformed. */
static long parse_num(const char *s) {
  if (strcmp(s, "*") == 0) return WILD;
  if (!*s || strlen(s) > 10) return -2;
  long v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -2;
    v = v * 10 + (*c - '0');
  }
  return v > (long)UINT32_MAX ? -2 : v;
}

static void parse_rule(const char *arg, struct rule *r) {
  char buf[128], *field[6], *save = NULL;
  int n = 0;
  if (strlen(arg) >= sizeof buf) usage("rule \"%s\" is too long", arg);
  strcpy(buf, arg);
  for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (n == 5) usage("rule \"%s\" has more than five fields", arg);
    field[n++] = t;
  }
  if (n != 5) usage("rule \"%s\" must have five fields: TYPE MAJOR MINOR ACCESS VERDICT", arg);
  if (strcmp(field[0], "a") == 0) r->type = 0;
  else if (strcmp(field[0], "b") == 0) r->type = DEV_BLOCK;
  else if (strcmp(field[0], "c") == 0) r->type = DEV_CHAR;
  else usage("rule \"%s\": the type must be a, b or c", arg);
  r->major = parse_num(field[1]);
  r->minor = parse_num(field[2]);
  if (r->major == -2 || r->minor == -2) usage("rule \"%s\": major and minor must be a number up to 4294967295 or *", arg);
  r->access = 0;
  for (const char *c = field[3]; *c; c++) {
    int bit = *c == 'm' ? ACC_MKNOD : *c == 'r' ? ACC_READ : *c == 'w' ? ACC_WRITE : 0;
    if (!bit || (r->access & bit)) usage("rule \"%s\": the access must be r, w and m, each at most once", arg);
    r->access |= bit;
  }
  if (!r->access) usage("rule \"%s\": the access must not be empty", arg);
  if (strcmp(field[4], "allow") == 0) r->allow = 1;
  else if (strcmp(field[4], "deny") == 0) r->allow = 0;
  else usage("rule \"%s\": the verdict must be allow or deny", arg);
}

/* if reg != v goto l (v a u32; the register holds a zero-extended u32). */
static void jne_u32(struct prog *p, int reg, long v, int l) {
  if (v <= INT32_MAX) {
    jmp(p, JIMM(BPF_JNE, reg, (int32_t)v), l);
  } else {
    ld64(p, R0, (uint64_t)v, 0);
    jmp(p, JREG(BPF_JNE, reg, R0), l);
  }
}

static void assemble(struct prog *p) {
  int deny = newlab(p), allow = newlab(p), allow_used = 0;
  emit(p, LDX(BPF_W, R2, R1, CTX_ACCESS_TYPE));
  emit(p, MOV_REG(R3, R2));
  emit(p, ALU_IMM(BPF_RSH, R3, 16));
  emit(p, ALU_IMM(BPF_AND, R2, 0xffff));
  emit(p, LDX(BPF_W, R4, R1, CTX_MAJOR));
  emit(p, LDX(BPF_W, R5, R1, CTX_MINOR));
  jmp(p, JIMM(BPF_JEQ, R3, 0), deny);
  for (int i = nrules - 1; i >= 0; i--) {
    const struct rule *r = &rules[i];
    int next = newlab(p);
    int conditional = 0;
    if (r->type) { jmp(p, JIMM(BPF_JNE, R2, r->type), next); conditional = 1; }
    if (r->major != WILD) { jne_u32(p, R4, r->major, next); conditional = 1; }
    if (r->minor != WILD) { jne_u32(p, R5, r->minor, next); conditional = 1; }
    if (r->access != ACC_ALL) {
      emit(p, MOV_REG(R0, R3));
      emit(p, ALU_IMM(BPF_AND, R0, r->access));
      jmp(p, JIMM(BPF_JEQ, R0, 0), next);
      conditional = 1;
    }
    if (!r->allow) {
      emit(p, MOV_IMM(R0, 0));
      emit(p, EXIT());
    } else if (r->access == ACC_ALL) {
      jmp(p, JA(), allow);
      allow_used = 1;
    } else {
      emit(p, ALU_IMM(BPF_AND, R3, ~r->access));
      jmp(p, JIMM(BPF_JEQ, R3, 0), allow);
      allow_used = 1;
    }
    here(p, next);
    if (!conditional) break; /* decides everything: earlier rules are unreachable */
  }
  here(p, deny);
  emit(p, MOV_IMM(R0, 0));
  emit(p, EXIT());
  if (allow_used) {
    here(p, allow);
    emit(p, MOV_IMM(R0, 1));
    emit(p, EXIT());
  }
  resolve(p);
}

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(__NR_bpf, cmd, a, sizeof *a); }

/* The last LOG_TAIL_LINES lines of the verifier log. */
static void print_log_tail(void) {
  size_t len = strnlen(vlog, sizeof vlog);
  while (len > 0 && vlog[len - 1] == '\n') len--;
  size_t start = len;
  for (int lines = 0; start > 0; start--) {
    if (vlog[start - 1] == '\n' && ++lines == LOG_TAIL_LINES) break;
  }
  fprintf(stderr, "%.*s\n", (int)(len - start), vlog + start);
}

static int prog_load(struct prog *p) {
  union bpf_attr a;
  int err = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = (uint64_t)(uintptr_t)p->in;
    a.insn_cnt = (uint32_t)p->n;
    a.license = (uint64_t)(uintptr_t)"GPL";
    snprintf(a.prog_name, sizeof a.prog_name, "stk_devices");
    if (attempt) { a.log_level = 1; a.log_buf = (uint64_t)(uintptr_t)vlog; a.log_size = sizeof vlog; }
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0) return fd;
    if (!attempt) err = errno;
  }
  int perm = (err == EPERM || err == EACCES) && !vlog[0];
  fprintf(stderr, "device-filter: bpf(BPF_PROG_LOAD) of a %d-instruction program: %s%s\n", p->n, strerror(err), perm ? " (need root / CAP_BPF+CAP_SYS_ADMIN)" : "");
  if (vlog[0]) print_log_tail();
  exit(1);
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "--cgroup") == 0) {
    dir = argv[i + 1];
    i += 2;
  }
  if (!dir || !*dir) usage("%s", "--cgroup DIR must come first");
  if (i >= argc) usage("%s", "no rules given");
  if (argc - i > MAX_RULES) usage("%s", "too many rules (at most 2048)");
  for (; i < argc; i++) parse_rule(argv[i], &rules[nrules++]);

  assemble(&prog);
  int pfd = prog_load(&prog);
  int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cfd < 0) {
    fprintf(stderr, "device-filter: open %s: %s\n", dir, strerror(errno));
    return 1;
  }
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)cfd;
  a.attach_bpf_fd = (uint32_t)pfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &a) != 0) {
    fprintf(stderr, "device-filter: bpf(BPF_PROG_ATTACH) to %s: %s\n", dir, strerror(errno));
    return 1;
  }
  close(cfd);
  close(pfd);
  return 0;
}
