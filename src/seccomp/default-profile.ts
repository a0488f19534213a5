/**
 * The built-in seccomp profile `stockade:default`, kept as data: every syscall it allows or refuses
 * explicitly sits in a small group whose `reason` says why, and `defaultProfileJson()` turns the
 * tables into an ordinary Docker / OCI seccomp profile with that reason as each entry's `comment`.
 *
 * Shape of the policy:
 *   - default action ERRNO(EPERM), like Docker's profile;
 *   - everything Docker's default profile refuses to a container with Docker's default capabilities
 *     is refused here too, whatever capabilities the sandbox holds (the profile has no cap-gated
 *     entries: it never opens up because a capability was granted);
 *   - a few things Docker allows are refused as well (INTENDED_EXTRA_DENIALS, docs/seccomp-default.md);
 *   - argument filters on clone, socket/socketpair (and i386 socketcall), personality and ioctl.
 *
 * Overlapping entries are resolved by stockade's rule (rules.ts): the most specific matching entry
 * wins, so "ALLOW ioctl" plus "ERRNO for ioctl(_, TIOCSTI)" means what it says in any order.
 */

export const DEFAULT_PROFILE_NAME = 'stockade:default';

/** errno values the profile returns (asm-generic/errno*.h; the same on x86 and arm64). */
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

/** The low 32 bits: all the kernel reads of an `int` or `unsigned int` argument. */
const LOW32 = 0xffffffff;

/** clone flags that create namespaces (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET). */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

interface Group {
  /** One line: why these syscalls get this treatment. */
  reason: string;
  names: readonly string[];
  /** Only when the native arch is one of these (Docker's includes.arches). */
  arches?: readonly string[];
}

/** Native arches whose compat ABI is 32-bit ARM. */
const ARM = ['arm', 'arm64'];

interface DenyGroup extends Group {
  errno: number;
}

interface ArgTest {
  index: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ';
  /** For MASKED_EQ the mask (OCI convention); otherwise the datum. */
  value: number;
  /** For MASKED_EQ the datum compared with (arg & value). */
  valueTwo?: number;
}

interface ArgRule extends Group {
  /** 'allow', or the errno returned. */
  verdict: 'allow' | number;
  /** All must hold (one OCI entry: its args are ANDed). */
  args: readonly ArgTest[];
}

const lowBitsEq = (index: number, datum: number): ArgTest => ({ index, op: 'SCMP_CMP_MASKED_EQ', value: LOW32, valueTwo: datum });

// ---------------------------------------------------------------------------------------------
// Allowed without conditions.
// ---------------------------------------------------------------------------------------------

export const ALLOWED: readonly Group[] = [
  // Files and descriptors.
  { reason: 'plain reads and writes on descriptors the process already holds', names: ['read', 'write'] },
  { reason: 'scatter/gather and offset-taking variants of read and write', names: ['readv', 'writev', 'preadv', 'pwritev', 'preadv2', 'pwritev2'] },
  { reason: 'read or write at an offset without moving the file position (databases, git pack files)', names: ['pread64', 'pwrite64'] },
  { reason: 'open files by path; which paths are reachable is for permissions, mounts and Landlock to decide, not seccomp', names: ['open', 'openat', 'creat'] },
  { reason: 'openat with RESOLVE_* flags, which can only make path resolution stricter', names: ['openat2'] },
  { reason: 'release descriptors; close_range is how spawners drop inherited descriptors in bulk', names: ['close', 'close_range'] },
  { reason: 'move a file position (_llseek is the 32-bit ABI form taking a 64-bit offset)', names: ['lseek', '_llseek'] },
  { reason: 'file metadata: every ls, make and interpreter import runs on these', names: ['stat', 'fstat', 'lstat', 'newfstatat', 'stat64', 'fstat64', 'lstat64', 'fstatat64'] },
  { reason: 'extended file metadata; glibc and coreutils use it first when the kernel has it', names: ['statx'] },
  { reason: 'filesystem size and free space (df, checks before large writes)', names: ['statfs', 'fstatfs', 'statfs64', 'fstatfs64'] },
  { reason: 'permission checks on a path (shells probe PATH this way)', names: ['access', 'faccessat', 'faccessat2'] },
  { reason: 'read directory entries (ls, find, globbing)', names: ['getdents', 'getdents64'] },
  { reason: 'query and change the working directory', names: ['getcwd', 'chdir', 'fchdir'] },
  { reason: 'create and remove directories', names: ['mkdir', 'mkdirat', 'rmdir'] },
  { reason: 'rename files; an atomic rename is how editors, compilers and git replace files safely', names: ['rename', 'renameat', 'renameat2'] },
  { reason: 'create hard links and remove names', names: ['link', 'linkat', 'unlink', 'unlinkat'] },
  { reason: 'create and read symbolic links', names: ['symlink', 'symlinkat', 'readlink', 'readlinkat'] },
  { reason: 'change file modes; the kernel only lets the owner (or a holder of CAP_FOWNER) do so', names: ['chmod', 'fchmod', 'fchmodat', 'fchmodat2'] },
  { reason: 'change ownership; giving a file to another user needs CAP_CHOWN, which the kernel checks', names: ['chown', 'fchown', 'lchown', 'fchownat', 'chown32', 'fchown32', 'lchown32'] },
  { reason: 'set the permission mask for newly created files', names: ['umask'] },
  { reason: 'shrink or extend a file', names: ['truncate', 'ftruncate', 'truncate64', 'ftruncate64'] },
  { reason: 'reserve or punch out space in a file (databases, download managers)', names: ['fallocate'] },
  { reason: "flush one file's data to storage", names: ['fsync', 'fdatasync', 'sync_file_range'] },
  { reason: 'flush whole filesystems; costs I/O but reveals and changes nothing', names: ['sync', 'syncfs'] },
  { reason: 'descriptor flags, record locks, pipe sizes and memfd seals', names: ['fcntl', 'fcntl64'] },
  { reason: 'whole-file advisory locks (package managers, git, sqlite)', names: ['flock'] },
  { reason: 'duplicate descriptors (shell redirections, subprocess plumbing)', names: ['dup', 'dup2', 'dup3'] },
  { reason: 'set file timestamps (touch, tar, cp -p, make)', names: ['utime', 'utimes', 'futimesat', 'utimensat', 'utimensat_time64'] },
  { reason: 'read extended attributes (ACLs, file capabilities, security labels)', names: ['getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat', 'listxattr', 'llistxattr', 'flistxattr', 'listxattrat'] },
  { reason: 'write extended attributes; the trusted.* and security.* namespaces need capabilities the kernel checks', names: ['setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat', 'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat'] },
  { reason: 'make FIFOs and socket nodes; device nodes need CAP_MKNOD, which the kernel checks', names: ['mknod', 'mknodat'] },
  { reason: 'tell the page cache what will be read next', names: ['readahead', 'fadvise64', 'fadvise64_64'] },
  { reason: 'copy between descriptors inside the kernel (cp, web servers)', names: ['sendfile', 'sendfile64', 'copy_file_range'] },
  { reason: 'move data through pipes without copying it to user space', names: ['splice', 'tee', 'vmsplice'] },
  { reason: 'device and file controls (terminal modes, FIONREAD, FICLONE); TIOCSTI and TIOCLINUX are refused by the more specific ioctl rules', names: ['ioctl'] },
  { reason: 'watch files for changes (editors, build watchers, tail -f)', names: ['inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch'] },
  { reason: 'only acts on a fanotify descriptor, which fanotify_init (refused) would have to create', names: ['fanotify_mark'] },
  { reason: 'page-cache residency of a file the caller could read anyway (mincore for files)', names: ['cachestat'] },
  { reason: "mount details of the caller's own mount namespace, the facts /proc/self/mountinfo already shows", names: ['statmount', 'listmount'] },

  // Memory.
  { reason: 'allocate and map memory (malloc, loading shared libraries)', names: ['brk', 'mmap', 'mmap2', 'munmap', 'mremap'] },
  { reason: 'change page protections (the dynamic loader, JIT compilers such as V8)', names: ['mprotect'] },
  { reason: 'memory usage advice; allocators hand memory back with MADV_DONTNEED and MADV_FREE', names: ['madvise'] },
  { reason: 'which pages of a mapping are resident', names: ['mincore'] },
  { reason: 'flush a shared file mapping to its file', names: ['msync'] },
  { reason: 'deprecated; the kernel emulates it with ordinary mappings', names: ['remap_file_pages'] },
  { reason: 'pin pages in RAM (key material, audio); bounded by RLIMIT_MEMLOCK', names: ['mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall'] },
  { reason: 'anonymous in-memory files (JIT double mapping, sealed buffers, shared memory)', names: ['memfd_create'] },
  { reason: "memory taken out of the kernel's direct map to hold secrets; charged to RLIMIT_MEMLOCK", names: ['memfd_secret'] },
  { reason: 'memory protection keys, used by V8 and hardened allocators to guard their own pages', names: ['pkey_alloc', 'pkey_free', 'pkey_mprotect'] },
  { reason: 'process-wide memory barriers for JITs and userspace RCU', names: ['membarrier'] },
  { reason: 'seal mappings against later change; it can only restrict the caller', names: ['mseal'] },
  { reason: 'allocate a shadow stack for a new thread when glibc runs with CET shadow stacks', names: ['map_shadow_stack'] },
  { reason: 'free the memory of a process that is already being killed, given its pidfd (userspace OOM killers)', names: ['process_mrelease'] },

  // Processes and threads.
  { reason: 'create processes; vfork is what posix_spawn and shells use to start commands', names: ['fork', 'vfork'] },
  { reason: 'run programs', names: ['execve', 'execveat'] },
  { reason: 'end the calling thread or the whole process', names: ['exit', 'exit_group'] },
  { reason: 'reap child processes and collect their status', names: ['wait4', 'waitid', 'waitpid'] },
  { reason: 'own process and thread ids', names: ['getpid', 'getppid', 'gettid'] },
  { reason: 'process groups and sessions for job control (interactive shells, daemons)', names: ['getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid'] },
  { reason: 'per-thread bookkeeping that libc sets up for every new thread', names: ['set_tid_address', 'set_robust_list', 'get_robust_list'] },
  { reason: 'thread synchronisation: mutexes, condition variables, thread joins', names: ['futex', 'futex_time64', 'futex_waitv', 'futex_wait', 'futex_wake', 'futex_requeue'] },
  { reason: 'restartable sequences, registered by glibc 2.35+ for every thread', names: ['rseq'] },
  { reason: 'x86 thread pointer (FS/GS base) setup, done by every x86_64 program at start', names: ['arch_prctl'] },
  { reason: 'thread-local storage descriptors of the i386 ABI', names: ['set_thread_area', 'get_thread_area'] },
  { reason: 'per-process settings (name, no_new_privs, dumpable, parent-death signal); privileged options are checked by the kernel', names: ['prctl'] },
  { reason: 'give up the CPU', names: ['sched_yield'] },
  { reason: 'CPU affinity (nproc, thread pool sizing); the kernel keeps it inside the allowed cpuset', names: ['sched_getaffinity', 'sched_setaffinity'] },
  { reason: 'read scheduling policy and priority ranges', names: ['sched_getparam', 'sched_getscheduler', 'sched_getattr', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval', 'sched_rr_get_interval_time64'] },
  { reason: 'change own scheduling policy; realtime policies and higher priority need CAP_SYS_NICE', names: ['sched_setparam', 'sched_setscheduler', 'sched_setattr'] },
  { reason: 'nice values; raising priority needs CAP_SYS_NICE', names: ['getpriority', 'setpriority'] },
  { reason: 'I/O priority (ionice); the realtime class needs privilege the kernel checks', names: ['ioprio_get', 'ioprio_set'] },
  { reason: 'resource limits; raising a hard limit needs CAP_SYS_RESOURCE', names: ['getrlimit', 'setrlimit', 'prlimit64', 'ugetrlimit'] },
  { reason: 'resource usage of self and children (time, make, benchmarks)', names: ['getrusage', 'times'] },
  { reason: 'read capabilities or drop them; capset can never add one the process lacks', names: ['capget', 'capset'] },
  { reason: 'own user and group ids (id, whoami, permission logic in programs)', names: ['getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups', 'getuid32', 'geteuid32', 'getgid32', 'getegid32', 'getresuid32', 'getresgid32', 'getgroups32'] },
  { reason: 'switch among ids the process already has; any other id needs CAP_SETUID or CAP_SETGID', names: ['setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups', 'setuid32', 'setgid32', 'setreuid32', 'setregid32', 'setresuid32', 'setresgid32', 'setfsuid32', 'setfsgid32', 'setgroups32'] },
  { reason: 'send signals; the kernel only lets them reach processes of the same user', names: ['kill', 'tkill', 'tgkill'] },
  { reason: 'queue a signal with a payload (sigqueue); same permission checks as kill', names: ['rt_sigqueueinfo', 'rt_tgsigqueueinfo'] },
  { reason: 'race-free waiting on and signalling of child processes', names: ['pidfd_open', 'pidfd_send_signal'] },
  { reason: 'install signal handlers, block signals and wait for them', names: ['rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'sigaltstack'] },
  { reason: 'i386 signal-mask change and return from a handler installed without SA_SIGINFO (glibc still uses sigreturn there)', names: ['sigprocmask', 'sigreturn'] },
  { reason: 'lets the kernel resume a sleep that a signal interrupted', names: ['restart_syscall'] },
  { reason: 'sleep', names: ['pause', 'nanosleep', 'clock_nanosleep', 'clock_nanosleep_time64'] },
  { reason: 'classic interval timers (alarm, timeout)', names: ['alarm', 'getitimer', 'setitimer'] },
  { reason: 'POSIX per-process timers', names: ['timer_create', 'timer_settime', 'timer_settime64', 'timer_gettime', 'timer_gettime64', 'timer_getoverrun', 'timer_delete'] },
  { reason: 'timers delivered through a descriptor (event loops)', names: ['timerfd_create', 'timerfd_settime', 'timerfd_settime64', 'timerfd_gettime', 'timerfd_gettime64'] },
  { reason: 'read clocks; usually answered by the vDSO, these are the fallback', names: ['clock_gettime', 'clock_gettime64', 'clock_getres', 'clock_getres_time64', 'gettimeofday', 'time'] },
  { reason: 'read the clock discipline state (ntp_gettime, chronyc); changing it needs CAP_SYS_TIME, which the kernel checks', names: ['adjtimex', 'clock_adjtime', 'clock_adjtime64'] },
  { reason: 'event counters for event loops', names: ['eventfd', 'eventfd2'] },
  { reason: 'receive signals through a descriptor', names: ['signalfd', 'signalfd4'] },
  { reason: 'scalable readiness notification (node, python asyncio, servers)', names: ['epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2'] },
  { reason: 'wait for descriptors to become ready', names: ['poll', 'ppoll', 'ppoll_time64', 'select', '_newselect', 'pselect6', 'pselect6_time64'] },
  { reason: 'pipes (shell pipelines, subprocess output)', names: ['pipe', 'pipe2'] },
  { reason: 'kernel name and version (uname, configure scripts, runtime feature checks)', names: ['uname'] },
  { reason: 'uptime, load and memory totals (free, os.totalmem())', names: ['sysinfo'] },
  { reason: 'the CPU and NUMA node the thread runs on (sched_getcpu, per-CPU caches)', names: ['getcpu'] },
  { reason: 'kernel randomness (hash seeds, TLS keys, UUIDs)', names: ['getrandom'] },
  { reason: 'install further seccomp filters; a filter can only narrow what is allowed', names: ['seccomp'] },
  { reason: 'Landlock, so a sandboxed program can restrict itself further', names: ['landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self'] },
  { reason: 'Linux native AIO (databases, qemu); bounded by fs.aio-max-nr', names: ['io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64'] },
  { reason: 'System V shared memory (PostgreSQL, X11 clients)', names: ['shmget', 'shmat', 'shmdt', 'shmctl'] },
  { reason: 'System V semaphores', names: ['semget', 'semop', 'semtimedop', 'semtimedop_time64', 'semctl'] },
  { reason: 'System V message queues', names: ['msgget', 'msgsnd', 'msgrcv', 'msgctl'] },
  { reason: 'the i386 multiplexer for the System V IPC calls', names: ['ipc'] },
  { reason: 'POSIX message queues', names: ['mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_notify', 'mq_getsetattr'] },

  // Networking (socket and socketpair themselves are filtered by family below).
  { reason: 'connect, bind, listen and accept on sockets the family filter let through', names: ['connect', 'bind', 'listen', 'accept', 'accept4', 'shutdown'] },
  { reason: 'socket addresses and options; privileged options are checked by the kernel', names: ['getsockname', 'getpeername', 'getsockopt', 'setsockopt'] },
  { reason: 'send and receive data on sockets', names: ['sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'recvmmsg_time64', 'send', 'recv'] },
  { reason: 'i386 socket multiplexer that 32-bit glibc uses for every socket call; creating sockets through it is refused by the more specific socketcall rules', names: ['socketcall'] },

  // Kernel-issued.
  { reason: "issued only by the kernel's own return-probe trampoline; refusing it would crash processes someone probes", names: ['uretprobe'] },

  // 32-bit ARM calls (the arm compat ABI of an aarch64 host, for runtimes that filter it).
  { reason: '32-bit ARM: set the TLS register (its arch_prctl)', names: ['set_tls'], arches: ARM },
  { reason: '32-bit ARM: flush the instruction cache after JIT code is written', names: ['cacheflush'], arches: ARM },
  { reason: '32-bit ARM: the trap debuggers and abort() use as a breakpoint', names: ['breakpoint'], arches: ARM },
  { reason: '32-bit ARM argument orders of fadvise64_64 and sync_file_range', names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2'], arches: ARM },
];

// ---------------------------------------------------------------------------------------------
// Allowed or refused depending on arguments. The more specific rule wins over the catch-all.
// ---------------------------------------------------------------------------------------------

export const ARGUMENT_RULES: readonly ArgRule[] = [
  {
    reason: 'create threads and processes; any CLONE_NEW* flag (a new namespace) falls to the catch-all below',
    names: ['clone'], verdict: 'allow',
    args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: CLONE_NAMESPACE_FLAGS, valueTwo: 0 }],
  },
  { reason: 'clone with namespace flags: new namespaces expose kernel code normally reachable only by root', names: ['clone'], verdict: EPERM, args: [] },

  { reason: 'AF_UNIX: local sockets (D-Bus, X11, language servers, syslog)', names: ['socket', 'socketpair'], verdict: 'allow', args: [lowBitsEq(0, 1)] },
  { reason: 'AF_INET: IPv4', names: ['socket', 'socketpair'], verdict: 'allow', args: [lowBitsEq(0, 2)] },
  { reason: 'AF_INET6: IPv6', names: ['socket', 'socketpair'], verdict: 'allow', args: [lowBitsEq(0, 10)] },
  { reason: 'AF_NETLINK: getaddrinfo and ip(8) read interface addresses and routes through it; changes need CAP_NET_ADMIN', names: ['socket', 'socketpair'], verdict: 'allow', args: [lowBitsEq(0, 16)] },
  { reason: 'every other address family (packet, AF_ALG, AF_VSOCK, bluetooth, ...) is rarely needed and a common home of kernel bugs; EAFNOSUPPORT lets programs fall back', names: ['socket', 'socketpair'], verdict: EAFNOSUPPORT, args: [] },

  { reason: 'socketcall(SYS_SOCKET): the family sits in memory where seccomp cannot check it, so i386 code could dodge the family filter; musl and glibc built for 4.3+ kernels use the filtered socket call instead', names: ['socketcall'], verdict: EAFNOSUPPORT, args: [lowBitsEq(0, 1)] },
  { reason: 'socketcall(SYS_SOCKETPAIR): refused for the same reason as SYS_SOCKET', names: ['socketcall'], verdict: EAFNOSUPPORT, args: [lowBitsEq(0, 8)] },

  { reason: 'personality PER_LINUX: the normal persona', names: ['personality'], verdict: 'allow', args: [lowBitsEq(0, 0x0)] },
  { reason: 'personality PER_LINUX32: what linux32 and setarch i686 ask for', names: ['personality'], verdict: 'allow', args: [lowBitsEq(0, 0x8)] },
  { reason: 'personality UNAME26: report a 2.6 kernel version to old programs', names: ['personality'], verdict: 'allow', args: [lowBitsEq(0, 0x20000)] },
  { reason: 'personality UNAME26 with PER_LINUX32', names: ['personality'], verdict: 'allow', args: [lowBitsEq(0, 0x20008)] },
  { reason: 'personality 0xffffffff: query the persona without changing it', names: ['personality'], verdict: 'allow', args: [lowBitsEq(0, 0xffffffff)] },
  { reason: 'any other persona, notably ADDR_NO_RANDOMIZE (turns off ASLR) and READ_IMPLIES_EXEC (makes readable memory executable)', names: ['personality'], verdict: EPERM, args: [] },

  { reason: "TIOCSTI pushes characters into a terminal's input queue: a sandboxed program could type commands into the caller's shell", names: ['ioctl'], verdict: EPERM, args: [lowBitsEq(1, 0x5412)] },
  { reason: "TIOCLINUX can paste the Linux console's selection into its input, another way to inject keystrokes", names: ['ioctl'], verdict: EPERM, args: [lowBitsEq(1, 0x541c)] },
];

// ---------------------------------------------------------------------------------------------
// Refused. EPERM for what a sandbox must not do; ENOSYS where callers should behave as on a
// kernel without the call (and fall back to something that is allowed).
// ---------------------------------------------------------------------------------------------

export const DENIED: readonly DenyGroup[] = [
  // Mounts and the filesystem view.
  { errno: EPERM, reason: 'attach a filesystem: would let the sandbox rearrange its view of the filesystem or reach new devices', names: ['mount'] },
  { errno: EPERM, reason: 'detach a mount, which can uncover what an overmount hides', names: ['umount', 'umount2'] },
  { errno: EPERM, reason: 'new mount API: create a filesystem context (the first step of a mount)', names: ['fsopen'] },
  { errno: EPERM, reason: 'new mount API: configure a filesystem context, including its source', names: ['fsconfig'] },
  { errno: EPERM, reason: 'new mount API: turn a configured filesystem context into a mount', names: ['fsmount'] },
  { errno: EPERM, reason: 'new mount API: reopen an existing mount for reconfiguration', names: ['fspick'] },
  { errno: EPERM, reason: 'new mount API: attach or move a mount in the tree', names: ['move_mount'] },
  { errno: EPERM, reason: 'clone a mount tree so it can be attached elsewhere', names: ['open_tree'] },
  { errno: EPERM, reason: 'open_tree that also changes mount attributes such as read-only or idmapping', names: ['open_tree_attr'] },
  { errno: EPERM, reason: 'change mount attributes: could drop read-only or nosuid, or add an idmapping', names: ['mount_setattr'] },
  { errno: EPERM, reason: 'swap the root mount, a step in escaping a prepared root', names: ['pivot_root'] },
  { errno: EPERM, reason: 'change the root directory: stockade sets up the root itself, and a chroot plus a kept directory descriptor is a classic escape', names: ['chroot'] },
  { errno: EPERM, reason: 'open any file by handle without a path check: the route of the "shocker" container escape', names: ['open_by_handle_at'] },
  { errno: EPERM, reason: 'mint file handles, which only open_by_handle_at can use and which disclose inode and filesystem ids', names: ['name_to_handle_at'] },

  // Namespaces.
  { errno: EPERM, reason: 'create namespaces: a user namespace exposes kernel code normally reachable only by root', names: ['unshare'] },
  { errno: EPERM, reason: 'join another namespace through a descriptor that leaked into the sandbox', names: ['setns'] },
  { errno: ENOSYS, reason: 'clone3 takes its flags in memory where seccomp cannot check them; ENOSYS makes glibc fall back to clone, whose flags are checked', names: ['clone3'] },
  { errno: EPERM, reason: 'enumerate namespaces beyond the sandbox\'s own', names: ['listns'] },

  // Large kernel attack surfaces.
  { errno: EPERM, reason: 'load eBPF programs and maps: a large verifier and JIT with a long record of privilege escalations', names: ['bpf'] },
  { errno: EPERM, reason: 'performance counters: reveal other activity and kernel addresses, with a long record of kernel bugs', names: ['perf_event_open'] },
  { errno: EPERM, reason: 'handle page faults in user space: lets an exploit pause the kernel mid-copy to win a race', names: ['userfaultfd'] },
  { errno: EPERM, reason: 'io_uring: runs I/O that seccomp never sees, and a frequent source of kernel exploits; EPERM is also what io_uring_disabled answers', names: ['io_uring_setup'] },
  { errno: EPERM, reason: 'submit work to an io_uring (only reachable through io_uring_setup)', names: ['io_uring_enter'] },
  { errno: EPERM, reason: 'register files and buffers with an io_uring (only reachable through io_uring_setup)', names: ['io_uring_register'] },

  // Other processes.
  { errno: EPERM, reason: 'attach to and rewrite another process; Docker allows it, but one sandboxed process could hijack another and read its secrets', names: ['ptrace'] },
  { errno: EPERM, reason: "read another process's memory directly (the ptrace permission without ptrace)", names: ['process_vm_readv'] },
  { errno: EPERM, reason: "write another process's memory directly", names: ['process_vm_writev'] },
  { errno: EPERM, reason: 'compare kernel objects of two processes, which leaks the ordering of kernel pointers', names: ['kcmp'] },
  { errno: EPERM, reason: 'take a copy of a descriptor out of another process', names: ['pidfd_getfd'] },
  { errno: EPERM, reason: "give memory advice for another process's address space", names: ['process_madvise'] },

  // Keys.
  { errno: EPERM, reason: 'kernel keyrings are not namespaced: a sandbox could read or plant keys of the same user', names: ['keyctl'] },
  { errno: EPERM, reason: 'add a key to a kernel keyring (see keyctl)', names: ['add_key'] },
  { errno: EPERM, reason: 'ask the kernel to find or construct a key, possibly by running a helper (see keyctl)', names: ['request_key'] },

  // The kernel itself.
  { errno: EPERM, reason: 'load a new kernel to boot into', names: ['kexec_load', 'kexec_file_load'] },
  { errno: EPERM, reason: 'load a kernel module', names: ['init_module', 'finit_module'] },
  { errno: EPERM, reason: 'unload a kernel module', names: ['delete_module'] },
  { errno: EPERM, reason: 'module calls of Linux 2.4, gone since 2.6', names: ['create_module', 'get_kernel_syms', 'query_module'] },

  // Machine-wide state.
  { errno: EPERM, reason: 'reboot or halt the machine', names: ['reboot'] },
  { errno: EPERM, reason: 'turn swap devices on or off', names: ['swapon', 'swapoff'] },
  { errno: EPERM, reason: 'switch process accounting on or off', names: ['acct'] },
  { errno: EPERM, reason: 'manage disk quotas', names: ['quotactl', 'quotactl_fd'] },
  { errno: EPERM, reason: 'set the wall clock, which the whole machine shares', names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'] },
  { errno: EPERM, reason: 'rename the host or NIS domain', names: ['sethostname', 'setdomainname'] },
  { errno: EPERM, reason: 'read or clear the kernel log, which leaks kernel addresses and what the rest of the machine is doing', names: ['syslog'] },
  { errno: EPERM, reason: 'hang up the controlling terminal', names: ['vhangup'] },
  { errno: EPERM, reason: 'read or set NUMA memory policy; Docker grants the NUMA calls only with CAP_SYS_NICE, and libnuma reads failure as "no NUMA"', names: ['get_mempolicy', 'set_mempolicy', 'mbind', 'set_mempolicy_home_node'] },
  { errno: EPERM, reason: 'move pages of a process, possibly another one, between NUMA nodes', names: ['move_pages', 'migrate_pages'] },
  { errno: EPERM, reason: 'create a filesystem-wide event monitor that, with privileges, can intercept and block file access', names: ['fanotify_init'] },
  { errno: EPERM, reason: 'set LSM attributes (security labels) of the caller', names: ['lsm_set_self_attr'] },
  { errno: ENOSYS, reason: 'Docker grants these only with CAP_SYS_ADMIN; ENOSYS sends callers back to /proc/self/attr and /sys/kernel/security/lsm', names: ['lsm_get_self_attr', 'lsm_list_modules'] },
  { errno: ENOSYS, reason: 'new (6.17) inode-attribute calls that Docker does not allow yet; ENOSYS sends callers back to the FS_IOC_FSGETXATTR ioctls', names: ['file_getattr', 'file_setattr'] },
  { errno: EPERM, reason: "entered only from the kernel's optimised uprobe trampoline, never by a program itself; Docker does not allow it", names: ['uprobe'] },

  // Hardware and the x86 legacy.
  { errno: EPERM, reason: 'direct access to hardware I/O ports', names: ['iopl', 'ioperm'] },
  { errno: EPERM, reason: 'virtual-8086 mode for DOS emulation on i386, a rarely exercised kernel path', names: ['vm86', 'vm86old'] },
  { errno: EPERM, reason: 'per-process x86 segment descriptors: needed only by Wine and DOS emulators, and a past source of kernel bugs', names: ['modify_ldt'] },

  // Obsolete interfaces.
  { errno: EPERM, reason: 'oprofile-era path lookup by cookie, removed from recent kernels', names: ['lookup_dcookie'] },
  { errno: EPERM, reason: 'kernel NFS server control, removed in Linux 3.1', names: ['nfsservctl'] },
  { errno: EPERM, reason: 'load an a.out shared library through a legacy loader path', names: ['uselib'] },
  { errno: EPERM, reason: 'filesystem statistics by device number, superseded by statfs', names: ['ustat'] },
  { errno: EPERM, reason: 'list filesystem types by index, superseded by /proc/filesystems', names: ['sysfs'] },
  { errno: EPERM, reason: 'binary sysctl interface, removed in Linux 5.5', names: ['_sysctl'] },
  { errno: ENOSYS, reason: 'i386 calls from before glibc 2 (libc5 and older); nothing current uses them', names: ['oldstat', 'oldfstat', 'oldlstat', 'olduname', 'oldolduname', 'readdir', 'bdflush'] },
  { errno: ENOSYS, reason: 'i386 signal and priority calls that current libcs replaced with rt_sig* and setpriority; Docker refuses them too', names: ['signal', 'sigaction', 'sigpending', 'sigsuspend', 'sgetmask', 'ssetmask', 'nice'] },
  { errno: ENOSYS, reason: 'reserved slots the kernel never implemented; ENOSYS is what it would answer itself', names: ['epoll_ctl_old', 'epoll_wait_old', 'getpmsg', 'putpmsg', 'afs_syscall', 'tuxcall', 'security', 'vserver'] },
  { errno: ENOSYS, reason: 'i386 slots inherited from Unix and never implemented by Linux', names: ['break', 'stty', 'gtty', 'ftime', 'prof', 'lock', 'mpx', 'ulimit', 'profil', 'idle'] },
];

/**
 * x86_64 syscalls that Docker's default profile (moby-default.json, Docker's default capabilities,
 * kernel 6.18) allows and stockade:default refuses, judged with all arguments zero. Each is
 * explained in docs/seccomp-default.md. socket and socketpair stand for the address-family filter
 * (with zero arguments, AF_UNSPEC); epoll_ctl_old and epoll_wait_old answer ENOSYS either way.
 */
export const INTENDED_EXTRA_DENIALS: readonly string[] = [
  'ptrace',
  'socket',
  'socketpair',
  'modify_ldt',
  'chroot',
  'epoll_ctl_old',
  'epoll_wait_old',
  'name_to_handle_at',
  'process_vm_readv',
  'process_vm_writev',
];

function argJson(a: ArgTest): Record<string, unknown> {
  const out: Record<string, unknown> = { index: a.index, value: a.value };
  if (a.valueTwo !== undefined) out.valueTwo = a.valueTwo;
  out.op = a.op;
  return out;
}

/** The profile in Docker / OCI seccomp JSON form (plain JSON-compatible object). */
export function defaultProfileJson(): Record<string, unknown> {
  const syscalls: Array<Record<string, unknown>> = [];
  const push = (g: Group, verdict: 'allow' | number, args: readonly ArgTest[]) => {
    const entry: Record<string, unknown> = { names: [...g.names] };
    if (verdict === 'allow') entry.action = 'SCMP_ACT_ALLOW';
    else {
      entry.action = 'SCMP_ACT_ERRNO';
      entry.errnoRet = verdict;
    }
    if (args.length > 0) entry.args = args.map(argJson);
    entry.comment = g.reason;
    if (g.arches) entry.includes = { arches: [...g.arches] };
    syscalls.push(entry);
  };
  for (const g of ALLOWED) push(g, 'allow', []);
  for (const r of ARGUMENT_RULES) push(r, r.verdict, r.args);
  for (const g of DENIED) push(g, g.errno, []);
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    archMap: [
      // No x32: almost no userland uses it and most kernels leave it out; the filter kills it.
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls,
  };
}
