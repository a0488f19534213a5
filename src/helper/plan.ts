/**
 * The plan the TypeScript side sends to the C helper (native/helper): an ordered list of
 * operations. The helper executes them in the order of PHASES below and refuses a plan whose
 * operations are out of that order; it decides nothing itself (mechanism, not policy).
 * docs/protocol.md gives the wire encoding (src/helper/protocol.ts encodes, native/helper decodes).
 */

/** Linux capability numbers (linux/capability.h): one table, owned by the policy. */
export { CAPABILITY_NUMBERS as CAPABILITIES } from '../policy/capabilities.js';

/** RLIMIT_* numbers (asm-generic/resource.h). */
export const RLIMITS = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9,
  locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
} as const;
export type RlimitName = keyof typeof RLIMITS;

/** RLIM_INFINITY */
export const UNLIMITED = 0xffffffffffffffffn;

export interface Namespaces {
  user: boolean;
  pid: boolean;
  mount: boolean;
  net: boolean;
  uts: boolean;
  ipc: boolean;
  cgroup: boolean;
}

/** Landlock access rights, as the kernel numbers them (linux/landlock.h). */
export interface LandlockRuleset {
  /** The ABI the rights were computed for; the helper refuses to run on a lower one when required. */
  abi: number;
  /** handled_access_fs: every right listed here is denied except where a rule grants it. */
  handledFs: bigint;
  /** handled_access_net (ABI 4+). */
  handledNet: bigint;
  /** scoped (ABI 6+): LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1, LANDLOCK_SCOPE_SIGNAL = 2. */
  scoped: bigint;
  /** Path rules: the path is opened (O_PATH) after pivot_root, inside the sandbox's view. */
  paths: Array<{ path: string; access: bigint; optional: boolean }>;
  /** TCP port rules: access is LANDLOCK_ACCESS_NET_BIND_TCP (1) and/or CONNECT_TCP (2). */
  ports: Array<{ port: number; access: bigint }>;
  /** Refuse to run when the kernel's ABI is below `abi` (else apply what the kernel supports). */
  required: boolean;
}

/** Namespace types a plan can join by path (OCI `linux.namespaces[].path`). */
export type JoinableNamespace = 'net' | 'ipc' | 'uts' | 'pid' | 'mount' | 'cgroup';

export type PlanOp =
  // 0. monitor directives, carried out by the monitor before or around clone()
  //    startGate: the monitor opens the FIFO (a host path) before clone; when the workload is ready to
  //    execve it reports {kind:'created'} and holds the workload until one byte arrives on the FIFO
  //    (`stockade-runtime start` writes it), then reports 'started' and lets it go on.
  | { op: 'startGate'; fifo: string }
  //    consoleSocket: in terminal mode, the pty master is sent over this unix socket (SCM_RIGHTS, as
  //    runc's --console-socket) instead of being relayed on stdio.
  | { op: 'consoleSocket'; path: string }
  //    oomScoreAdj: written to /proc/<init>/oom_score_adj by the monitor before the init is released.
  | { op: 'oomScoreAdj'; value: number }
  //    seccompListener (OCI linux.seccomp.listenerPath): the monitor connects to this unix socket before
  //    clone. The seccomp op with SECCOMP_FILTER_FLAG_NEW_LISTENER (exactly one is required) gives the
  //    workload a notify fd, which it passes to the monitor right after the load; the monitor sends it
  //    (SCM_RIGHTS) with the OCI container process state, {"ociVersion","fds":["seccompFd"],"pid",
  //    "metadata","state"}, then closes the connection. `state` is a JSON object without "pid" (the
  //    monitor adds the workload's); `metadata` is sent only when not empty.
  | { op: 'seccompListener'; path: string; metadata: string; state: string }
  // 1. namespaces
  //    joinNamespace: pid is joined by the monitor (setns before clone: the init is then not pid 1);
  //    the others by the init, first thing after release (mount: the root and cwd become that
  //    namespace's root; a plan that joins a mount namespace has no mount ops).
  | { op: 'joinNamespace'; type: JoinableNamespace; path: string }
  //    namespaces: created by the helper's clone(); `user` makes a user namespace (needed rootless).
  | { op: 'namespaces'; ns: Namespaces }
  // 2. uid/gid maps for the user namespace (one range each); written by the parent.
  | { op: 'idmap'; uidInside: number; uidOutside: number; uidCount: number; gidInside: number; gidOutside: number; gidCount: number }
  // 3. mounts, building the new root under a staging directory; targets are paths inside the new root.
  | { op: 'rootTmpfs' } // the new root is an empty tmpfs (mode 0755)
  | { op: 'rootBind'; source: string } // the new root is a recursive read-only bind of a rootfs directory
  // the new root is a recursive bind of an OCI bundle's rootfs (its contents are untrusted: every later
  // target is resolved inside it, symlinks included, with openat2 RESOLVE_IN_ROOT); read-only last
  | { op: 'rootfs'; source: string; readOnly: boolean }
  // a general mount (OCI `mounts[]`): `flags` are MS_* for mount(2) (MS_BIND with MS_RDONLY etc. is a
  // bind followed by a remount carrying the flags); `propagation` (MS_PRIVATE, MS_SLAVE, MS_SHARED,
  // MS_UNBINDABLE, optionally | MS_REC) is applied after; the target (inside the new root) is created
  // as a directory or an empty file (`kind`) when absent
  | { op: 'mount'; source: string; target: string; fstype: string; flags: bigint; propagation: bigint; data: string; kind: 'dir' | 'file' }
  // write value to /proc/sys/<key with dots as slashes> of the new root (after its proc mount)
  | { op: 'sysctl'; key: string; value: string }
  | { op: 'bind'; source: string; target: string; readOnly: boolean; optional: boolean; /** as root: files owned by host root appear owned by the sandbox's root (idmapped mount) */ idmapRoot: boolean }
  | { op: 'tmpfs'; target: string; sizeBytes: number; mode: number }
  | { op: 'proc'; target: string }
  | { op: 'dev'; target: string } // null zero full random urandom tty, devpts+ptmx, shm, fd/stdin/stdout/stderr links
  | { op: 'mkdir'; target: string; mode: number }
  | { op: 'symlink'; target: string; linkPath: string }
  | { op: 'hide'; target: string } // an empty read-only mount over a file or directory; absent targets are skipped
  | { op: 'readOnly'; target: string } // a read-only bind of a new-root path onto itself (/proc/sys); absent targets are skipped
  | { op: 'pivotRoot' }
  // 4. hostname (needs a UTS namespace)
  | { op: 'hostname'; name: string }
  // 5. rlimits
  | { op: 'rlimit'; resource: RlimitName; soft: bigint; hard: bigint }
  // 6. cgroup join: the helper writes the workload's pid into each of these cgroup.procs files
  | { op: 'cgroup'; procsFiles: string[] }
  // 7. identity inside the sandbox, then capability drop
  | { op: 'user'; uid: number; gid: number; groups: number[] }
  | { op: 'capabilities'; keep: number[] } // bounding, permitted, effective, inheritable, ambient = keep
  // OCI process.capabilities: each set as a bit mask of capability numbers
  | { op: 'capabilitySets'; bounding: bigint; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint }
  // 8. setsid (a new session: TIOCSTI cannot reach the caller's terminal); with `terminal`, a new pty
  | { op: 'setsid'; terminal: boolean }
  // 9. execLabel (OCI process.apparmorProfile, process.selinuxLabel): the label the workload's execve
  //    enters, written to /proc/thread-self/attr (the sandbox's own proc mount): AppArmor "exec <label>"
  //    to attr/apparmor/exec (attr/exec on kernels without it), SELinux the context to attr/exec. Before
  //    no_new_privs, as runc does. At most one per LSM; 1 to 4095 bytes, no control characters.
  | { op: 'execLabel'; lsm: 'apparmor' | 'selinux'; label: string }
  // 10. no_new_privs
  | { op: 'noNewPrivs' }
  // 11. Landlock
  | { op: 'landlock'; ruleset: LandlockRuleset }
  // 12. seccomp, last before execve so the filter need not allow the setup's own syscalls
  | { op: 'seccomp'; program: Buffer; /** SECCOMP_FILTER_FLAG_* */ flags: number; /** log violations instead of failing (SECCOMP_FILTER_FLAG_LOG) */ log: boolean }
  // 13. execve
  | { op: 'exec'; path: string; argv: string[]; env: string[]; cwd: string };

export interface Plan {
  version: 1;
  ops: PlanOp[];
  /** Kill the sandbox after this many milliseconds of wall time (0: never). */
  wallTimeoutMs: number;
  /** Report a {kind:'step'} line after each phase that succeeds (errors are always reported). */
  verbose?: boolean;
  /** The monitor outlives its parent (no PR_SET_PDEATHSIG): `stockade-runtime create` leaves it running. */
  detached?: boolean;
  /**
   * No separate sandbox init: the process that execs the workload is the first one (pid 1 of a new
   * pid namespace), the monitor's own child, as OCI containers expect. Orphans are then the
   * workload's to reap, and a pid-namespace init gets only the signals it handles (SIGKILL aside).
   */
  workloadIsInit?: boolean;
}

/** Phases in the order the helper executes them; ops of one phase may repeat (mounts, rlimits). */
export const PHASES: ReadonlyArray<ReadonlyArray<PlanOp['op']>> = [
  ['startGate', 'consoleSocket', 'oomScoreAdj', 'seccompListener'],
  ['namespaces', 'joinNamespace'],
  ['idmap'],
  ['rootTmpfs', 'rootBind', 'rootfs', 'bind', 'mount', 'sysctl', 'tmpfs', 'proc', 'dev', 'mkdir', 'symlink', 'hide', 'readOnly', 'pivotRoot'],
  ['hostname'],
  ['rlimit'],
  ['cgroup'],
  ['user'],
  ['capabilities', 'capabilitySets'],
  ['setsid'],
  ['execLabel'],
  ['noNewPrivs'],
  ['landlock'],
  ['seccomp'],
  ['exec'],
];

/** Status and events the helper reports, one JSON object per line on the status descriptor. */
export type HelperStatus =
  | { kind: 'step'; step: string; ok: true }
  | { kind: 'error'; step: string; errno: number; detail: string }
  | { kind: 'warning'; step: string; detail: string }
  | { kind: 'created'; pid: number; initPid: number }
  | { kind: 'started'; pid: number }
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: number }
  | { kind: 'timeout'; afterMs: number };
