/**
 * Security Profiles Operator objects, so a cluster installs the profiles on its nodes
 * (https://github.com/kubernetes-sigs/security-profiles-operator, v0.9 or later: profiles are
 * cluster-scoped). Pure: the AppArmor profile and the SELinux CIL module arrive as text.
 *
 *  - SeccompProfile  security-profiles-operator.x-k8s.io/v1beta1  spec mirrors the OCI profile
 *  - AppArmorProfile security-profiles-operator.x-k8s.io/v1alpha1 spec.policy: the profile text
 *  - RawSelinuxProfile security-profiles-operator.x-k8s.io/v1alpha2 spec.policy: a CIL block
 */
import { StockadeError } from '../errors.js';
import type { SeccompProfile } from '../seccomp/profile.js';
import { LABEL, type Lsm } from './pod.js';
import { profileNames } from './names.js';
import { spoSeccompSpec, type NodeArch } from './seccomp.js';

export const SPO_GROUP = 'security-profiles-operator.x-k8s.io';
export const SPO_API = {
  SeccompProfile: `${SPO_GROUP}/v1beta1`,
  AppArmorProfile: `${SPO_GROUP}/v1alpha1`,
  RawSelinuxProfile: `${SPO_GROUP}/v1alpha2`,
} as const;

export interface SpoInput {
  name: string;
  /** The adapted seccomp profile (src/k8s/seccomp.ts adaptProfile); undefined: unconfined, no object. */
  seccomp: SeccompProfile | undefined;
  /** Node architecture the seccomp profile is resolved for (default x86_64). */
  arch?: NodeArch;
  lsm?: Lsm;
  /** AppArmor profile text declaring `profile stockade-<name>`. */
  apparmor?: string;
  /** SELinux CIL module defining `(block stockade_<name> ...)` (`-` folded to `_`), as for node installation. */
  selinuxCil?: string;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The operator names the SELinux module after the object, and object names cannot hold `_`, so the
 * node module's block `stockade_<name>` becomes `stockade-<name>` (type `stockade-<name>.process`).
 */
export function renameCilBlock(cil: string, from: string, to: string): string {
  if (!new RegExp(`\\(block\\s+${escapeRe(from)}(?![A-Za-z0-9_.-])`).test(cil)) {
    throw new StockadeError('input', `the SELinux module does not define (block ${from} ...), so it cannot be renamed for the Security Profiles Operator`, 'selinux module');
  }
  return cil.replace(new RegExp(`(?<![A-Za-z0-9_.-])${escapeRe(from)}(?![A-Za-z0-9_-])`, 'g'), to);
}

function spoMetadata(name: string): Record<string, unknown> {
  return { name: profileNames(name, 'spo').spoObject, labels: { [LABEL]: name } };
}

/** The SeccompProfile object alone. */
export function spoSeccompObject(name: string, seccomp: SeccompProfile, arch: NodeArch = 'x86_64'): Record<string, unknown> {
  return { apiVersion: SPO_API.SeccompProfile, kind: 'SeccompProfile', metadata: spoMetadata(name), spec: spoSeccompSpec(seccomp, arch) };
}

export function spoObjects(input: SpoInput): Array<Record<string, unknown>> {
  const names = profileNames(input.name, 'spo');
  const node = profileNames(input.name, 'node');
  const lsm = input.lsm ?? 'both';
  const metadata = () => spoMetadata(input.name);
  const out: Array<Record<string, unknown>> = [];
  if (input.seccomp) out.push(spoSeccompObject(input.name, input.seccomp, input.arch ?? 'x86_64'));
  if (lsm !== 'selinux') {
    if (input.apparmor === undefined) throw new StockadeError('input', 'an AppArmorProfile needs the AppArmor profile text', 'apparmor profile');
    if (!new RegExp(`^\\s*profile\\s+${escapeRe(names.apparmor)}[\\s{]`, 'm').test(input.apparmor)) {
      throw new StockadeError('input', `the AppArmor profile text does not declare "profile ${names.apparmor}", the name the Pod references`, 'apparmor profile');
    }
    out.push({ apiVersion: SPO_API.AppArmorProfile, kind: 'AppArmorProfile', metadata: metadata(), spec: { policy: input.apparmor } });
  }
  if (lsm !== 'apparmor') {
    if (input.selinuxCil === undefined) throw new StockadeError('input', 'a RawSelinuxProfile needs the SELinux CIL module', 'selinux module');
    const policy = renameCilBlock(input.selinuxCil, node.selinuxBlock, names.selinuxBlock);
    out.push({ apiVersion: SPO_API.RawSelinuxProfile, kind: 'RawSelinuxProfile', metadata: metadata(), spec: { policy } });
  }
  return out;
}
