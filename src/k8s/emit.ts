/**
 * `stockade k8s` without the I/O: Policy + options -> the manifest text and the profile files to
 * write beside it. Pure and byte-stable (docs/kubernetes.md).
 */
import { StockadeError } from '../errors.js';
import type { Policy } from '../policy/types.js';
import { checkManifests, checkPatch } from './validate.js';
import { podObjects, prepare, securityContextPatch, type PodOptions } from './pod.js';
import { dockerProfileJson, type NodeArch } from './seccomp.js';
import { spoObjects } from './spo.js';
import { stableJson, toYaml, type YamlDoc } from './yaml.js';

export type K8sFormat = 'pod' | 'patch' | 'spo' | 'all';
export const K8S_FORMATS: readonly K8sFormat[] = ['pod', 'patch', 'spo', 'all'];

export interface K8sOptions extends PodOptions {
  format?: K8sFormat;
  /** Node architecture for the SPO SeccompProfile (default x86_64). */
  arch?: NodeArch;
  /** AppArmor profile text (spo, all). */
  apparmor?: string;
  /** SELinux CIL module (spo, all). */
  selinuxCil?: string;
}

export interface K8sOutput {
  manifest: string;
  objects: Array<Record<string, unknown>>;
  /** Files to write under --profile-dir: the Localhost seccomp profile (node distribution). */
  files: Array<{ path: string; content: string }>;
  dropped: string[];
}

export function emitKubernetes(policy: Policy, opts: K8sOptions): K8sOutput {
  const format = opts.format ?? 'pod';
  if (format === 'all' && opts.profiles === 'node') {
    throw new StockadeError('usage', '--format all distributes the profiles with the Security Profiles Operator; use --format pod for --profiles node', '--profiles');
  }
  const profiles = format === 'all' || format === 'spo' ? 'spo' : opts.profiles ?? 'node';
  const o: K8sOptions = { ...opts, profiles };
  const docs: YamlDoc[] = [];
  const objects: Array<Record<string, unknown>> = [];
  const files: K8sOutput['files'] = [];
  let dropped: string[] = [];
  const spo = (seccomp: Parameters<typeof spoObjects>[0]['seccomp']) => {
    const list = spoObjects({ name: o.name, seccomp, arch: o.arch ?? 'x86_64', lsm: o.lsm ?? 'both', apparmor: o.apparmor, selinuxCil: o.selinuxCil });
    for (const obj of list) {
      objects.push(obj);
      docs.push({ value: obj });
    }
  };
  if (format === 'patch') {
    const r = securityContextPatch(policy, o);
    objects.push(r.patch);
    docs.push({
      comment: `stockade: securityContext patch for the container "${o.name}" of a pod template\n(kubectl patch deployment|statefulset|daemonset|job NAME --patch-file FILE).\nOnly the securityContext: the policy's limits, volumes and network are not part of it.`,
      value: r.patch,
    });
    if (r.seccomp && profiles === 'node') files.push({ path: r.names.seccompFile, content: stableJson(dockerProfileJson(r.seccomp)) });
  } else if (format === 'spo') {
    spo(prepare(policy, o).seccomp);
  } else {
    const r = podObjects(policy, o);
    dropped = r.dropped;
    if (format === 'all') spo(r.seccomp);
    for (const obj of r.objects) {
      objects.push(obj);
      docs.push({ value: obj });
    }
    if (r.seccomp && profiles === 'node') files.push({ path: r.names.seccompFile, content: stableJson(dockerProfileJson(r.seccomp)) });
  }
  {
    const problems = format === 'patch' ? checkPatch(objects[0]) : checkManifests(objects);
    if (problems.length > 0) throw new StockadeError('internal', `generated manifest fails its own checks: ${problems.join('; ')}`);
  }
  return { manifest: toYaml(docs), objects, files, dropped };
}
