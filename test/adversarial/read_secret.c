/* Read a path that should be hidden (argv[1]); escaped if its content contains the token
 * (argv[2]; without one, if any byte is read). */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("read_secret");
    const char *path = need_arg(argc, argv, 1, "PATH of the secret");
    const char *token = argc > 2 ? argv[2] : NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) report(BLOCKED, "open %s: %s", path, en(errno));
    judge_read(fd, path, token);
}
