/** Who the workload is: a rule of the policy model every backend shares. */
import type { Policy } from './types.js';

/** The unprivileged identity a workload gets when stockade runs as root and nothing else fits. */
export const ROOT_MODE_UID = 65534;

/**
 * Who the workload is when stockade runs as root: never root unless the policy says so. The owner
 * of the working directory when that is an ordinary user (so `sudo stockade run` works in that
 * user's tree), else nobody.
 */
export function rootModeIdentity(policy: Policy, cwdOwner: { uid: number; gid: number } | undefined): { uid: number; gid: number } {
  const owner = cwdOwner && cwdOwner.uid !== 0 ? cwdOwner : undefined;
  return { uid: policy.user?.uid ?? owner?.uid ?? ROOT_MODE_UID, gid: policy.user?.gid ?? owner?.gid ?? ROOT_MODE_UID };
}
