/* CPU spin: burn CPU until stopped from outside, for at most CAP seconds of wall time (argv[1],
 * default 120). Under a CPU-time or wall-time limit it is killed ("killed" / "timeout"); if it
 * reaches the cap it reports escaped. */
#include "probe_common.c"
#include <time.h>

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    PROBE("cpu_spin");
    double cap = argc > 1 ? strtod(argv[1], NULL) : 120;
    if (!(cap > 0)) report(ERROR, "bad cap '%s'", argv[1]);
    double start = now(CLOCK_MONOTONIC);
    volatile unsigned long x = 0;
    while (now(CLOCK_MONOTONIC) - start < cap)
        for (int i = 0; i < 1000000; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    report(ESCAPED, "spun for %.1f s of wall time (%.1f s of CPU) without being stopped", now(CLOCK_MONOTONIC) - start,
           now(CLOCK_PROCESS_CPUTIME_ID));
}
