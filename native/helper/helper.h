/*
 * helper.h: what the files of stockade-helper share.
 *
 *   main.c       entry point, plan intake, --decode
 *   plan.c       bounds-checked decoding of the plan: readers, header (no syscalls: fuzzed)
 *   plan_ops.c   bounds-checked decoding of each op's body (no syscalls: fuzzed)
 *   plan_dec.h   the readers plan.c shares with plan_ops.c
 *   plan_check.c whole-plan validation (op order, repetitions, requirements); op and phase names
 *   plan_json.c  the canonical JSON rendering of a decoded plan (--decode, tests)
 *   status.c     JSON status lines on the status descriptor; string buffers
 *   monitor.c    the monitor: clone, id maps, cgroup join, signals, timeout, the workload's result
 *   gate.c       the monitor's directives: startGate FIFO, consoleSocket, oomScoreAdj, joined
 *                namespaces' descriptors (opened before clone), the seccompListener connection
 *   listener.c   the seccompListener: the workload's notify fd, sent on with the container's state
 *   ns.c         namespace details: uid/gid maps, loopback, throwaway user namespaces for idmaps,
 *                joining namespaces by descriptor (in the init)
 *   mounts.c     the mount phase: staging, binds, tmpfs, proc, dev, hide, pivot_root
 *   mounts.h     what mounts.c shares with oci_ops.c (the mount phase's context)
 *   oci_ops.c    secure target resolution inside the new root (openat2 RESOLVE_IN_ROOT), the
 *                rootfs op's read-only seal, the general mount op, sysctl
 *   sandbox.c    the sandbox init (pid 1, reaper) and the workload's setup up to execve
 *   caps.c       rlimits, identity (user op), capabilities, no_new_privs
 *   lsm.c        the execLabel op: the AppArmor profile or SELinux context the workload's execve enters
 *   landlock.c   Landlock
 *   seccomp.c    seccomp; the workload's half of the seccompListener hand-over
 *   pty.c        the terminal: pty pair, relay, raw mode, window size
 *   fdpass.c     sending a descriptor over a unix socket (SCM_RIGHTS)
 *
 * Error convention (crun style): a function that fails reports one status line naming what it was
 * doing (status_error) and returns -1; its caller only propagates the -1.
 */
#ifndef STOCKADE_HELPER_H
#define STOCKADE_HELPER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------------------------------ */
/* The plan (wire format: docs/protocol.md).                                                    */

#define PLAN_MAGIC "STKP"
#define PLAN_VERSION 1
#define PLAN_HEADER_SIZE 24u
#define PLAN_MAX_BYTES (16u << 20)
#define PLAN_MAX_OPS 4096u
#define PLAN_MAX_LIST 65536u      /* argv, env, groups, cgroup files, Landlock rules */
#define PLAN_MAX_STRING (1u << 20)
#define PLAN_MAX_PATH 4095u       /* PATH_MAX without its NUL */
#define PLAN_MAX_BPF_INSNS 4096u  /* BPF_MAXINSNS */
#define PLAN_FLAG_VERBOSE 1u
#define PLAN_FLAG_DETACHED 2u     /* no PR_SET_PDEATHSIG on the monitor */
#define PLAN_FLAG_WORKLOAD_IS_INIT 4u /* no separate init: the workload is the first process (OCI) */
#define PLAN_FLAGS_KNOWN (PLAN_FLAG_VERBOSE | PLAN_FLAG_DETACHED | PLAN_FLAG_WORKLOAD_IS_INIT)

/* Op codes on the wire.  1..23 follow the order of PHASES in src/helper/plan.ts; the later ones were
 * appended, so their phase comes from a table (op_phase in plan_check.c), not from the code. */
enum op_kind {
    OP_NAMESPACES = 1, OP_IDMAP, OP_ROOT_TMPFS, OP_ROOT_BIND, OP_BIND, OP_TMPFS, OP_PROC, OP_DEV,
    OP_MKDIR, OP_SYMLINK, OP_HIDE, OP_READ_ONLY, OP_PIVOT_ROOT, OP_HOSTNAME, OP_RLIMIT, OP_CGROUP, OP_USER,
    OP_CAPABILITIES, OP_SETSID, OP_NO_NEW_PRIVS, OP_LANDLOCK, OP_SECCOMP, OP_EXEC,
    OP_START_GATE, OP_CONSOLE_SOCKET, OP_OOM_SCORE_ADJ, OP_JOIN_NAMESPACE, OP_ROOTFS, OP_MOUNT, OP_SYSCTL,
    OP_CAPABILITY_SETS, OP_SECCOMP_LISTENER, OP_EXEC_LABEL, OP_KIND_END
};

/* Phases; their names are the `step` of status lines. */
enum phase {
    PH_MONITOR, PH_NAMESPACES, PH_IDMAP, PH_MOUNT, PH_HOSTNAME, PH_RLIMIT, PH_CGROUP, PH_USER, PH_CAPABILITIES,
    PH_SETSID, PH_EXEC_LABEL, PH_NO_NEW_PRIVS, PH_LANDLOCK, PH_SECCOMP, PH_EXEC, PH_END
};

#define NS_USER 0x01u
#define NS_PID 0x02u
#define NS_MOUNT 0x04u
#define NS_NET 0x08u
#define NS_UTS 0x10u
#define NS_IPC 0x20u
#define NS_CGROUP 0x40u
#define NS_ALL 0x7fu

#define BIND_READ_ONLY 0x01u
#define BIND_OPTIONAL 0x02u
#define BIND_IDMAP_ROOT 0x04u

/* The mount op: MS_* flags it takes (everything else, MS_REMOUNT, MS_MOVE and the propagation types
 * included, is refused), and its propagation (one type, optionally | MS_REC). */
#define MNT_MS_RDONLY 0x1ull
#define MNT_MS_NOSUID 0x2ull
#define MNT_MS_NODEV 0x4ull
#define MNT_MS_NOEXEC 0x8ull
#define MNT_MS_SYNCHRONOUS 0x10ull
#define MNT_MS_MANDLOCK 0x40ull
#define MNT_MS_DIRSYNC 0x80ull
#define MNT_MS_NOSYMFOLLOW 0x100ull
#define MNT_MS_NOATIME 0x400ull
#define MNT_MS_NODIRATIME 0x800ull
#define MNT_MS_BIND 0x1000ull
#define MNT_MS_REC 0x4000ull
#define MNT_MS_SILENT 0x8000ull
#define MNT_MS_UNBINDABLE (1ull << 17)
#define MNT_MS_PRIVATE (1ull << 18)
#define MNT_MS_SLAVE (1ull << 19)
#define MNT_MS_SHARED (1ull << 20)
#define MNT_MS_RELATIME (1ull << 21)
#define MNT_MS_STRICTATIME (1ull << 24)
#define MNT_MS_LAZYTIME (1ull << 25)
#define MNT_FLAGS_KNOWN                                                                                  \
    (MNT_MS_RDONLY | MNT_MS_NOSUID | MNT_MS_NODEV | MNT_MS_NOEXEC | MNT_MS_SYNCHRONOUS | MNT_MS_MANDLOCK | \
     MNT_MS_DIRSYNC | MNT_MS_NOSYMFOLLOW | MNT_MS_NOATIME | MNT_MS_NODIRATIME | MNT_MS_BIND | MNT_MS_REC |    \
     MNT_MS_SILENT | MNT_MS_RELATIME | MNT_MS_STRICTATIME | MNT_MS_LAZYTIME)
/* What a bind can carry over to its remount (per-mount flags); the others are superblock flags. */
#define MNT_BIND_FLAGS                                                                                   \
    (MNT_MS_RDONLY | MNT_MS_NOSUID | MNT_MS_NODEV | MNT_MS_NOEXEC | MNT_MS_NOSYMFOLLOW | MNT_MS_NOATIME |     \
     MNT_MS_NODIRATIME | MNT_MS_RELATIME | MNT_MS_STRICTATIME | MNT_MS_BIND | MNT_MS_REC | MNT_MS_SILENT)
#define MNT_PROPAGATION_TYPES (MNT_MS_UNBINDABLE | MNT_MS_PRIVATE | MNT_MS_SLAVE | MNT_MS_SHARED)
/* SECCOMP_FILTER_FLAG_NEW_LISTENER (linux/seccomp.h): the filter's load returns a notify fd. */
#define SECCOMP_FLAG_NEW_LISTENER 8u

/* The execLabel op's LSM. */
#define LSM_APPARMOR 1u
#define LSM_SELINUX 2u

#define MOUNT_KIND_DIR 0u
#define MOUNT_KIND_FILE 1u

struct ll_path { char *path; uint64_t access; bool optional; };
struct ll_port { uint32_t port; uint64_t access; };

struct op {
    enum op_kind kind;
    union {
        uint32_t ns; /* NS_* */
        struct { uint32_t uid_in, uid_out, uid_count, gid_in, gid_out, gid_count; } idmap;
        /* rootBind (source), bind, tmpfs, proc, dev, mkdir, hide (target), symlink (source = the
         * link's contents, target = linkPath) */
        struct { char *source, *target; uint32_t flags, mode; uint64_t size; } mnt;
        char *hostname;
        struct { uint32_t resource; uint64_t soft, hard; } rlimit;
        struct { uint32_t n; char **files; } cgroup;
        struct { uint32_t uid, gid, ngroups; uint32_t *groups; } user;
        uint64_t keep; /* capability bit mask */
        bool terminal;
        struct {
            uint32_t abi, npaths, nports;
            bool required;
            uint64_t fs, net, scoped;
            struct ll_path *paths;
            struct ll_port *ports;
        } landlock;
        struct { uint32_t flags, len; bool log; uint8_t *prog; } seccomp;
        struct { char *path, *cwd; uint32_t argc, envc; char **argv, **envp; } exec;
        /* startGate (the FIFO), consoleSocket (the socket), joinNamespace (type: one NS_* bit) */
        struct { char *path; uint32_t type; } target;
        int32_t oom_score_adj;
        /* rootfs: mnt.source, mnt.flags = 1 when readOnly */
        struct { char *source, *target, *fstype, *data; uint64_t flags, propagation; uint8_t kind; } mount;
        struct { char *key, *value; } sysctl;
        struct { uint64_t bounding, effective, permitted, inheritable, ambient; } capsets;
        /* seccompListener: the unix socket, the metadata, the OCI state (a JSON object without pid) */
        struct { char *path, *metadata, *state; } listener;
        /* execLabel: LSM_* and the profile (AppArmor) or context (SELinux) the next execve enters */
        struct { uint32_t lsm; char *label; } label;
    } u;
};

struct arena { struct arena_chunk *head; };

struct plan {
    bool verbose, detached, workload_is_init;
    uint64_t wall_timeout_ms;
    uint32_t nops;
    struct op *ops;
    struct arena arena;
    uint32_t ns;                          /* namespaces asked for (0 without the op) */
    uint32_t joined;                      /* namespaces joined by path (NS_* bits) */
    const struct op *first[OP_KIND_END];  /* the first op of each kind, NULL when absent */
};

int plan_decode(const uint8_t *buf, size_t len, struct plan *out, char *err, size_t errlen);
void plan_free(struct plan *p);
const char *op_name(enum op_kind k);
enum phase op_phase(enum op_kind k);
const char *phase_name(enum phase ph);
const char *rlimit_name(uint32_t resource);
const char *ns_type_name(uint32_t ns_bit); /* "pid", "net", ... */
const char *lsm_name(uint32_t lsm);        /* "apparmor", "selinux" */
bool plan_validate(struct plan *p, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* String buffers and status lines (status.c).                                                  */

struct sbuf { char *p; size_t len, cap; bool dynamic, overflow; };
void sb_fixed(struct sbuf *b, char *mem, size_t cap);
void sb_dynamic(struct sbuf *b);
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_str(struct sbuf *b, const char *s);
void sb_free(struct sbuf *b);

void plan_render_json(const struct plan *p, struct sbuf *out);

void status_setup(int fd, bool verbose);
int status_fd(void);
void status_step(enum phase ph);
int status_error(const char *step, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void status_warning(const char *step, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_event(const char *kind, const char *field, long long value);
void status_event2(const char *kind, const char *f1, long long v1, const char *f2, long long v2);
void status_nonblocking(void);

/* ------------------------------------------------------------------------------------------ */
/* Processes.                                                                                   */

/* Exit statuses of the helper itself (the workload's own status is passed through). */
#define EXIT_SETUP 125      /* the plan or a setup step failed; an error line says which */
#define EXIT_EXEC_OTHER 126 /* execve failed for another reason than ENOENT */
#define EXIT_EXEC_NOENT 127

/* Messages on the monitor <-> sandbox socket (SOCK_SEQPACKET, one byte tag first). */
#define MSG_GO 'G'      /* monitor -> init: maps and cgroups are in place, go on */
#define MSG_EXEC 'S'    /* workload -> monitor: about to execve (the kernel attaches its pid) */
#define MSG_ACK 'A'     /* monitor -> workload: "started" is reported, go on */
#define MSG_RESULT 'R'  /* init -> monitor: struct result_msg */
#define MSG_PTY 'P'     /* init -> monitor: the master of the sandbox's own pty (SCM_RIGHTS) */
#define MSG_LISTENER 'L' /* workload -> monitor: the seccomp notify fd (SCM_RIGHTS), for the seccompListener */
struct result_msg { char tag; uint8_t exec_ok; int32_t wait_status; };

/* Namespaces the init joins (joinNamespace other than pid), opened by the monitor before clone. */
#define MAX_JOINS 8
struct joins { int n; int fd[MAX_JOINS]; uint32_t type[MAX_JOINS]; };

/* What the sandbox side inherits from the monitor. */
struct sandbox_ctx {
    const struct plan *plan;
    int sync_fd;          /* the sandbox's end of the socket */
    int pty_slave;        /* -1 without a terminal */
    struct joins joins;
    sigset_t orig_mask;   /* the caller's signal mask, restored before execve */
    struct sigaction orig_sigpipe;
};

/* The signals the monitor and the init forward to the workload. */
extern const int forwarded_signals[];
extern const size_t n_forwarded_signals;

int monitor_run(const struct plan *plan, const struct sigaction *orig_sigpipe);

/* gate.c: the monitor's directives. */
struct directives {
    int gate_r, gate_w; /* the startGate FIFO (read end, and a write end that keeps POLLHUP away) */
    int console;        /* connected to the consoleSocket; -1 without */
    int listener;       /* connected to the seccompListener; -1 without, or once it has its fd */
};
int directives_open(const struct plan *p, struct directives *d, struct joins *j);
void directives_close(struct directives *d);
int write_oom_score_adj(const struct plan *p, pid_t init);
int console_send(struct directives *d, int master);
int connect_unix(const char *path, const char *what, int *out);
int listener_send(struct directives *d, const struct op *op, int notify_fd, pid_t pid);
int gate_read(struct directives *d);
void sandbox_init_main(struct sandbox_ctx *c) __attribute__((noreturn));

/* ns.c */
int write_id_maps(pid_t pid, const struct op *idmap, bool unprivileged);
int loopback_up(void);
int idmap_userns_fd(uid_t uid, gid_t gid, const char *proc_dir);
int join_namespaces(struct joins *j);
void joins_close(struct joins *j);
int ns_clone_flag(uint32_t ns_bit);

/* mounts.c: ops [*i, ...] of the mount phase; leaves *i past pivotRoot. */
int mount_phase(const struct plan *p, uint32_t *i);

/* caps.c */
int apply_rlimit(const struct op *op);
int apply_user(const struct op *op, bool keep_caps, bool in_userns);
int apply_capabilities(const struct op *op);
int apply_capability_sets(const struct op *op);
int apply_no_new_privs(void);

/* lsm.c */
int apply_exec_label(const struct op *op);

/* landlock.c, seccomp.c */
int apply_landlock(const struct op *op);
int apply_seccomp(const struct op *op, int sync_fd);

/* pty.c */
int pty_open(int *master, int *slave);
int pty_open_inside(int *slave, const struct op *user);
int pty_attach(int slave);
void pty_raw_mode(void);
void pty_restore_mode(void);
void pty_copy_winsize(int master);
struct relay {
    int master;
    bool in_open, out_open; /* stdin not at EOF yet; the master not at EIO (a slave is open) */
    size_t in_len;          /* bytes read from stdin, not yet written to the master */
    char in[4096], out[4096];
};
void relay_init(struct relay *r, int master);
void relay_switch(struct relay *r, int master);
int relay_pollfds(struct relay *r, struct pollfd *pfd);
void relay_handle(struct relay *r, const struct pollfd *pfd, int n);
void relay_drain(struct relay *r);

/* fdpass.c: one descriptor over a unix socket (SCM_RIGHTS) with a payload; bytes sent, or -1. */
ssize_t send_with_fd(int sock, const void *payload, size_t len, int fd);

#endif
