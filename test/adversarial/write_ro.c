/* Write where the sandbox should be read-only (argv[1]). For a directory: create a new file in it
 * (O_CREAT|O_EXCL), then remove it. For a file: open it O_WRONLY|O_APPEND and write nothing, so
 * the file is never changed (permission, read-only mounts and Landlock are all checked at open).
 * Escaped if the open succeeded. */
#include "probe_common.c"

int main(int argc, char **argv)
{
    PROBE("write_ro");
    const char *path = need_arg(argc, argv, 1, "read-only DIR or FILE");
    struct stat st;
    if (stat(path, &st) < 0) report(ERROR, "stat %s: %s", path, en(errno));
    if (S_ISDIR(st.st_mode)) {
        char file[4096];
        snprintf(file, sizeof file, "%s/write-probe-%d", path, (int)getpid());
        int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) report(BLOCKED, "create %s: %s", file, en(errno));
        ssize_t w = write(fd, "x", 1);
        close(fd);
        unlink(file);
        report(ESCAPED, "created %s in the read-only dir (write: %zd), then removed it", file, w);
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) report(BLOCKED, "open %s O_WRONLY: %s", path, en(errno));
    close(fd);
    report(ESCAPED, "opened %s O_WRONLY|O_APPEND (nothing written)", path);
}
