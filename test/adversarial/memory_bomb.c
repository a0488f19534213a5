/* Memory bomb, bounded: map and touch memory in 16 MiB steps up to CAP MiB (argv[1], default
 * 2048). Blocked if an allocation failed first (detail: how far it got); escaped if the cap was
 * reached. A memory cgroup usually answers with the OOM killer instead: the probe then dies by
 * SIGKILL and prints nothing ("killed"). */
#include "probe_common.c"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    PROBE("memory_bomb");
    long cap = argc > 1 ? strtol(argv[1], NULL, 10) : 2048;
    if (cap <= 0 || cap > (1L << 22)) report(ERROR, "bad cap '%s'", argv[1]);
    const size_t step = 16UL << 20;
    long mib = 0;
    while (mib < cap) {
        void *p = mmap(NULL, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) report(BLOCKED, "mmap failed after %ld MiB: %s", mib, en(errno));
        memset(p, 0xa5, step);
        mib += 16;
    }
    report(ESCAPED, "allocated and touched %ld MiB: the cap was reached", mib);
}
