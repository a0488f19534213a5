/* personality(READ_IMPLIES_EXEC): makes every readable mapping executable, undoing W^X for the
 * process and its children. Process-local. Escaped if the flag took effect. */
#include "probe_common.c"
#include <sys/personality.h>

int main(void)
{
    PROBE("personality_rie");
    int cur = personality(0xffffffff);
    if (cur < 0) report(BLOCKED, "personality(query): %s", en(errno));
    if (personality((unsigned long)(cur | READ_IMPLIES_EXEC)) < 0)
        report(BLOCKED, "personality(0x%x | READ_IMPLIES_EXEC): %s", (unsigned)cur, en(errno));
    int now = personality(0xffffffff);
    if (now >= 0 && (now & READ_IMPLIES_EXEC))
        report(ESCAPED, "personality is now 0x%x (READ_IMPLIES_EXEC set)", (unsigned)now);
    report(BLOCKED, "personality accepted, but READ_IMPLIES_EXEC is not set (0x%x)", (unsigned)now);
}
