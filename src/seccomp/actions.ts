/** seccomp return actions: encoding, names, and how restrictive each one is. */
import { StockadeError } from '../errors.js';

export type ActionKind = 'KILL_PROCESS' | 'KILL_THREAD' | 'TRAP' | 'ERRNO' | 'USER_NOTIF' | 'TRACE' | 'LOG' | 'ALLOW';

/** SECCOMP_RET_* values (linux/seccomp.h); the low 16 bits carry data for TRAP, ERRNO and TRACE. */
export const RET: Readonly<Record<ActionKind, number>> = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
};

const ACTION_FULL = 0xffff0000;
const DATA = 0x0000ffff;

/** The 32-bit value a filter returns for this action (data is the errno, trace message or trap datum). */
export function actionValue(kind: ActionKind, data = 0): number {
  return (RET[kind] | (data & DATA)) >>> 0;
}

export function actionKind(value: number): ActionKind | undefined {
  const full = (value & ACTION_FULL) >>> 0;
  for (const [kind, v] of Object.entries(RET) as Array<[ActionKind, number]>) if (v === full) return kind;
  return undefined;
}

/** `ALLOW`, `ERRNO(1)`, `TRACE(7)`, `TRAP`, `KILL_PROCESS`...; unknown values print as hex. */
export function formatAction(value: number): string {
  const kind = actionKind(value);
  if (kind === undefined) return `UNKNOWN(0x${(value >>> 0).toString(16).padStart(8, '0')})`;
  const data = value & DATA;
  if (kind === 'ERRNO' || kind === 'TRACE') return `${kind}(${data})`;
  if (kind === 'TRAP' && data !== 0) return `TRAP(${data})`;
  return kind;
}

/** Parses what `formatAction` prints (and `KILL` as libseccomp's name for KILL_THREAD). */
export function parseActionText(text: string): number | undefined {
  const m = /^([A-Z_]+)(?:\((\d+)\))?$/.exec(text.trim().toUpperCase());
  if (!m) return undefined;
  const name = m[1] === 'KILL' ? 'KILL_THREAD' : m[1] === 'NOTIFY' ? 'USER_NOTIF' : m[1]!;
  if (!(name in RET)) return undefined;
  const data = m[2] === undefined ? 0 : Number(m[2]);
  if (data > DATA) return undefined;
  return actionValue(name as ActionKind, data);
}

/**
 * Precedence the kernel uses when several filters return different actions (lower wins):
 * KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW.
 */
export function restrictiveness(value: number): number {
  const order: ActionKind[] = ['KILL_PROCESS', 'KILL_THREAD', 'TRAP', 'ERRNO', 'USER_NOTIF', 'TRACE', 'LOG', 'ALLOW'];
  const kind = actionKind(value);
  return kind === undefined ? -1 : order.indexOf(kind);
}

/** OCI / Docker action names. SCMP_ACT_KILL is KILL_THREAD, as in libseccomp. */
const OCI_ACTIONS: Readonly<Record<string, ActionKind>> = {
  SCMP_ACT_KILL: 'KILL_THREAD',
  SCMP_ACT_KILL_THREAD: 'KILL_THREAD',
  SCMP_ACT_KILL_PROCESS: 'KILL_PROCESS',
  SCMP_ACT_TRAP: 'TRAP',
  SCMP_ACT_ERRNO: 'ERRNO',
  SCMP_ACT_NOTIFY: 'USER_NOTIF',
  SCMP_ACT_TRACE: 'TRACE',
  SCMP_ACT_LOG: 'LOG',
  SCMP_ACT_ALLOW: 'ALLOW',
};

export const OCI_ACTION_NAMES: readonly string[] = Object.keys(OCI_ACTIONS);

export function ociActionKind(name: string, where: string): ActionKind {
  const kind = OCI_ACTIONS[name];
  if (!kind) {
    throw new StockadeError('input', `unknown action "${name}"; use one of ${OCI_ACTION_NAMES.join(', ')}`, where);
  }
  return kind;
}

export function ociActionName(kind: ActionKind): string {
  return kind === 'USER_NOTIF' ? 'SCMP_ACT_NOTIFY' : `SCMP_ACT_${kind}`;
}

/** EPERM: what runc returns for SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet. */
export const DEFAULT_ERRNO = 1;
