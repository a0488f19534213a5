/* Create a symlink in a writable dir (argv[1]) pointing at the secret (argv[2]) and read through
 * it; escaped if the token (argv[3]) comes back. The link is removed. */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("symlink_secret");
    const char *dir = need_arg(argc, argv, 1, "writable DIR");
    const char *secret = need_arg(argc, argv, 2, "PATH of the secret");
    const char *token = argc > 3 ? argv[3] : NULL;
    char link[4096];
    snprintf(link, sizeof link, "%s/symlink-probe-%d", dir, (int)getpid());
    if (symlink(secret, link) < 0) report(BLOCKED, "symlink(%s -> %s): %s", link, secret, en(errno));
    int fd = open(link, O_RDONLY | O_CLOEXEC), e = errno;
    unlink(link);
    if (fd < 0) report(BLOCKED, "open via symlink %s -> %s: %s", link, secret, en(e));
    judge_read(fd, "via a symlink", token);
}
