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

export type PlanOp =
  // 1. namespaces: created by the helper's clone(); `user` makes a user namespace (needed rootless).
  | { op: 'namespaces'; ns: Namespaces }
  // 2. uid/gid maps for the user namespace (one range each); written by the parent.
  | { op: 'idmap'; uidInside: number; uidOutside: number; uidCount: number; gidInside: number; gidOutside: number; gidCount: number }
  // 3. mounts, building the new root under a staging directory; targets are paths inside the new root.
  | { op: 'rootTmpfs' } // the new root is an empty tmpfs (mode 0755)
  | { op: 'rootBind'; source: string } // the new root is a recursive read-only bind of a rootfs directory
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
  // 8. setsid (a new session: TIOCSTI cannot reach the caller's terminal); with `terminal`, a new pty
  | { op: 'setsid'; terminal: boolean }
  // 9. no_new_privs
  | { op: 'noNewPrivs' }
  // 10. Landlock
  | { op: 'landlock'; ruleset: LandlockRuleset }
  // 11. seccomp, last before execve so the filter need not allow the setup's own syscalls
  | { op: 'seccomp'; program: Buffer; /** SECCOMP_FILTER_FLAG_* */ flags: number; /** log violations instead of failing (SECCOMP_FILTER_FLAG_LOG) */ log: boolean }
  // 12. execve
  | { op: 'exec'; path: string; argv: string[]; env: string[]; cwd: string };

export interface Plan {
  version: 1;
  ops: PlanOp[];
  /** Kill the sandbox after this many milliseconds of wall time (0: never). */
  wallTimeoutMs: number;
  /** Report a {kind:'step'} line after each phase that succeeds (errors are always reported). */
  verbose?: boolean;
}

/** Phases in the order the helper executes them; ops of one phase may repeat (mounts, rlimits). */
export const PHASES: ReadonlyArray<ReadonlyArray<PlanOp['op']>> = [
  ['namespaces'],
  ['idmap'],
  ['rootTmpfs', 'rootBind', 'bind', 'tmpfs', 'proc', 'dev', 'mkdir', 'symlink', 'hide', 'readOnly', 'pivotRoot'],
  ['hostname'],
  ['rlimit'],
  ['cgroup'],
  ['user'],
  ['capabilities'],
  ['setsid'],
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
  | { kind: 'started'; pid: number }
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: number }
  | { kind: 'timeout'; afterMs: number };
