/* bpf(2): BPF_MAP_CREATE (a 1-entry array) and BPF_PROG_LOAD of a trivial socket filter
 * (r0 = 0; exit). Both objects die with the fd. Escaped if either returned an fd. */
#include "probe_common.c"
#include <linux/bpf.h>
#include <sys/syscall.h>

int main(void)
{
    PROBE("bpf_load");
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = 1;
    long map = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    int e1 = errno;

    struct bpf_insn prog[2];
    memset(prog, 0, sizeof prog);
    prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
    prog[0].dst_reg = BPF_REG_0;
    prog[1].code = BPF_JMP | BPF_EXIT;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insn_cnt = 2;
    a.insns = (unsigned long)prog;
    a.license = (unsigned long)"GPL";
    long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    int e2 = errno;
    if (map >= 0 || fd >= 0)
        report(ESCAPED, "BPF_MAP_CREATE: %s; BPF_PROG_LOAD: %s", map >= 0 ? "fd" : en(e1), fd >= 0 ? "fd" : en(e2));
    if (e1 == ENOSYS && e2 == ENOSYS) {
        static const char *const syms[] = { "__x64_sys_bpf", "__arm64_sys_bpf", NULL };
        attribute_missing(e1, "bpf (CONFIG_BPF_SYSCALL)", syms, "bpf");
    }
    report(BLOCKED, "BPF_MAP_CREATE: %s; BPF_PROG_LOAD: %s", en(e1), en(e2));
}
