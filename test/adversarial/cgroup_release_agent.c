/*
 * cgroup v1 release_agent (CVE-2022-0492 and the classic privileged-container escape): the kernel
 * runs that program as root in the initial namespaces when a cgroup empties.
 *  1. Mount a cgroup v1 hierarchy on a fresh dir under argv[1] (a new named hierarchy, else an
 *     existing controller) and write its release_agent's own value back; unmount it.
 *  2. Write the release_agent of the visible cgroup v1 mounts, also with its own value (nothing
 *     changes), stopping at the first one accepted.
 * Escaped if any release_agent write was accepted. Blocked if the mount fails and no existing one
 * is writable.
 */
#include "probe_common.c"
#include <sys/mount.h>

static int write_back(const char *path, char *err, size_t errlen)
{
    char value[4096];
    ssize_t len = 0;
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
        len = read(rfd, value, sizeof value);
        close(rfd);
    }
    if (len < 0) len = 0;
    if (len == 0) value[len++] = '\n';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open: %s", en(errno));
        return -1;
    }
    ssize_t w = write(fd, value, (size_t)len);
    int e = errno;
    close(fd);
    if (w < 0) {
        snprintf(err, errlen, "write: %s", en(e));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    PROBE("cgroup_release_agent");
    const char *base = argc > 1 ? argv[1] : "/tmp";
    char detail[2048] = "";
    size_t dl = 0;
    int escaped = 0;

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cgroup-probe-XXXXXX", base);
    if (!mkdtemp(dir)) report(ERROR, "mkdtemp in %s: %s", base, en(errno));
    static const char *const opts[] = { "none,name=stockade_probe", "rdma", "pids", "memory", "cpu", NULL };
    int mounted = 0, first_err = 0;
    for (const char *const *o = opts; *o && !mounted; o++) {
        if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, *o) == 0) {
            mounted = 1;
            char agent[4200], err[64];
            snprintf(agent, sizeof agent, "%s/release_agent", dir);
            if (write_back(agent, err, sizeof err) == 0) {
                escaped = 1;
                dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "mounted cgroup v1 (%s) and wrote its release_agent", *o);
            } else {
                dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "mounted cgroup v1 (%s); its release_agent %s", *o, err);
                escaped = 1; /* the mount itself is what a sandbox must stop */
            }
            umount2(dir, MNT_DETACH);
        } else if (!first_err) {
            first_err = errno;
        }
    }
    rmdir(dir);
    if (!mounted) dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "mount cgroup v1: %s", en(first_err));

    FILE *mi = fopen("/proc/self/mountinfo", "r");
    if (mi) {
        char line[1024];
        int shown = 0;
        while (fgets(line, sizeof line, mi)) {
            char mp[512], fstype[64];
            char *sep = strstr(line, " - ");
            if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mp) != 1 || sscanf(sep + 3, "%63s", fstype) != 1) continue;
            if (strcmp(fstype, "cgroup") != 0) continue;
            char agent[600], err[64];
            snprintf(agent, sizeof agent, "%s/release_agent", mp);
            if (access(agent, F_OK) < 0) continue;
            if (write_back(agent, err, sizeof err) == 0) {
                escaped = 1;
                dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "; wrote %s (its own value back)", agent);
                break;
            } else if (shown++ < 3) {
                dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "; %s: %s", agent, err);
            }
            if (dl >= sizeof detail) dl = sizeof detail - 1;
        }
        fclose(mi);
    }
    report(escaped ? ESCAPED : BLOCKED, "%s", detail);
}
