/* Not a probe: the setuid-root target of suid_regain. The test installs a copy owned by root with
 * mode 4755. It prints its ids and effective capabilities, one line. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char cap[64] = "?", line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "CapEff: %63s", cap) == 1) break;
        fclose(f);
    }
    printf("uid=%d euid=%d capeff=%s\n", (int)getuid(), (int)geteuid(), cap);
    return 0;
}
