/* Read the secret (argv[2], an absolute path) through /proc/PID/root of an outside process
 * (argv[1]): that symlink-like entry resolves in the other process's root and mounts. Escaped if
 * the token (argv[3]) comes back. */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("proc_root_secret");
    pid_t pid = parse_pid(need_arg(argc, argv, 1, "PID of an outside process"));
    const char *secret = need_arg(argc, argv, 2, "absolute PATH of the secret");
    const char *token = argc > 3 ? argv[3] : NULL;
    if (secret[0] != '/') report(ERROR, "secret path must be absolute: %s", secret);
    char path[4096];
    snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, secret);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) report(BLOCKED, "open %s: %s", path, en(errno));
    judge_read(fd, path, token);
}
