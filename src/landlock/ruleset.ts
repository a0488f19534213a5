/**
 * Landlock: the sandbox's file system view and network mode -> a ruleset for a kernel ABI. Pure:
 * the ABI is an input. Rights the ABI lacks are left out and listed, so the caller can report them.
 */
import type { LandlockRuleset } from '../helper/plan.js';

/** LANDLOCK_ACCESS_FS_* (linux/landlock.h) with the ABI that introduced each. */
export const FS = {
  EXECUTE: 1n << 0n, WRITE_FILE: 1n << 1n, READ_FILE: 1n << 2n, READ_DIR: 1n << 3n,
  REMOVE_DIR: 1n << 4n, REMOVE_FILE: 1n << 5n, MAKE_CHAR: 1n << 6n, MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n, MAKE_SOCK: 1n << 9n, MAKE_FIFO: 1n << 10n, MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n, REFER: 1n << 13n, TRUNCATE: 1n << 14n, IOCTL_DEV: 1n << 15n,
} as const;
export const NET = { BIND_TCP: 1n, CONNECT_TCP: 2n } as const;
export const SCOPE = { ABSTRACT_UNIX_SOCKET: 1n, SIGNAL: 2n } as const;

/** Every fs right an ABI handles. */
export function fsRightsOf(abi: number): bigint {
  if (abi < 1) return 0n;
  let r = (1n << 13n) - 1n; // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) r |= FS.REFER;
  if (abi >= 3) r |= FS.TRUNCATE;
  if (abi >= 5) r |= FS.IOCTL_DEV;
  return r;
}

const READ = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR;
/** Everything but creating device nodes (which needs CAP_MKNOD anyway). */
const WRITE = fsRightsOf(7) & ~(FS.MAKE_CHAR | FS.MAKE_BLOCK);
const DEVICES = FS.READ_FILE | FS.WRITE_FILE | FS.READ_DIR | FS.TRUNCATE | FS.IOCTL_DEV;
const PROC = FS.READ_FILE | FS.READ_DIR | FS.EXECUTE;

export interface SandboxView {
  /** Paths inside the sandbox readable (and executable), e.g. / for a read-only host view. */
  read: string[];
  /** Paths inside the sandbox writable (binds, tmpfs, the working directory). */
  write: string[];
  /** Where /dev and /proc are mounted (device and process rights). */
  dev?: string;
  proc?: string;
  /** Deny all TCP bind and connect (the policy's network is none). */
  denyTcp: boolean;
  /** Only these TCP ports (a list that is absent leaves that direction open). */
  tcp?: { bind?: number[]; connect?: number[] };
}

export interface LandlockCompileResult {
  ruleset: LandlockRuleset;
  /** Hardening this ABI cannot provide (e.g. "TCP bind/connect rules (ABI 4)"). */
  unavailable: string[];
}

/** The ruleset for `view` on a kernel with Landlock ABI `abi` (1..7). */
export function compileLandlock(view: SandboxView, abi: number, required: boolean): LandlockCompileResult {
  const handledFs = fsRightsOf(abi);
  const unavailable: string[] = [];
  if (abi < 2) unavailable.push('restricting renames and links across directories (ABI 2)');
  if (abi < 3) unavailable.push('restricting truncation (ABI 3)');
  if (abi < 5) unavailable.push('restricting ioctl on devices (ABI 5)');
  const wantNet = view.denyTcp ? NET.BIND_TCP | NET.CONNECT_TCP
    : (view.tcp?.bind ? NET.BIND_TCP : 0n) | (view.tcp?.connect ? NET.CONNECT_TCP : 0n);
  const handledNet = abi >= 4 ? wantNet : 0n;
  if (wantNet !== 0n && abi < 4) unavailable.push(view.denyTcp ? 'denying TCP bind/connect (ABI 4)' : 'TCP port rules (ABI 4)');
  const portAccess = new Map<number, bigint>();
  if (handledNet !== 0n && !view.denyTcp) {
    for (const p of view.tcp?.bind ?? []) portAccess.set(p, (portAccess.get(p) ?? 0n) | NET.BIND_TCP);
    for (const p of view.tcp?.connect ?? []) portAccess.set(p, (portAccess.get(p) ?? 0n) | NET.CONNECT_TCP);
  }
  const scoped = abi >= 6 ? SCOPE.ABSTRACT_UNIX_SOCKET | SCOPE.SIGNAL : 0n;
  if (abi < 6) unavailable.push('scoping abstract unix sockets and signals (ABI 6)');
  const paths: LandlockRuleset['paths'] = [];
  const add = (path: string, access: bigint, optional: boolean) => {
    const a = access & handledFs;
    if (a !== 0n) paths.push({ path, access: a, optional });
  };
  for (const p of view.read) add(p, READ, false);
  for (const p of view.write) add(p, WRITE | READ, false);
  if (view.dev) add(view.dev, DEVICES, false);
  if (view.proc) add(view.proc, PROC, false);
  return {
    ruleset: { abi, handledFs, handledNet, scoped, paths, ports: [...portAccess].sort((a, b) => a[0] - b[0]).map(([port, access]) => ({ port, access })), required },
    unavailable,
  };
}
