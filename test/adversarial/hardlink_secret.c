/* Hard-link the secret (argv[2]) into a writable dir (argv[1]) and read the link; escaped if the
 * token (argv[3]) comes back. The link is removed. */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("hardlink_secret");
    const char *dir = need_arg(argc, argv, 1, "writable DIR");
    const char *secret = need_arg(argc, argv, 2, "PATH of the secret");
    const char *token = argc > 3 ? argv[3] : NULL;
    char lpath[4096];
    snprintf(lpath, sizeof lpath, "%s/hardlink-probe-%d", dir, (int)getpid());
    if (link(secret, lpath) < 0) report(BLOCKED, "link(%s, %s): %s", secret, lpath, en(errno));
    int fd = open(lpath, O_RDONLY | O_CLOEXEC), e = errno;
    unlink(lpath);
    if (fd < 0) report(BLOCKED, "linked, but open %s: %s", lpath, en(e));
    judge_read(fd, "via a hard link", token);
}
