/**
 * Names shared by the Kubernetes and Docker emitters: the workload name and the names of the
 * profiles derived from it (docs/kubernetes.md, "Names"). Pure.
 */
import { StockadeError } from '../errors.js';

/** RFC 1123 label: what Kubernetes requires of container, volume and host names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: what Kubernetes requires of most object names. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** The prefix of every profile name; `stockade-` + the longest workload name must stay a label. */
export const PROFILE_PREFIX = 'stockade';
export const MAX_NAME_LENGTH = 63 - PROFILE_PREFIX.length - 1;

/** Checks a workload name (`--name`): an RFC 1123 label short enough to prefix with `stockade-`. */
export function checkWorkloadName(name: string, where = '--name'): string {
  if (!isDnsLabel(name) || name.length > MAX_NAME_LENGTH) {
    throw new StockadeError('usage', `"${name}" is not a workload name: use at most ${MAX_NAME_LENGTH} lower-case letters, digits and dashes, starting and ending with a letter or digit (RFC 1123)`, where);
  }
  return name;
}

/** A workload name from a policy file name: `My App.policy.yaml` -> `my-app-policy`. */
export function nameFromFile(path: string): string {
  const base = path.split('/').pop() ?? path;
  const stem = base.replace(/\.(ya?ml|json|toml)$/i, '');
  const slug = stem.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, MAX_NAME_LENGTH).replace(/-+$/, '');
  return slug || 'workload';
}

/** How the profiles reach the nodes: installed by hand (`node`) or by the Security Profiles Operator. */
export type ProfileDistribution = 'node' | 'spo';

export interface ProfileNames {
  /** seccompProfile.localhostProfile: a path relative to the kubelet's seccomp root. */
  seccompLocalhost: string;
  /** Where `stockade k8s` writes the seccomp profile, relative to --profile-dir (node distribution). */
  seccompFile: string;
  /** The AppArmor profile name (appArmorProfile.localhostProfile, docker's apparmor=). */
  apparmor: string;
  /** The SELinux process type (seLinuxOptions.type, docker's label=type:). */
  selinuxType: string;
  /** The CIL block the SELinux module defines (the type is `<block>.process`). */
  selinuxBlock: string;
  /** Name of the Security Profiles Operator objects (spo distribution). */
  spoObject: string;
}

/**
 * Node distribution: the seccomp profile at <kubelet root>/seccomp/stockade/<name>.json, the AppArmor
 * profile `stockade-<name>`, the SELinux module `stockade_<name>` with `-` folded to `_` (udica-style
 * type `<block>.process`).
 * SPO distribution (operator v0.9+, cluster-scoped profiles): the operator installs the seccomp
 * profile at operator/<object>.json and names the SELinux module after the object, whose name must be
 * an RFC 1123 subdomain, so the block is `stockade-<name>`.
 */
export function profileNames(name: string, distribution: ProfileDistribution = 'node'): ProfileNames {
  const object = `${PROFILE_PREFIX}-${name}`;
  // The node module's block folds `-` to `_` (src/selinux/generate.ts selinuxModuleName).
  const block = distribution === 'spo' ? object : `${PROFILE_PREFIX}_${name.replace(/-/g, '_')}`;
  return {
    seccompLocalhost: distribution === 'spo' ? `operator/${object}.json` : `${PROFILE_PREFIX}/${name}.json`,
    seccompFile: `${PROFILE_PREFIX}/${name}.json`,
    apparmor: object,
    selinuxType: `${block}.process`,
    selinuxBlock: block,
    spoObject: object,
  };
}

/**
 * A volume-name-friendly slug of a path: `/var/cache/nginx` -> `var-cache-nginx`. Callers make
 * the result unique.
 */
export function pathSlug(path: string): string {
  const s = path.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'root';
}
