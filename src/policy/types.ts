/**
 * The Policy: one typed value describing what a workload may do. Loaders and flags produce it;
 * nothing downstream reads files or flags again.
 */

export type Enforcement = 'required' | 'best-effort';
export type LandlockMode = 'required' | 'best-effort' | 'off';
export type NetworkMode = 'none' | 'loopback' | 'host';
export type ViolationAction = 'errno' | 'kill' | 'log';

export interface FilesystemPolicy {
  /**
   * `host`: a read-only view of the host's root; `empty`: nothing but the listed paths (what a
   * recorded policy uses); otherwise a root file system directory.
   */
  root: 'host' | 'empty' | string;
  /** Host paths visible read-only (in addition to the root view). */
  read: string[];
  /** Host paths visible read-write. */
  write: string[];
  /** Paths that get a private, empty, writable tmpfs. */
  tmpfs: string[];
  /** Paths made empty and unreadable; `*` matches one path component (e.g. /home/*\/.ssh). */
  hide: string[];
}

export interface SyscallPolicy {
  /** `stockade:default`, a Docker/OCI profile path, or `unconfined`. */
  profile: string;
  onViolation: ViolationAction;
}

export interface Limits {
  /** Bytes of memory (cgroup memory.max). */
  memory?: number;
  /** Processes and threads (cgroup pids.max). */
  pids?: number;
  /** CPUs worth of time per period (cgroup cpu.max), e.g. 0.5. */
  cpu?: number;
  /** Wall-clock time before the sandbox is killed, in milliseconds. */
  wallTimeMs?: number;
  /** CPU seconds (RLIMIT_CPU). */
  cpuTimeSec?: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles?: number;
  /** Largest file the workload may write, in bytes (RLIMIT_FSIZE). */
  fileSize?: number;
}

export interface Policy {
  /** argv; the first element is resolved against PATH inside the sandbox view. */
  command: string[];
  /** Working directory inside the sandbox; `undefined` means the caller's. */
  cwd?: string;
  /** Environment: names copied from the caller, then explicit values. */
  env: { inherit: string[]; set: Record<string, string> };
  /** Identity inside the sandbox; `undefined` picks the caller's (rootless) or 65534 (as root). */
  user?: { uid: number; gid: number };
  hostname: string;
  filesystem: FilesystemPolicy;
  network: NetworkMode;
  /**
   * TCP ports the workload may bind or connect to (enforced by Landlock, ABI 4+). A list that is
   * absent leaves that direction open; bind port 0 allows ephemeral ports.
   */
  ports?: { bind?: number[]; connect?: number[] };
  syscalls: SyscallPolicy;
  /** Capability names kept (CAP_*); everything else is dropped. */
  capabilities: string[];
  limits: Limits;
  landlock: LandlockMode;
  /** Whether a layer the host cannot enforce is an error (required) or dropped and reported. */
  enforcement: Enforcement;
  /** Interactive terminal: a private pty for the workload. `auto`: when stdin is a terminal. */
  terminal: 'auto' | boolean;
  /** Where the policy came from, for messages. */
  source: string;
}
