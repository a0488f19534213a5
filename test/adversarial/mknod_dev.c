/*
 * mknod of a device node in a writable dir (argv[1]), then open it: a block device node for the
 * disk gives raw access to every file on it, whatever the mounts hide. The device is argv[2]
 * ("b:MAJ:MIN" or "c:MAJ:MIN"), by default the block device holding "/" (else the first one in
 * /proc/partitions, else c:1:3). Opened O_RDONLY and 512 bytes read; nothing is written; the node
 * is removed. Escaped if the node could be created AND opened. If the default block node is made
 * but cannot be opened (a host policy), a char node c:1:5 (/dev/zero) is tried as well.
 */
#include "probe_common.c"
#include <sys/sysmacros.h>

static int pick_device(char *kind, unsigned *maj, unsigned *min, const char **from)
{
    struct stat st;
    if (stat("/", &st) == 0 && major(st.st_dev) != 0) {
        *kind = 'b', *maj = major(st.st_dev), *min = minor(st.st_dev), *from = "the device of /";
        return 0;
    }
    FILE *f = fopen("/proc/partitions", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%u %u", maj, min) == 2) {
                fclose(f);
                *kind = 'b', *from = "/proc/partitions";
                return 0;
            }
        }
        fclose(f);
    }
    *kind = 'c', *maj = 1, *min = 3, *from = "fallback /dev/null numbers";
    return 0;
}

/* mknod + open + read one node; 1 if it opened, 0 if not; appends what happened to detail. */
static int try_node(const char *node, char kind, unsigned maj, unsigned min, const char *from, char *detail, size_t len)
{
    size_t dl = strlen(detail);
    mode_t type = kind == 'b' ? S_IFBLK : S_IFCHR;
    if (mknod(node, type | 0600, makedev(maj, min)) < 0) {
        snprintf(detail + dl, len - dl, "%smknod %c %u:%u (%s): %s", dl ? "; " : "", kind, maj, min, from, en(errno));
        return 0;
    }
    int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK), e = errno;
    if (fd < 0) {
        unlink(node);
        snprintf(detail + dl, len - dl, "%smknod %c %u:%u (%s) ok, but open: %s", dl ? "; " : "", kind, maj, min, from,
                 en(e));
        return 0;
    }
    char buf[512];
    ssize_t r = read(fd, buf, sizeof buf);
    e = errno;
    close(fd);
    unlink(node);
    char got[64];
    if (r >= 0)
        snprintf(got, sizeof got, "read %zd bytes", r);
    else
        snprintf(got, sizeof got, "read: %s", en(e));
    snprintf(detail + dl, len - dl, "%screated and opened device node %c %u:%u (%s); %s", dl ? "; " : "", kind, maj, min,
             from, got);
    return 1;
}

int main(int argc, char **argv)
{
    PROBE("mknod_dev");
    const char *dir = need_arg(argc, argv, 1, "writable DIR");
    char kind;
    unsigned maj, min;
    const char *from = "argv";
    if (argc > 2) {
        if (sscanf(argv[2], "%c:%u:%u", &kind, &maj, &min) != 3 || (kind != 'b' && kind != 'c'))
            report(ERROR, "bad device '%s' (want b:MAJ:MIN or c:MAJ:MIN)", argv[2]);
    } else {
        pick_device(&kind, &maj, &min, &from);
    }
    char node[4096], detail[1024] = "";
    snprintf(node, sizeof node, "%s/mknod-probe-%d", dir, (int)getpid());
    if (try_node(node, kind, maj, min, from, detail, sizeof detail)) report(ESCAPED, "%s", detail);
    /* The node was made but a host policy refused to open that disk: a char device node shows
     * whether device nodes made here work at all. */
    if (argc <= 2 && kind == 'b' && strstr(detail, " ok, but open") &&
        try_node(node, 'c', 1, 5, "/dev/zero numbers", detail, sizeof detail))
        report(ESCAPED, "%s", detail);
    report(BLOCKED, "%s", detail);
}
