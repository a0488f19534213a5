/**
 * Which arguments of which syscalls name files, and what using them means for a policy. One table
 * for both recorders: strace's reader picks the same arguments out of its text, and the fast
 * recorder tells its eBPF programs which arguments to copy (native/recorder/ebpf_recorder.c, CONFIG).
 */

/**
 * `open`: read or write by its flags; `read`, `write`, `exec`: as named; `stat`: looked at without
 * being opened (a directory only looked at on the way to a file needs no grant).
 */
export type PathClass = 'open' | 'read' | 'write' | 'exec' | 'stat';

/** A path argument, and the directory-descriptor argument it is relative to (the *at calls). */
export interface PathArg {
  arg: number;
  dirfd?: number;
}

export interface PathSyscall {
  cls: PathClass;
  paths: PathArg[];
  /** The argument holding open flags. */
  flags?: number;
  /** The argument pointing at a struct whose first u64 is the open flags (openat2's open_how). */
  flagsAt?: number;
}

const at = (arg: number, dirfd?: number): PathArg => (dirfd === undefined ? { arg } : { arg, dirfd });
const each = (names: string[], s: PathSyscall): Array<[string, PathSyscall]> => names.map((n) => [n, s]);

export const PATH_SYSCALLS: Readonly<Record<string, PathSyscall>> = Object.fromEntries([
  ['open', { cls: 'open', paths: [at(0)], flags: 1 }],
  ['openat', { cls: 'open', paths: [at(1, 0)], flags: 2 }],
  ['openat2', { cls: 'open', paths: [at(1, 0)], flagsAt: 2 }],
  ['creat', { cls: 'write', paths: [at(0)] }],
  ['execve', { cls: 'exec', paths: [at(0)] }],
  ['execveat', { cls: 'exec', paths: [at(1, 0)] }],
  ...each(['stat', 'lstat', 'access', 'readlink', 'statfs'], { cls: 'stat', paths: [at(0)] }),
  ...each(['newfstatat', 'statx', 'faccessat', 'faccessat2', 'readlinkat'], { cls: 'stat', paths: [at(1, 0)] }),
  ...each(['getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'chdir'], { cls: 'read', paths: [at(0)] }),
  ...each(['getxattrat', 'listxattrat'], { cls: 'read', paths: [at(1, 0)] }),
  ...each(['mkdir', 'rmdir', 'unlink', 'chmod', 'chown', 'lchown', 'truncate', 'utime', 'utimes', 'mknod', 'setxattr', 'lsetxattr', 'removexattr', 'lremovexattr'], { cls: 'write', paths: [at(0)] }),
  ...each(['mkdirat', 'unlinkat', 'fchmodat', 'fchmodat2', 'fchownat', 'utimensat', 'mknodat', 'setxattrat', 'removexattrat'], { cls: 'write', paths: [at(1, 0)] }),
  ...each(['rename', 'link'], { cls: 'write', paths: [at(0), at(1)] }),
  ...each(['renameat', 'renameat2', 'linkat'], { cls: 'write', paths: [at(1, 0), at(3, 2)] }),
  // A symlink's target is text stored in the link, not a file the call touches.
  ['symlink', { cls: 'write', paths: [at(1)] }],
  ['symlinkat', { cls: 'write', paths: [at(2, 1)] }],
]);

/** Syscalls that change which path a descriptor or the working directory stands for. */
export const FD_SYSCALLS: readonly string[] = ['close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'fchdir'];

/** Syscalls with a socket address (argument 1): where the workload connects, binds, was bound. */
export const ADDRESS_SYSCALLS: readonly string[] = ['connect', 'bind', 'getsockname'];

const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;

/** Whether open flags write (or create, truncate, append). */
export function openWrites(flags: number): boolean {
  return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) !== 0;
}

/** What a successful call of `cls` (with these open flags) means for the policy. */
export function effectiveClass(cls: PathClass, flags: number | undefined): Exclude<PathClass, 'open'> {
  if (cls !== 'open') return cls;
  return openWrites(flags ?? 0) ? 'write' : 'read';
}

/** CONFIG bits of native/recorder/ebpf_recorder.c. */
const C = { SAVE: 0x1, P0: 0x10, P1: 0x100, SOCK: 0x1000, DEREF: 0x10000, OK: 0x20000, ERR: 0x40000 } as const;

/**
 * The fast recorder's per-syscall CONFIG. `record`: every successful call with its paths (exec
 * paths come from the kernel's exec records instead: the caller's memory is gone after a
 * successful execve). `watch` (naming what an enforcing run blocked): every call failing with
 * EPERM, ENOENT, EACCES or EROFS, with its paths or address, plus the successful calls that
 * change what a relative path means (open, chdir, the descriptor calls).
 */
export function recorderConfig(name: string, mode: 'record' | 'watch'): number {
  const p = PATH_SYSCALLS[name];
  if (p) {
    let cfg: number = C.SAVE | C.P0 | (p.paths[0]!.arg << 1);
    if (p.paths[1]) cfg |= C.P1 | (p.paths[1].arg << 5);
    if (p.flagsAt !== undefined) cfg |= C.DEREF | (p.flagsAt << 13);
    if (mode === 'record') return p.cls === 'exec' ? 0 : cfg | C.OK;
    return cfg | C.ERR | (p.cls === 'open' || name === 'chdir' ? C.OK : 0);
  }
  if (FD_SYSCALLS.includes(name)) return C.SAVE | C.OK;
  if (ADDRESS_SYSCALLS.includes(name)) {
    const cfg = C.SAVE | C.SOCK | (1 << 9);
    if (mode === 'record') return cfg | C.OK;
    return name === 'getsockname' ? 0 : cfg | C.ERR;
  }
  return 0;
}
