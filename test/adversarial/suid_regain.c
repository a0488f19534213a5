/*
 * A setuid-root binary regaining privileges: exec argv[1], a root-owned mode-4755 copy of
 * suid_target (prints "uid= euid= capeff="). When the probe itself runs as root with
 * capabilities, it first drops to nobody (65534), so that an unconfined run as root shows the
 * escape the same way an unprivileged one would. The binary is opened before dropping and run
 * with execveat(AT_EMPTY_PATH), so the path need not be reachable by nobody.
 * Escaped if the target ran with euid 0 while the probe's euid was not 0, or with effective
 * capabilities the probe did not have. no_new_privs, a nosuid mount and an owner unmapped in the
 * probe's user namespace (shown as uid 65534) all make the kernel ignore the setuid bit (blocked).
 * Error if the file is not setuid at all (the harness could not set it up).
 */
#include "probe_common.c"
#include <grp.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    PROBE("suid_regain");
    const char *path = need_arg(argc, argv, 1, "PATH of a setuid-root copy of suid_target");
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) report(ERROR, "open %s: %s", path, en(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) report(ERROR, "fstat %s: %s", path, en(errno));
    if (!(st.st_mode & S_ISUID)) report(ERROR, "%s is not setuid (mode %o)", path, (unsigned)st.st_mode & 07777);
    /* Inside a user namespace a root-owned file shows the overflow uid (65534): the kernel then
     * ignores its setuid bit, which is part of what is being measured, so go on. */
    int owner = (int)st.st_uid;
    struct statvfs vfs;
    int nosuid = fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);

    const char *dropped = "not needed";
    long long caps = status_field("CapEff", 16);
    if (geteuid() == 0 && caps != 0) {
        if (setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0)
            dropped = "dropped to 65534";
        else
            report(ERROR, "running as root with capabilities, and cannot drop them (%s): the test would prove nothing",
                   en(errno));
        caps = status_field("CapEff", 16);
    }
    uid_t euid = geteuid();
    long long nnp = status_field("NoNewPrivs", 10);

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) report(ERROR, "pipe: %s", en(errno));
    pid_t child = fork();
    if (child < 0) report(ERROR, "fork: %s", en(errno));
    if (child == 0) {
        dup2(out[1], 1);
        char *const av[] = { "suid_target", NULL }, *const ev[] = { NULL };
        syscall(SYS_execveat, fd, "", av, ev, AT_EMPTY_PATH);
        int e = errno;
        if (write(err[1], &e, sizeof e) < 0) _exit(127);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    char buf[256] = "";
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = '\0';
    int exec_errno = 0;
    if (read(err[0], &exec_errno, sizeof exec_errno) != (ssize_t)sizeof exec_errno) exec_errno = 0;
    int status;
    waitpid(child, &status, 0);
    char *nl = strchr(buf, '\n');
    if (nl) *nl = '\0';
    if (exec_errno) report(BLOCKED, "exec %s: %s", path, en(exec_errno));
    int t_uid, t_euid;
    char t_cap[64];
    if (sscanf(buf, "uid=%d euid=%d capeff=%63s", &t_uid, &t_euid, t_cap) != 3)
        report(ERROR, "unexpected output from the target: '%s' (status %d)", buf, status);
    long long t_caps = strtoll(t_cap, NULL, 16);
    const char *why = t_euid == 0 && euid != 0 ? "euid became 0"
                      : (t_caps != 0 && caps == 0) ? "gained capabilities"
                                                     : NULL;
    if (why)
        report(ESCAPED, "%s: probe euid %d capeff %llx (%s) -> target '%s'", why, (int)euid, caps, dropped, buf);
    report(BLOCKED, "setuid bit had no effect: probe euid %d capeff %llx NoNewPrivs %lld, target owner uid %d here%s -> target '%s'",
           (int)euid, caps, nnp, owner, nosuid ? ", nosuid mount" : "", buf);
}
