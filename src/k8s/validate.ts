/**
 * Offline checks of the manifests stockade writes, beyond what an OpenAPI schema says: every field
 * known (a strict schema of the subset of Kubernetes and Security Profiles Operator objects stockade
 * emits), `localhostProfile` present exactly when the type is Localhost, a relative `.json` path for
 * seccomp but a profile name for AppArmor, RFC 1123 names, volume mounts that name a volume. Pure:
 * each check returns the problems it found as `path: problem` lines.
 */
import { CAPABILITY_NAMES } from '../policy/capabilities.js';
import { isDnsLabel, isDnsSubdomain } from './names.js';

type S = 'str' | 'int' | 'bool' | 'any' | { list: S } | { map: S } | { fields: Readonly<Record<string, S>>; required?: readonly string[] };

const str: S = 'str';
const int: S = 'int';
const bool: S = 'bool';
const list = (s: S): S => ({ list: s });
const fields = (f: Record<string, S>, required: string[] = []): S => ({ fields: f, required });

const META = fields({ name: str, namespace: str, labels: { map: str }, annotations: { map: str } }, ['name']);
const PROFILE_REF = fields({ type: str, localhostProfile: str }, ['type']);
const SE_LINUX = fields({ level: str, role: str, type: str, user: str });
const SECURITY_CONTEXT = fields({
  allowPrivilegeEscalation: bool,
  appArmorProfile: PROFILE_REF,
  capabilities: fields({ add: list(str), drop: list(str) }),
  privileged: bool,
  procMount: str,
  readOnlyRootFilesystem: bool,
  runAsGroup: int,
  runAsNonRoot: bool,
  runAsUser: int,
  seLinuxOptions: SE_LINUX,
  seccompProfile: PROFILE_REF,
});
const POD_SECURITY_CONTEXT = fields({
  appArmorProfile: PROFILE_REF, fsGroup: int, runAsGroup: int, runAsNonRoot: bool, runAsUser: int,
  seLinuxOptions: SE_LINUX, seccompProfile: PROFILE_REF, supplementalGroups: list(int),
});
const CONTAINER = fields({
  name: str, image: str, imagePullPolicy: str, command: list(str), args: list(str), workingDir: str,
  env: list(fields({ name: str, value: str }, ['name'])),
  resources: fields({ limits: { map: str }, requests: { map: str } }),
  securityContext: SECURITY_CONTEXT,
  volumeMounts: list(fields({ name: str, mountPath: str, readOnly: bool, subPath: str }, ['name', 'mountPath'])),
  stdin: bool, tty: bool,
}, ['name', 'image']);
const VOLUME = fields({
  name: str,
  emptyDir: fields({ medium: str, sizeLimit: str }),
  hostPath: fields({ path: str, type: str }, ['path']),
  persistentVolumeClaim: fields({ claimName: str, readOnly: bool }, ['claimName']),
}, ['name']);
const POD = fields({
  apiVersion: str, kind: str, metadata: META,
  spec: fields({
    activeDeadlineSeconds: int, automountServiceAccountToken: bool, containers: list(CONTAINER), enableServiceLinks: bool,
    hostIPC: bool, hostNetwork: bool, hostPID: bool, hostname: str, restartPolicy: str, runtimeClassName: str,
    securityContext: POD_SECURITY_CONTEXT, serviceAccountName: str, volumes: list(VOLUME),
  }, ['containers']),
}, ['apiVersion', 'kind', 'metadata', 'spec']);
const NETWORK_POLICY = fields({
  apiVersion: str, kind: str, metadata: META,
  spec: fields({ podSelector: fields({ matchLabels: { map: str } }), policyTypes: list(str), ingress: list('any'), egress: list('any') }, ['podSelector']),
}, ['apiVersion', 'kind', 'metadata', 'spec']);
const RUNTIME_CLASS = fields({ apiVersion: str, kind: str, metadata: META, handler: str, overhead: 'any', scheduling: 'any' }, ['apiVersion', 'kind', 'metadata', 'handler']);
const SPO_SECCOMP = fields({
  apiVersion: str, kind: str, metadata: META,
  spec: fields({
    baseProfileName: str, defaultAction: str, architectures: list(str), flags: list(str), listenerPath: str, listenerMetadata: str, disabled: bool,
    syscalls: list(fields({
      names: list(str), action: str, errnoRet: int,
      args: list(fields({ index: int, value: int, valueTwo: int, op: str }, ['index', 'op'])),
    }, ['names', 'action'])),
  }, ['defaultAction']),
}, ['apiVersion', 'kind', 'metadata', 'spec']);
const SPO_APPARMOR = fields({ apiVersion: str, kind: str, metadata: META, spec: fields({ policy: str, abstract: 'any', disabled: bool }) }, ['apiVersion', 'kind', 'metadata', 'spec']);
const SPO_SELINUX = fields({ apiVersion: str, kind: str, metadata: META, spec: fields({ policy: str, disabled: bool }, ['policy']) }, ['apiVersion', 'kind', 'metadata', 'spec']);

const KINDS: Readonly<Record<string, S>> = {
  'v1/Pod': POD,
  'networking.k8s.io/v1/NetworkPolicy': NETWORK_POLICY,
  'node.k8s.io/v1/RuntimeClass': RUNTIME_CLASS,
  'security-profiles-operator.x-k8s.io/v1beta1/SeccompProfile': SPO_SECCOMP,
  'security-profiles-operator.x-k8s.io/v1alpha1/AppArmorProfile': SPO_APPARMOR,
  'security-profiles-operator.x-k8s.io/v1alpha2/RawSelinuxProfile': SPO_SELINUX,
};

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);

function walk(v: unknown, s: S, path: string, out: string[]): void {
  if (s === 'any') return;
  if (s === 'str') {
    if (typeof v !== 'string') out.push(`${path}: must be a string`);
    return;
  }
  if (s === 'int') {
    if (!(typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)))) out.push(`${path}: must be an integer`);
    return;
  }
  if (s === 'bool') {
    if (typeof v !== 'boolean') out.push(`${path}: must be true or false`);
    return;
  }
  if ('list' in s) {
    if (!Array.isArray(v)) out.push(`${path}: must be a list`);
    else v.forEach((x, i) => walk(x, s.list, `${path}[${i}]`, out));
    return;
  }
  if ('map' in s) {
    if (!isRec(v)) out.push(`${path}: must be a mapping`);
    else for (const [k, x] of Object.entries(v)) walk(x, s.map, `${path}.${k}`, out);
    return;
  }
  if (!isRec(v)) {
    out.push(`${path}: must be a mapping`);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    const sub = s.fields[k];
    if (sub === undefined) out.push(`${path ? `${path}.` : ''}${k}: unknown field`);
    else walk(x, sub, path ? `${path}.${k}` : k, out);
  }
  for (const k of s.required ?? []) if (v[k] === undefined) out.push(`${path ? `${path}.` : ''}${k}: required`);
}

const PROFILE_TYPES = ['RuntimeDefault', 'Unconfined', 'Localhost'];

/** seccompProfile / appArmorProfile: localhostProfile exactly when Localhost, in the right form. */
function checkProfileRef(ref: unknown, path: string, kind: 'seccomp' | 'apparmor', out: string[]): void {
  if (!isRec(ref)) return;
  const type = ref.type;
  const lp = ref.localhostProfile;
  if (typeof type !== 'string' || !PROFILE_TYPES.includes(type)) {
    out.push(`${path}.type: must be one of ${PROFILE_TYPES.join(', ')}`);
    return;
  }
  if (type !== 'Localhost') {
    if (lp !== undefined) out.push(`${path}.localhostProfile: must be absent unless type is Localhost`);
    return;
  }
  if (typeof lp !== 'string' || lp.length === 0) {
    out.push(`${path}.localhostProfile: required when type is Localhost`);
    return;
  }
  if (kind === 'seccomp') {
    if (lp.startsWith('/') || lp.split('/').includes('..') || !lp.endsWith('.json')) {
      out.push(`${path}.localhostProfile: must be a relative path of a .json file under the kubelet's seccomp root, not "${lp}"`);
    }
  } else if (lp.includes('/') || /\s/.test(lp)) {
    out.push(`${path}.localhostProfile: must be the name of a loaded AppArmor profile (no slash), not "${lp}"`);
  }
}

export function checkSecurityContext(sc: unknown, path: string): string[] {
  const out: string[] = [];
  if (!isRec(sc)) return out;
  checkProfileRef(sc.seccompProfile, `${path}.seccompProfile`, 'seccomp', out);
  checkProfileRef(sc.appArmorProfile, `${path}.appArmorProfile`, 'apparmor', out);
  const se = sc.seLinuxOptions;
  if (isRec(se) && (typeof se.type !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]*$/.test(se.type))) out.push(`${path}.seLinuxOptions.type: must be an SELinux type name`);
  const caps = sc.capabilities;
  if (isRec(caps)) {
    for (const key of ['add', 'drop'] as const) {
      const l = caps[key];
      if (!Array.isArray(l)) continue;
      l.forEach((c, i) => {
        if (typeof c !== 'string') return;
        if (key === 'drop' && c === 'ALL') return;
        if (c.startsWith('CAP_') || !CAPABILITY_NAMES.includes(`CAP_${c}`)) out.push(`${path}.capabilities.${key}[${i}]: "${c}" is not a capability name without the CAP_ prefix`);
      });
    }
  }
  if (sc.runAsNonRoot === true && sc.runAsUser === 0) out.push(`${path}.runAsNonRoot: contradicts runAsUser 0`);
  if (sc.privileged === true && sc.allowPrivilegeEscalation === false) out.push(`${path}.allowPrivilegeEscalation: cannot be false for a privileged container`);
  return out;
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkMeta(meta: unknown, path: string, out: string[]): void {
  if (!isRec(meta)) return;
  if (typeof meta.name === 'string' && !isDnsSubdomain(meta.name)) out.push(`${path}.name: "${meta.name}" is not an RFC 1123 subdomain`);
  for (const key of ['labels', 'annotations'] as const) {
    const m = meta[key];
    if (!isRec(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      const slash = k.indexOf('/');
      const prefix = slash < 0 ? undefined : k.slice(0, slash);
      const name = slash < 0 ? k : k.slice(slash + 1);
      if ((prefix !== undefined && !isDnsSubdomain(prefix)) || name.length === 0 || name.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name)) {
        out.push(`${path}.${key}.${k}: not a valid key`);
      }
      if (key === 'labels' && typeof v === 'string' && (v.length > 63 || !LABEL_VALUE.test(v))) out.push(`${path}.labels.${k}: "${v}" is not a valid label value`);
    }
  }
}

function checkPodSpec(spec: unknown, path: string, out: string[]): void {
  if (!isRec(spec)) return;
  const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isRec) : [];
  const volumeNames = new Set<string>();
  volumes.forEach((v, i) => {
    const n = v.name;
    if (typeof n !== 'string') return;
    if (!isDnsLabel(n)) out.push(`${path}.volumes[${i}].name: "${n}" is not an RFC 1123 label`);
    if (volumeNames.has(n)) out.push(`${path}.volumes[${i}].name: "${n}" is used twice`);
    volumeNames.add(n);
    const sources = ['emptyDir', 'hostPath', 'persistentVolumeClaim'].filter((k) => v[k] !== undefined);
    if (sources.length !== 1) out.push(`${path}.volumes[${i}]: needs exactly one volume source`);
    if (isRec(v.hostPath) && (typeof v.hostPath.path !== 'string' || !v.hostPath.path.startsWith('/'))) out.push(`${path}.volumes[${i}].hostPath.path: must be absolute`);
    if (isRec(v.persistentVolumeClaim) && typeof v.persistentVolumeClaim.claimName === 'string' && !isDnsSubdomain(v.persistentVolumeClaim.claimName)) {
      out.push(`${path}.volumes[${i}].persistentVolumeClaim.claimName: not an RFC 1123 subdomain`);
    }
    if (isRec(v.emptyDir) && v.emptyDir.medium !== undefined && v.emptyDir.medium !== '' && v.emptyDir.medium !== 'Memory') out.push(`${path}.volumes[${i}].emptyDir.medium: must be "" or Memory`);
  });
  if (typeof spec.hostname === 'string' && !isDnsLabel(spec.hostname)) out.push(`${path}.hostname: "${spec.hostname}" is not an RFC 1123 label`);
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy as string)) out.push(`${path}.restartPolicy: must be Always, OnFailure or Never`);
  if (typeof spec.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds < 1) out.push(`${path}.activeDeadlineSeconds: must be at least 1`);
  if (typeof spec.runtimeClassName === 'string' && !isDnsSubdomain(spec.runtimeClassName)) out.push(`${path}.runtimeClassName: not an RFC 1123 subdomain`);
  out.push(...checkSecurityContext(spec.securityContext, `${path}.securityContext`).filter((p) => !p.includes('.capabilities')));
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0) out.push(`${path}.containers: needs at least one container`);
  const containerNames = new Set<string>();
  containers.forEach((c, i) => {
    if (!isRec(c)) return;
    const cp = `${path}.containers[${i}]`;
    if (typeof c.name === 'string') {
      if (!isDnsLabel(c.name)) out.push(`${cp}.name: "${c.name}" is not an RFC 1123 label`);
      if (containerNames.has(c.name)) out.push(`${cp}.name: "${c.name}" is used twice`);
      containerNames.add(c.name);
    }
    if (typeof c.image === 'string' && (c.image.length === 0 || /\s/.test(c.image))) out.push(`${cp}.image: not an image reference`);
    if (typeof c.workingDir === 'string' && !c.workingDir.startsWith('/')) out.push(`${cp}.workingDir: must be absolute`);
    out.push(...checkSecurityContext(c.securityContext, `${cp}.securityContext`));
    const res = c.resources;
    if (isRec(res)) {
      for (const kind of ['limits', 'requests'] as const) {
        const m = res[kind];
        if (!isRec(m)) continue;
        for (const [k, q] of Object.entries(m)) {
          if (!['cpu', 'memory', 'ephemeral-storage'].includes(k)) out.push(`${cp}.resources.${kind}.${k}: unknown resource`);
          if (typeof q !== 'string' || !QUANTITY.test(q)) out.push(`${cp}.resources.${kind}.${k}: "${String(q)}" is not a quantity`);
        }
      }
    }
    const envNames = new Set<string>();
    (Array.isArray(c.env) ? c.env : []).forEach((e, j) => {
      if (!isRec(e) || typeof e.name !== 'string') return;
      if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(e.name)) out.push(`${cp}.env[${j}].name: "${e.name}" is not a valid name`);
      if (envNames.has(e.name)) out.push(`${cp}.env[${j}].name: "${e.name}" is set twice`);
      envNames.add(e.name);
    });
    const mountPaths = new Set<string>();
    (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).forEach((m, j) => {
      if (!isRec(m)) return;
      if (typeof m.name === 'string' && !volumeNames.has(m.name)) out.push(`${cp}.volumeMounts[${j}].name: no volume "${m.name}"`);
      if (typeof m.mountPath === 'string') {
        if (!m.mountPath.startsWith('/')) out.push(`${cp}.volumeMounts[${j}].mountPath: must be absolute`);
        if (mountPaths.has(m.mountPath)) out.push(`${cp}.volumeMounts[${j}].mountPath: "${m.mountPath}" is mounted twice`);
        mountPaths.add(m.mountPath);
      }
    });
  });
}

const SCMP_ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY'];
const SCMP_ARCHES = ['SCMP_ARCH_NATIVE', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64'];
const SCMP_OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];

function checkSpoSeccomp(spec: unknown, path: string, out: string[]): void {
  if (!isRec(spec)) return;
  if (typeof spec.defaultAction === 'string' && (!SCMP_ACTIONS.includes(spec.defaultAction) || spec.defaultAction === 'SCMP_ACT_NOTIFY')) out.push(`${path}.defaultAction: "${spec.defaultAction}" is not a default action`);
  (Array.isArray(spec.architectures) ? spec.architectures : []).forEach((a, i) => {
    if (typeof a === 'string' && !SCMP_ARCHES.includes(a)) out.push(`${path}.architectures[${i}]: "${a}" is not an SCMP_ARCH_* name`);
  });
  (Array.isArray(spec.syscalls) ? spec.syscalls : []).forEach((s, i) => {
    if (!isRec(s)) return;
    if (typeof s.action === 'string' && !SCMP_ACTIONS.includes(s.action)) out.push(`${path}.syscalls[${i}].action: "${s.action}" is not an action`);
    if (Array.isArray(s.names) && s.names.length === 0) out.push(`${path}.syscalls[${i}].names: must name a syscall`);
    const args = Array.isArray(s.args) ? s.args : [];
    if (args.length > 6) out.push(`${path}.syscalls[${i}].args: at most 6`);
    args.forEach((a, j) => {
      if (!isRec(a)) return;
      if (typeof a.index === 'number' && (a.index < 0 || a.index > 5)) out.push(`${path}.syscalls[${i}].args[${j}].index: must be 0 to 5`);
      if (typeof a.op === 'string' && !SCMP_OPS.includes(a.op)) out.push(`${path}.syscalls[${i}].args[${j}].op: "${a.op}" is not an operator`);
    });
  });
}

/** Problems of one object (an empty list when none). */
export function checkManifest(obj: unknown, where = ''): string[] {
  const out: string[] = [];
  const at = (p: string) => (where ? `${where}: ${p}` : p);
  if (!isRec(obj)) return [at('(object): must be a mapping')];
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const schema = KINDS[key];
  if (!schema) return [at(`apiVersion/kind: ${key} is not an object stockade emits`)];
  const problems: string[] = [];
  walk(obj, schema, '', problems);
  checkMeta(obj.metadata, 'metadata', problems);
  if (obj.kind === 'Pod') checkPodSpec(obj.spec, 'spec', problems);
  if (obj.kind === 'RuntimeClass' && typeof obj.handler === 'string' && !isDnsLabel(obj.handler)) problems.push(`handler: "${obj.handler}" is not an RFC 1123 label`);
  if (obj.kind === 'SeccompProfile') checkSpoSeccomp(obj.spec, 'spec', problems);
  if (obj.kind === 'NetworkPolicy') {
    const types = isRec(obj.spec) && Array.isArray(obj.spec.policyTypes) ? obj.spec.policyTypes : [];
    types.forEach((t, i) => {
      if (t !== 'Ingress' && t !== 'Egress') problems.push(`spec.policyTypes[${i}]: must be Ingress or Egress`);
    });
  }
  out.push(...problems.map(at));
  return out;
}

/** Problems of several objects, each prefixed with `Kind/name`. */
export function checkManifests(objs: readonly unknown[]): string[] {
  return objs.flatMap((o) => {
    const r = isRec(o) ? o : {};
    const meta = isRec(r.metadata) ? r.metadata : {};
    return checkManifest(o, `${String(r.kind)}/${String(meta.name)}`);
  });
}

/** Problems of a securityContext patch for a pod template (`stockade k8s --format patch`). */
export function checkPatch(patch: unknown): string[] {
  const out: string[] = [];
  const tmpl = isRec(patch) && isRec(patch.spec) && isRec(patch.spec.template) && isRec(patch.spec.template.spec) ? patch.spec.template.spec : undefined;
  if (!tmpl || Object.keys(patch as Rec).length !== 1 || Object.keys((patch as { spec: Rec }).spec).length !== 1) return ['patch: must be {spec: {template: {spec: ...}}}'];
  const containers = tmpl.containers;
  if (!Array.isArray(containers) || containers.length === 0) return ['spec.template.spec.containers: must list the container to patch'];
  containers.forEach((c, i) => {
    const p = `spec.template.spec.containers[${i}]`;
    walk(c, fields({ name: str, securityContext: SECURITY_CONTEXT }, ['name', 'securityContext']), p, out);
    if (isRec(c)) {
      if (typeof c.name === 'string' && !isDnsLabel(c.name)) out.push(`${p}.name: "${c.name}" is not an RFC 1123 label`);
      out.push(...checkSecurityContext(c.securityContext, `${p}.securityContext`));
    }
  });
  return out;
}
