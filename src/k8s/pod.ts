/**
 * Policy -> Kubernetes objects: a Pod (plus the NetworkPolicy and RuntimeClass it relies on), or a
 * securityContext patch for an existing workload. Pure: Policy and options in, plain objects out.
 * Every mapping, and every refusal, is documented in docs/kubernetes.md.
 */
import { StockadeError } from '../errors.js';
import type { JsonValue } from '../json-exact.js';
import type { Policy } from '../policy/types.js';
import type { SeccompProfile } from '../seccomp/profile.js';
import { capabilityNames, envEntries, hiddenInsideMounts, identity, readPaths, settle, tmpfsPaths, writePaths, type Shortfall } from './fidelity.js';
import { checkWorkloadName, isDnsLabel, pathSlug, profileNames, type ProfileDistribution, type ProfileNames } from './names.js';
import { adaptProfile, policySeccompProfile } from './seccomp.js';

export type VolumeMode = 'emptydir' | 'pvc' | 'hostpath';
export type Isolation = 'gvisor' | 'microvm';
export type Lsm = 'apparmor' | 'selinux' | 'both';

export const VOLUME_MODES: readonly VolumeMode[] = ['emptydir', 'pvc', 'hostpath'];
export const ISOLATIONS: readonly Isolation[] = ['gvisor', 'microvm'];
export const LSMS: readonly Lsm[] = ['apparmor', 'selinux', 'both'];

export interface PodOptions {
  /** Workload name: Pod, container and profile names derive from it. */
  name: string;
  /** Container image; default `registry.invalid/stockade/<name>:unset`, which never resolves. */
  image?: string;
  /** How the profiles reach the nodes (default `node`). */
  profiles?: ProfileDistribution;
  /** What backs filesystem.write (and filesystem.read) paths (default `pvc`). */
  volumes?: VolumeMode;
  /** A RuntimeClass to run under: gVisor (`runsc`) or a micro-VM (Kata, `kata`). */
  isolation?: Isolation;
  /** Which LSM profiles the container references (default `both`). */
  lsm?: Lsm;
  /** Drop what Kubernetes cannot express instead of refusing; the output lists what was dropped. */
  allowWeaker?: boolean;
  /** The nodes' kubelet podPidsLimit, when the caller vouches for one (limits.pids is then kept). */
  nodePidsLimit?: number;
  /** The parsed seccomp profile file, when policy.syscalls.profile names one. */
  seccompProfile?: JsonValue;
}

export const LABEL = 'stockade.dev/policy';
export const ANNOTATION_DROPPED = 'stockade.dev/dropped';
export const ANNOTATION_ASSUMES = 'stockade.dev/assumes';

export const RUNTIME_CLASSES: Readonly<Record<Isolation, { name: string; handler: string }>> = {
  gvisor: { name: 'gvisor', handler: 'runsc' },
  microvm: { name: 'kata', handler: 'kata' },
};

type Obj = Record<string, unknown>;

/** Bytes -> a Kubernetes quantity, exactly (`512Mi`, `1536Ki`, `1000000`). */
export function memoryQuantity(bytes: number): string {
  for (const [unit, size] of [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** CPUs -> a Kubernetes quantity (`500m`, `2`); Kubernetes counts in thousandths of a CPU. */
export function cpuQuantity(cpu: number, source: string): string {
  const milli = Math.round(cpu * 1000);
  if (Math.abs(milli - cpu * 1000) > 1e-6 || milli < 1) {
    throw new StockadeError('input', `${cpu} CPUs cannot be expressed in Kubernetes, which counts CPU in thousandths (1m); use a multiple of 0.001`, `${source}: limits.cpu`);
  }
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

function uniqueName(base: string, used: Set<string>): string {
  let name = base.slice(0, 63).replace(/-+$/, '');
  for (let i = 2; used.has(name); i++) {
    const suffix = `-${i}`;
    name = `${base.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
  }
  used.add(name);
  return name;
}

interface MountPlan {
  volumes: Obj[];
  mounts: Obj[];
  /** Host paths bound into the container (hostpath mode). */
  hostPaths: string[];
}

function mountPlan(policy: Policy, name: string, mode: VolumeMode): MountPlan {
  const used = new Set<string>();
  const volumes: Obj[] = [];
  const mounts: Obj[] = [];
  const hostPaths: string[] = [];
  const add = (prefix: string, path: string, source: Obj, readOnly: boolean) => {
    const vname = uniqueName(`${prefix}-${pathSlug(path)}`, used);
    volumes.push({ name: vname, ...source });
    mounts.push(readOnly ? { name: vname, mountPath: path, readOnly: true } : { name: vname, mountPath: path });
  };
  const claim = (path: string, readOnly: boolean): Obj => ({ persistentVolumeClaim: readOnly ? { claimName: `${name}-${pathSlug(path)}`, readOnly: true } : { claimName: `${name}-${pathSlug(path)}` } });
  for (const t of tmpfsPaths(policy)) add('tmp', t, { emptyDir: { medium: 'Memory' } }, false);
  for (const w of writePaths(policy)) {
    if (mode === 'emptydir') add('rw', w, { emptyDir: {} }, false);
    else if (mode === 'pvc') add('rw', w, claim(w, false), false);
    else {
      add('rw', w, { hostPath: { path: w } }, false);
      hostPaths.push(w);
    }
  }
  // Read paths of a root: host policy are part of the host view, which the image replaces (stockade
  // run does not bind them either); with a root directory they are host data bound into it.
  if (mode === 'hostpath' || (mode === 'pvc' && policy.filesystem.root !== 'host')) {
    for (const r of readPaths(policy)) {
      if (mode === 'pvc') add('ro', r, claim(r, true), true);
      else {
        add('ro', r, { hostPath: { path: r } }, true);
        hostPaths.push(r);
      }
    }
  }
  const byName = (a: Obj, b: Obj) => ((a.name as string) < (b.name as string) ? -1 : 1);
  const byPath = (a: Obj, b: Obj) => ((a.mountPath as string) < (b.mountPath as string) ? -1 : 1);
  return { volumes: volumes.sort(byName), mounts: mounts.sort(byPath), hostPaths };
}

/** What Kubernetes cannot carry of this policy, given the options. */
function shortfalls(policy: Policy, opts: PodOptions, plan: MountPlan): { short: Shortfall[]; assumes: string[] } {
  const short: Shortfall[] = [];
  const assumes: string[] = [];
  const lim = policy.limits;
  if (policy.ports) short.push({ rule: 'ports', reason: 'a Pod has no per-container TCP port allowlist (a NetworkPolicy filters traffic, not which ports the workload binds or connects to)' });
  if (lim.pids !== undefined) {
    if (opts.nodePidsLimit !== undefined && opts.nodePidsLimit <= lim.pids) {
      assumes.push(`the kubelet's podPidsLimit is at most ${opts.nodePidsLimit} (limits.pids: ${lim.pids})`);
    } else {
      short.push({
        rule: 'limits.pids',
        reason: opts.nodePidsLimit !== undefined
          ? `--node-pids-limit ${opts.nodePidsLimit} is above the policy's ${lim.pids}`
          : 'a Pod has no process limit (pids.max is the kubelet\'s podPidsLimit); pass --node-pids-limit N when the nodes enforce N <= the policy\'s',
      });
    }
  }
  if (lim.cpuTimeSec !== undefined) short.push({ rule: 'limits.cpuTime', reason: 'a Pod has no RLIMIT_CPU' });
  if (lim.openFiles !== undefined) short.push({ rule: 'limits.openFiles', reason: 'a Pod has no RLIMIT_NOFILE (the runtime\'s default applies)' });
  if (lim.fileSize !== undefined) short.push({ rule: 'limits.fileSize', reason: 'a Pod has no RLIMIT_FSIZE' });
  if (lim.wallTimeMs !== undefined && lim.wallTimeMs % 1000 !== 0) {
    short.push({ rule: 'limits.wallTime', reason: `activeDeadlineSeconds counts whole seconds; ${lim.wallTimeMs}ms would become ${Math.ceil(lim.wallTimeMs / 1000)}s` });
  }
  for (const h of hiddenInsideMounts(policy.filesystem.hide, plan.hostPaths)) {
    short.push({ rule: `filesystem.hide[${h.index}]`, reason: `"${h.pattern}" lies inside the hostPath volume ${h.mount}, and a Pod cannot mask paths inside a volume` });
  }
  if (policy.network !== 'host') assumes.push('the cluster network plugin enforces NetworkPolicy (network: none/loopback)');
  if (opts.isolation === 'gvisor') assumes.push('runsc applies the OCI seccomp profile (runsc --oci-seccomp)');
  if (opts.isolation === 'microvm') assumes.push('the Kata agent applies the seccomp profile in the guest (disable_guest_seccomp=false)');
  return { short, assumes: assumes.sort() };
}

export interface PodResult {
  /** The objects, in apply order: RuntimeClass, NetworkPolicy, Pod. */
  objects: Obj[];
  /** Rules dropped under allowWeaker (`rule: reason`). */
  dropped: string[];
  /** The seccomp profile the container uses (undefined: Unconfined). */
  seccomp: SeccompProfile | undefined;
  names: ProfileNames;
}

/** The container's securityContext. */
export function containerSecurityContext(policy: Policy, names: ProfileNames, lsm: Lsm, confined: boolean): Obj {
  const { uid, gid } = identity(policy);
  const add = capabilityNames(policy);
  const sc: Obj = {
    allowPrivilegeEscalation: false,
    capabilities: add.length > 0 ? { add, drop: ['ALL'] } : { drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: gid,
    runAsNonRoot: uid !== 0,
    runAsUser: uid,
    seccompProfile: confined ? { type: 'Localhost', localhostProfile: names.seccompLocalhost } : { type: 'Unconfined' },
  };
  if (lsm !== 'selinux') sc.appArmorProfile = { type: 'Localhost', localhostProfile: names.apparmor };
  if (lsm !== 'apparmor') sc.seLinuxOptions = { type: names.selinuxType };
  return sc;
}

/** Checks the name and loads the seccomp profile, adapted to the policy (undefined: unconfined). */
export function prepare(policy: Policy, opts: PodOptions): { names: ProfileNames; seccomp: SeccompProfile | undefined } {
  checkWorkloadName(opts.name);
  const names = profileNames(opts.name, opts.profiles ?? 'node');
  const base = policySeccompProfile(policy, opts.seccompProfile);
  return { names, seccomp: base && adaptProfile(base, policy.capabilities, policy.syscalls.onViolation) };
}

export function podObjects(policy: Policy, opts: PodOptions): PodResult {
  const { names, seccomp } = prepare(policy, opts);
  const name = opts.name;
  const mode = opts.volumes ?? 'pvc';
  const plan = mountPlan(policy, name, mode);
  const { short, assumes } = shortfalls(policy, opts, plan);
  const dropped = settle(policy, 'Kubernetes', short, opts.allowWeaker ?? false);

  const container: Obj = {
    name,
    image: opts.image ?? `registry.invalid/stockade/${name}:unset`,
    securityContext: containerSecurityContext(policy, names, opts.lsm ?? 'both', seccomp !== undefined),
  };
  if (policy.command.length > 0) container.command = [...policy.command];
  if (policy.cwd !== undefined) container.workingDir = policy.cwd;
  const env = envEntries(policy);
  if (env.length > 0) container.env = env.map(([k, v]) => ({ name: k, value: v }));
  const limits: Obj = {};
  if (policy.limits.memory !== undefined) limits.memory = memoryQuantity(policy.limits.memory);
  if (policy.limits.cpu !== undefined) limits.cpu = cpuQuantity(policy.limits.cpu, policy.source);
  if (Object.keys(limits).length > 0) container.resources = { limits };
  if (plan.mounts.length > 0) container.volumeMounts = plan.mounts;
  if (policy.terminal === true) {
    container.stdin = true;
    container.tty = true;
  }

  const spec: Obj = {
    automountServiceAccountToken: false,
    containers: [container],
    enableServiceLinks: false,
    restartPolicy: 'Never',
  };
  if (policy.network === 'host') spec.hostNetwork = true;
  else {
    const host = policy.hostname.toLowerCase();
    if (!isDnsLabel(host)) {
      throw new StockadeError('input', `"${policy.hostname}" cannot be a Pod's hostname in Kubernetes, which needs an RFC 1123 label (letters, digits and dashes, no dots)`, `${policy.source}: hostname`);
    }
    spec.hostname = host;
  }
  if (policy.limits.wallTimeMs !== undefined) spec.activeDeadlineSeconds = Math.max(1, Math.ceil(policy.limits.wallTimeMs / 1000));
  if (plan.volumes.length > 0) spec.volumes = plan.volumes;
  const objects: Obj[] = [];
  if (opts.isolation) {
    const rc = RUNTIME_CLASSES[opts.isolation];
    spec.runtimeClassName = rc.name;
    objects.push(runtimeClass(opts.isolation));
  }
  const metadata: Obj = { name, labels: { [LABEL]: name } };
  const annotations: Obj = {};
  if (dropped.length > 0) annotations[ANNOTATION_DROPPED] = dropped.join('\n');
  if (assumes.length > 0) annotations[ANNOTATION_ASSUMES] = assumes.join('\n');
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  if (policy.network !== 'host') objects.push(denyAllNetworkPolicy(name));
  objects.push({ apiVersion: 'v1', kind: 'Pod', metadata, spec });
  return { objects, dropped, seccomp, names };
}

/** Deny all ingress and egress of the Pod: the closest Kubernetes has to network none/loopback. */
export function denyAllNetworkPolicy(name: string): Obj {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `stockade-${name}`, labels: { [LABEL]: name } },
    spec: { podSelector: { matchLabels: { [LABEL]: name } }, policyTypes: ['Ingress', 'Egress'] },
  };
}

export function runtimeClass(isolation: Isolation): Obj {
  const rc = RUNTIME_CLASSES[isolation];
  return { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: rc.name }, handler: rc.handler };
}

/**
 * A strategic-merge patch for a workload's pod template (Deployment, StatefulSet, DaemonSet, Job):
 * the container named `opts.name` gets the policy's securityContext, and nothing else changes.
 */
export function securityContextPatch(policy: Policy, opts: PodOptions): { patch: Obj; seccomp: SeccompProfile | undefined; names: ProfileNames } {
  const { names, seccomp } = prepare(policy, opts);
  const sc = containerSecurityContext(policy, names, opts.lsm ?? 'both', seccomp !== undefined);
  return { patch: { spec: { template: { spec: { containers: [{ name: opts.name, securityContext: sc }] } } } }, seccomp, names };
}
