/*
 * ns.c: namespace details beyond clone(2) itself.
 *
 *   write_id_maps     the monitor writes the sandbox's uid_map / gid_map (one range each);
 *   loopback_up       the init brings `lo` up in a new network namespace (as bwrap does), so the
 *                     workload can talk to itself over 127.0.0.1 and to nothing else;
 *   idmap_userns_fd   a throwaway user namespace mapping 0 to a given uid/gid, whose descriptor
 *                     mount_setattr(MOUNT_ATTR_IDMAP) takes for idmapRoot binds;
 *   join_namespaces   the init joins the namespaces the plan names by path (joinNamespace other than
 *                     pid, which the monitor joins before clone), first thing after its release.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = n < 0 ? e : n == (ssize_t)strlen(text) ? 0 : EIO;
    return errno == 0 ? 0 : -1;
}

static int write_map(pid_t pid, const char *proc, const char *file, const char *text, const char *step)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%d/%s", proc, (int)pid, file);
    if (write_file(path, text) < 0)
        return step ? status_error(step, errno, "writing \"%.60s\" to %s: %s", text, path, strerror(errno)) : -1;
    return 0;
}

int write_id_maps(pid_t pid, const struct op *idmap, bool unprivileged)
{
    char line[64];
    /* Without CAP_SETGID over the parent namespace, the kernel accepts a gid_map only once
     * setgroups is denied: otherwise the sandbox could drop a supplementary group that is there
     * to deny it something (user_namespaces(7)). */
    if (unprivileged && write_map(pid, "/proc", "setgroups", "deny", "idmap") < 0)
        return -1;
    if (idmap == NULL)
        return 0;
    snprintf(line, sizeof line, "%u %u %u\n", idmap->u.idmap.uid_in, idmap->u.idmap.uid_out, idmap->u.idmap.uid_count);
    if (write_map(pid, "/proc", "uid_map", line, "idmap") < 0)
        return -1;
    snprintf(line, sizeof line, "%u %u %u\n", idmap->u.idmap.gid_in, idmap->u.idmap.gid_out, idmap->u.idmap.gid_count);
    return write_map(pid, "/proc", "gid_map", line, "idmap");
}

int loopback_up(void)
{
    struct ifreq ifr = { 0 };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return status_error("namespaces", e, "bringing up lo in the new network namespace: %s", strerror(e));
    }
    close(fd);
    return 0;
}

/* A child is cloned straight into a new user namespace and waits on a pipe while we write its maps
 * and open its namespace; then it exits.  The namespace lives on through the descriptor.  PROC is a
 * procfs of the caller's pid namespace (the child's pid is looked up there).  Returns the
 * descriptor, or -1 with errno set. */
/* The idmapping for idmapRoot binds: on-disk 0 appears as `id` and on-disk `id` as 0 (a swap, since
 * maps must be one-to-one); every other id appears as itself, so other users' files keep their
 * owners. Writes by the workload (as `id`) land on disk as 0. */
static void swap_map(char *buf, size_t size, unsigned id)
{
    size_t n = (size_t)snprintf(buf, size, "0 %u 1\n", id);
    if (id == 0)
        return;
    if (id > 1)
        n += (size_t)snprintf(buf + n, size - n, "1 1 %u\n", id - 1);
    n += (size_t)snprintf(buf + n, size - n, "%u 0 1\n", id);
    if (id < 4294967294u)
        snprintf(buf + n, size - n, "%u %u %u\n", id + 1, id + 1, 4294967295u - (id + 1));
}

int idmap_userns_fd(uid_t uid, gid_t gid, const char *proc)
{
    int pipefd[2], fd = -1, e = 0;
    char line[256], path[128];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        char b;
        close(pipefd[1]);
        while (read(pipefd[0], &b, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(pipefd[0]);
    if (pid < 0) {
        e = errno;
        close(pipefd[1]);
        errno = e;
        return -1;
    }
    swap_map(line, sizeof line, (unsigned)uid);
    if (write_map(pid, proc, "uid_map", line, NULL) == 0) {
        swap_map(line, sizeof line, (unsigned)gid);
        if (write_map(pid, proc, "gid_map", line, NULL) == 0) {
            snprintf(path, sizeof path, "%s/%d/ns/user", proc, (int)pid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
    }
    e = errno;
    close(pipefd[1]); /* the child reads EOF and exits */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    errno = e;
    return fd;
}

int ns_clone_flag(uint32_t ns)
{
    switch (ns) {
    case NS_USER: return CLONE_NEWUSER;
    case NS_PID: return CLONE_NEWPID;
    case NS_MOUNT: return CLONE_NEWNS;
    case NS_NET: return CLONE_NEWNET;
    case NS_UTS: return CLONE_NEWUTS;
    case NS_IPC: return CLONE_NEWIPC;
    case NS_CGROUP: return CLONE_NEWCGROUP;
    default: return 0;
    }
}

/* The mount namespace last (as nsenter does): after it, paths are the joined namespace's. setns
 * with the type checks that each descriptor is a namespace of that type.  setns(mount) leaves the
 * root and the cwd at that namespace's root; the workload's chdir(cwd) comes later. */
int join_namespaces(struct joins *j)
{
    static const uint32_t order[] = { NS_CGROUP, NS_IPC, NS_UTS, NS_NET, NS_MOUNT };
    for (size_t o = 0; o < sizeof order / sizeof *order; o++)
        for (int i = 0; i < j->n; i++) {
            if (j->type[i] != order[o])
                continue;
            if (setns(j->fd[i], ns_clone_flag(j->type[i])) < 0)
                return status_error("namespaces", errno, "joining the %s namespace: setns: %s",
                                    ns_type_name(j->type[i]), strerror(errno));
        }
    joins_close(j);
    return 0;
}

void joins_close(struct joins *j)
{
    for (int i = 0; i < j->n; i++)
        close(j->fd[i]);
    j->n = 0;
}
