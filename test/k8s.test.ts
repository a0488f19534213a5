/** Kubernetes emitters (src/k8s) and `stockade k8s`: mappings, refusals, manifest checks. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../src/errors.js';
import { parseJsonExact, type JsonValue } from '../src/json-exact.js';
import { formatOf, parsePolicyText } from '../src/policy/load.js';
import type { Policy } from '../src/policy/types.js';
import { isBuiltinName } from '../src/seccomp/builtin.js';
import { k8sCommand } from '../src/cli/k8s.js';
import { emitKubernetes, type K8sOptions } from '../src/k8s/emit.js';
import { checkWorkloadName, nameFromFile, profileNames } from '../src/k8s/names.js';
import { cpuQuantity, memoryQuantity, podObjects } from '../src/k8s/pod.js';
import { adaptProfile, policySeccompProfile, spoSeccompSpec } from '../src/k8s/seccomp.js';
import { renameCilBlock, spoObjects } from '../src/k8s/spo.js';
import { checkManifest, checkManifests, checkPatch } from '../src/k8s/validate.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POLICIES = join(ROOT, 'test', 'fixtures', 'policies');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function corpus(): string[] {
  return readdirSync(POLICIES).filter((f) => /\.(ya?ml|json|toml)$/.test(f)).sort();
}

function load(file: string): { policy: Policy; seccompProfile: JsonValue | undefined; name: string } {
  const path = join(POLICIES, file);
  const name = file.replace(/\.(ya?ml|json|toml)$/, '');
  const policy = parsePolicyText(readFileSync(path, 'utf8'), name, formatOf(path));
  const prof = policy.syscalls.profile;
  const seccompProfile = prof === 'unconfined' || isBuiltinName(prof) ? undefined : parseJsonExact(readFileSync(join(POLICIES, prof), 'utf8'), prof);
  return { policy, seccompProfile, name };
}

function policyOf(yaml: string, source = 'test-policy'): Policy {
  return parsePolicyText(yaml, source, 'yaml');
}

function emit(policy: Policy, opts: Partial<K8sOptions> = {}) {
  return emitKubernetes(policy, { name: 'app', ...opts });
}

function pod(objects: Obj[]): Obj {
  const p = objects.find((o) => o.kind === 'Pod');
  assert.ok(p, 'no Pod');
  return p;
}

function container(objects: Obj[]): Obj {
  return pod(objects).spec.containers[0];
}

function inputError(fn: () => unknown, ...parts: string[]): StockadeError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StockadeError, `not a StockadeError: ${String(e)}`);
    assert.equal(e.code, 'input', e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" does not mention "${p}"`);
    return e;
  }
  assert.fail('no error');
}

async function generators() {
  const aa = join(ROOT, 'dist', 'src', 'apparmor', 'generate.js');
  const se = join(ROOT, 'dist', 'src', 'selinux', 'generate.js');
  const out: { apparmor?: (p: Policy, o: { mode: 'enforce'; name: string }) => string; selinux?: (p: Policy, o: { mode: 'enforcing'; name: string }) => string } = {};
  if (existsSync(aa)) out.apparmor = (await import(aa)).generateAppArmor;
  if (existsSync(se)) {
    const m = await import(se);
    out.selinux = m.generateSelinuxCil ?? m.generateSelinux;
  }
  return out;
}

/** kubernetes-models (a devDependency) when installed; the test that needs it skips otherwise. */
async function kubernetesModels(): Promise<Record<string, new (o: unknown) => { validate(): void }> | undefined> {
  const load = async (spec: string, name: string) => ((await import(spec)) as Record<string, unknown>)[name] as new (o: unknown) => { validate(): void };
  try {
    return {
      Pod: await load('kubernetes-models/v1/Pod', 'Pod'),
      NetworkPolicy: await load('kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'NetworkPolicy'),
      RuntimeClass: await load('kubernetes-models/node.k8s.io/v1/RuntimeClass', 'RuntimeClass'),
    };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- every manifest validates

test('every corpus manifest passes our checks and kubernetes-models', async (t) => {
  const models = await kubernetesModels();
  if (!models) t.diagnostic('kubernetes-models is not installed: schema validation skipped (npm install kubernetes-models)');
  const gens = await generators();
  let validated = 0;
  for (const file of corpus()) {
    const { policy, seccompProfile, name } = load(file);
    const variants: Array<Partial<K8sOptions>> = [
      { format: 'pod', allowWeaker: true },
      { format: 'pod', allowWeaker: true, volumes: 'hostpath', isolation: 'gvisor', lsm: 'apparmor' },
      { format: 'pod', allowWeaker: true, volumes: 'emptydir', isolation: 'microvm', profiles: 'spo', lsm: 'selinux' },
    ];
    if (gens.apparmor) {
      let apparmor: string | undefined;
      try {
        apparmor = gens.apparmor(policy, { mode: 'enforce', name });
      } catch (e) {
        if (!(e instanceof StockadeError)) throw e;
      }
      if (apparmor !== undefined) variants.push({ format: 'all', allowWeaker: true, lsm: 'apparmor', apparmor });
    }
    for (const v of variants) {
      const out = emitKubernetes(policy, { name, seccompProfile, ...v });
      assert.deepEqual(checkManifests(out.objects), [], `${file} ${JSON.stringify(v)}`);
      for (const obj of out.objects as Obj[]) {
        const Model = models?.[obj.kind];
        if (!Model) continue;
        assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${obj.kind} ${JSON.stringify(v)}`);
        validated++;
      }
    }
    const patch = emitKubernetes(policy, { name, seccompProfile, format: 'patch' });
    assert.deepEqual(checkPatch(patch.objects[0]), [], file);
    if (models) {
      // The patch's container, put in a Pod, is a valid Pod.
      const c = (patch.objects[0] as Obj).spec.template.spec.containers[0];
      assert.doesNotThrow(() => new models.Pod!({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ ...c, image: 'x' }] } }).validate());
    }
  }
  if (models) {
    assert.ok(validated > 60, `only ${validated} objects validated`);
    // The schema validator is live: it rejects a profile type Kubernetes does not know.
    const bad = goodPod();
    bad.spec.containers[0].securityContext.seccompProfile = { type: 'Bogus' };
    assert.throws(() => new models.Pod!(bad).validate());
  }
});

// ---------------------------------------------------------------- negative controls

function goodPod(): Obj {
  const { policy } = load('minimal.yaml');
  return pod(emit(policy).objects as Obj[]);
}

test('the checks reject hand-broken manifests', () => {
  assert.deepEqual(checkManifest(goodPod()), []);
  const cases: Array<[string, (p: Obj) => void, string]> = [
    ['AppArmor localhostProfile given a path', (p) => { p.spec.containers[0].securityContext.appArmorProfile.localhostProfile = '/etc/apparmor.d/stockade-app'; }, 'appArmorProfile.localhostProfile: must be the name of a loaded AppArmor profile'],
    ['seccomp Localhost without localhostProfile', (p) => { delete p.spec.containers[0].securityContext.seccompProfile.localhostProfile; }, 'seccompProfile.localhostProfile: required when type is Localhost'],
    ['seccomp localhostProfile absolute', (p) => { p.spec.containers[0].securityContext.seccompProfile.localhostProfile = '/var/lib/kubelet/seccomp/x.json'; }, 'must be a relative path of a .json file'],
    ['seccomp localhostProfile escaping the root', (p) => { p.spec.containers[0].securityContext.seccompProfile.localhostProfile = '../x.json'; }, 'must be a relative path'],
    ['Unconfined with a localhostProfile', (p) => { p.spec.containers[0].securityContext.seccompProfile.type = 'Unconfined'; }, 'must be absent unless type is Localhost'],
    ['an unknown profile type', (p) => { p.spec.containers[0].securityContext.appArmorProfile.type = 'localhost'; }, 'appArmorProfile.type: must be one of'],
    ['an unknown field', (p) => { p.spec.containers[0].securityContext.seccomp = {}; }, 'spec.containers[0].securityContext.seccomp: unknown field'],
    ['an unknown top-level field', (p) => { p.status = {}; }, 'status: unknown field'],
    ['a name that is not RFC 1123', (p) => { p.metadata.name = 'My_App'; }, 'metadata.name: "My_App" is not an RFC 1123 subdomain'],
    ['a container name that is not a label', (p) => { p.spec.containers[0].name = 'a.b'; }, 'is not an RFC 1123 label'],
    ['a mount of a missing volume', (p) => { p.spec.containers[0].volumeMounts[0].name = 'nope'; }, 'no volume "nope"'],
    ['a capability with its CAP_ prefix', (p) => { p.spec.containers[0].securityContext.capabilities.add = ['CAP_NET_RAW']; }, 'capabilities.add[0]'],
    ['runAsNonRoot with uid 0', (p) => { p.spec.containers[0].securityContext.runAsUser = 0; }, 'runAsNonRoot: contradicts runAsUser 0'],
    ['a wrong type', (p) => { p.spec.containers[0].securityContext.privileged = 'false'; }, 'privileged: must be true or false'],
    ['a bad quantity', (p) => { p.spec.containers[0].resources = { limits: { memory: '512MB' } }; }, 'is not a quantity'],
  ];
  for (const [what, breakIt, expect] of cases) {
    const p = goodPod();
    breakIt(p);
    const problems = checkManifest(p);
    assert.ok(problems.some((x) => x.includes(expect)), `${what}: ${JSON.stringify(problems)}`);
  }
  assert.deepEqual(checkManifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }), ['apiVersion/kind: v1/Secret is not an object stockade emits']);
  const patch = emit(policyOf('command: [x]'), { format: 'patch' }).objects[0] as Obj;
  patch.spec.template.spec.containers[0].securityContext.appArmorProfile = { type: 'Localhost', localhostProfile: 'a/b' };
  assert.ok(checkPatch(patch).some((x) => x.includes('appArmorProfile.localhostProfile')));
  const spo = spoObjects({ name: 'app', seccomp: adaptProfile(policySeccompProfile(policyOf('command: [x]'), undefined)!, [], 'errno'), lsm: 'selinux', selinuxCil: '(block stockade_app (blockinherit container))' }) as Obj[];
  assert.deepEqual(checkManifests(spo), []);
  spo[0]!.spec.defaultAction = 'SCMP_ACT_NOTIFY';
  spo[0]!.spec.syscalls[0].action = 'ALLOW';
  const problems = checkManifests(spo);
  assert.ok(problems.some((x) => x.includes('defaultAction')) && problems.some((x) => x.includes('syscalls[0].action')), JSON.stringify(problems));
});

// ---------------------------------------------------------------- unexpressible input

test('what Kubernetes cannot express is an input error naming the rule and the format', () => {
  inputError(() => emit(policyOf('command: [x]\nlimits: { pids: 10 }')), 'limits.pids', 'Kubernetes', '--allow-weaker');
  inputError(() => emit(policyOf('command: [x]\nlimits: { cpuTime: 5s }')), 'limits.cpuTime', 'Kubernetes');
  inputError(() => emit(policyOf('command: [x]\nlimits: { openFiles: 64 }')), 'limits.openFiles', 'Kubernetes');
  inputError(() => emit(policyOf('command: [x]\nlimits: { fileSize: 1M }')), 'limits.fileSize', 'Kubernetes');
  inputError(() => emit(policyOf('command: [x]\nlimits: { wallTime: 1500ms }')), 'limits.wallTime', 'whole seconds');
  inputError(() => emit(policyOf('command: [x]\nlimits: { cpu: 0.0005 }')), 'limits.cpu', 'Kubernetes');
  inputError(() => emit(policyOf('command: [x]\nhostname: build.example')), 'hostname', 'Kubernetes');
  const hide = policyOf('command: [x]\nfilesystem: { read: [/opt/app], hide: [/opt/app/secrets, /etc/shadow] }');
  inputError(() => emit(hide, { volumes: 'hostpath' }), 'filesystem.hide[0]', '/opt/app/secrets', 'Kubernetes', 'hostPath');
  // The same hide list is met by construction when nothing of the host is mounted.
  assert.doesNotThrow(() => emit(hide));
  // Every shortfall is named in one error.
  const e = inputError(() => emit(policyOf('command: [x]\nlimits: { pids: 1, openFiles: 9 }')));
  assert.match(e.message, /limits\.pids.*limits\.openFiles/);
  assert.ok(e.message.startsWith('test-policy: '), e.message);
});

test('--allow-weaker drops and lists; --node-pids-limit keeps limits.pids', () => {
  const p = policyOf('command: [x]\nlimits: { pids: 64, openFiles: 100, wallTime: 1500ms }');
  const out = emit(p, { allowWeaker: true });
  const ann = pod(out.objects as Obj[]).metadata.annotations;
  assert.deepEqual(out.dropped.map((d) => d.split(':')[0]), ['limits.pids', 'limits.openFiles', 'limits.wallTime']);
  assert.equal(ann['stockade.dev/dropped'], out.dropped.join('\n'));
  assert.equal(pod(out.objects as Obj[]).spec.activeDeadlineSeconds, 2);
  const kept = emit(policyOf('command: [x]\nlimits: { pids: 64 }'), { nodePidsLimit: 64 });
  assert.deepEqual(kept.dropped, []);
  assert.match(pod(kept.objects as Obj[]).metadata.annotations['stockade.dev/assumes'], /podPidsLimit is at most 64/);
  inputError(() => emit(policyOf('command: [x]\nlimits: { pids: 64 }'), { nodePidsLimit: 65 }), 'limits.pids', '--node-pids-limit 65');
});

// ---------------------------------------------------------------- mappings

test('securityContext: profiles, capabilities, identity, read-only root', () => {
  const { policy } = load('web-server.yaml');
  const c = container(emit(policy, { name: 'web', allowWeaker: true }).objects as Obj[]);
  assert.deepEqual(c.securityContext, {
    allowPrivilegeEscalation: false,
    appArmorProfile: { type: 'Localhost', localhostProfile: 'stockade-web' },
    capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsGroup: 101,
    runAsNonRoot: true,
    runAsUser: 101,
    seLinuxOptions: { type: 'stockade_web.process' },
    seccompProfile: { type: 'Localhost', localhostProfile: 'stockade/web.json' },
  });
  const many = container(emit(load('many-caps.yaml').policy, { allowWeaker: true }).objects as Obj[]);
  assert.deepEqual(many.securityContext.capabilities.add, ['KILL', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW', 'SYS_TIME']);
  const root = container(emit(load('root-user.yaml').policy).objects as Obj[]).securityContext;
  assert.equal(root.runAsUser, 0);
  assert.equal(root.runAsNonRoot, false);
  const nobody = container(emit(policyOf('command: [x]')).objects as Obj[]).securityContext;
  assert.deepEqual([nobody.runAsUser, nobody.runAsGroup, nobody.runAsNonRoot], [65534, 65534, true]);
  const unconfined = emit(load('unconfined-syscalls.yaml').policy);
  assert.deepEqual(container(unconfined.objects as Obj[]).securityContext.seccompProfile, { type: 'Unconfined' });
  assert.deepEqual(unconfined.files, []);
  const aaOnly = container(emit(policyOf('command: [x]'), { lsm: 'apparmor' }).objects as Obj[]).securityContext;
  assert.ok(aaOnly.appArmorProfile && !aaOnly.seLinuxOptions);
  const seOnly = container(emit(policyOf('command: [x]'), { lsm: 'selinux' }).objects as Obj[]).securityContext;
  assert.ok(!seOnly.appArmorProfile && seOnly.seLinuxOptions);
});

test('network, limits, environment, terminal and the pod around the container', () => {
  const host = emit(load('node-service.yaml').policy, { allowWeaker: true }).objects as Obj[];
  assert.equal(pod(host).spec.hostNetwork, true);
  assert.equal(pod(host).spec.hostname, undefined);
  assert.ok(!host.some((o) => o.kind === 'NetworkPolicy'));
  const lo = emit(load('web-loopback.yaml').policy, { allowWeaker: true }).objects as Obj[];
  const np = lo.find((o) => o.kind === 'NetworkPolicy')!;
  assert.deepEqual(np.spec, { podSelector: { matchLabels: { 'stockade.dev/policy': 'app' } }, policyTypes: ['Ingress', 'Egress'] });
  assert.deepEqual(pod(lo).metadata.labels, { 'stockade.dev/policy': 'app' });
  const cron = pod(emit(load('cron-job.yaml').policy, { allowWeaker: true }).objects as Obj[]);
  assert.equal(cron.spec.activeDeadlineSeconds, 900);
  assert.equal(cron.spec.restartPolicy, 'Never');
  assert.equal(cron.spec.automountServiceAccountToken, false);
  assert.equal(cron.spec.enableServiceLinks, false);
  const ml = container(emit(load('ml-batch.yaml').policy, { allowWeaker: true }).objects as Obj[]);
  assert.deepEqual(ml.resources, { limits: { cpu: '8', memory: '16Gi' } });
  assert.deepEqual(ml.env, [{ name: 'HF_HUB_OFFLINE', value: '1' }, { name: 'OMP_NUM_THREADS', value: '8' }]);
  assert.equal(ml.workingDir, '/opt/infer');
  assert.deepEqual(ml.command, ['python3', '/opt/infer/run.py', '--model', '/models/resnet50', '--out', '/results']);
  const sh = container(emit(load('interactive-shell.yaml').policy, { allowWeaker: true }).objects as Obj[]);
  assert.deepEqual([sh.stdin, sh.tty], [true, true]);
  assert.equal(memoryQuantity(1536 * 1024), '1536Ki');
  assert.equal(memoryQuantity(1000), '1000');
  assert.equal(memoryQuantity(2 * 1024 ** 3), '2Gi');
  assert.equal(cpuQuantity(0.25, 's'), '250m');
  assert.equal(cpuQuantity(2, 's'), '2');
  assert.equal(cpuQuantity(1.5, 's'), '1500m');
});

test('volumes: tmpfs, write and read paths under each --volumes mode', () => {
  const p = policyOf('command: [x]\ncwd: /srv/app\nfilesystem: { read: [/data/models], write: [/srv/out], tmpfs: [/tmp, /srv/out] }');
  const vols = (o: Partial<K8sOptions>) => {
    const pd = pod(emit(p, o).objects as Obj[]);
    return { volumes: pd.spec.volumes as Obj[], mounts: pd.spec.containers[0].volumeMounts as Obj[] };
  };
  const pvc = vols({});
  assert.deepEqual(pvc.volumes, [
    { name: 'rw-srv-app', persistentVolumeClaim: { claimName: 'app-srv-app' } },
    { name: 'rw-srv-out', persistentVolumeClaim: { claimName: 'app-srv-out' } },
    { name: 'tmp-tmp', emptyDir: { medium: 'Memory' } },
  ], 'the working directory is writable, a tmpfs on a writable path is left out, read paths come from the image');
  assert.deepEqual(pvc.mounts.map((m) => m.mountPath), ['/srv/app', '/srv/out', '/tmp']);
  const empty = vols({ volumes: 'emptydir' });
  assert.deepEqual(empty.volumes.find((v) => v.name === 'rw-srv-out'), { name: 'rw-srv-out', emptyDir: {} });
  const host = vols({ volumes: 'hostpath' });
  assert.deepEqual(host.volumes.find((v) => v.name === 'ro-data-models'), { name: 'ro-data-models', hostPath: { path: '/data/models' } });
  assert.deepEqual(host.mounts.find((m) => m.name === 'ro-data-models'), { name: 'ro-data-models', mountPath: '/data/models', readOnly: true });
  const rootfs = policyOf('command: [x]\nfilesystem: { root: /srv/rootfs, read: [/data], tmpfs: [] }');
  const rpod = pod(emit(rootfs).objects as Obj[]);
  assert.deepEqual(rpod.spec.volumes, [{ name: 'ro-data', persistentVolumeClaim: { claimName: 'app-data', readOnly: true } }]);
  assert.equal(rpod.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
  // Volume names stay unique when slugs collide.
  const clash = pod(emit(policyOf('command: [x]\nfilesystem: { tmpfs: [/a-b, /a/b] }')).objects as Obj[]);
  assert.deepEqual((clash.spec.volumes as Obj[]).map((v) => v.name), ['tmp-a-b', 'tmp-a-b-2']);
});

test('the Localhost seccomp profile: onViolation and capability conditions applied', () => {
  const file = (yaml: string, json?: JsonValue) => JSON.parse(emit(policyOf(yaml), { seccompProfile: json }).files[0]!.content);
  assert.equal(file('command: [x]').defaultAction, 'SCMP_ACT_ERRNO');
  const kill = file('command: [x]\nsyscalls: { profile: stockade:default, onViolation: kill }');
  assert.equal(kill.defaultAction, 'SCMP_ACT_KILL_PROCESS');
  assert.equal(kill.defaultErrnoRet, undefined);
  // ENOSYS answers (how programs find fallbacks) are not violations and stay.
  assert.ok(kill.syscalls.some((s: Obj) => s.action === 'SCMP_ACT_ERRNO' && s.errnoRet !== 1));
  assert.ok(!kill.syscalls.some((s: Obj) => s.action === 'SCMP_ACT_ERRNO' && (s.errnoRet ?? 1) === 1));
  assert.equal(file('command: [x]\nsyscalls: { profile: stockade:default, onViolation: log }').defaultAction, 'SCMP_ACT_LOG');
  const prof: JsonValue = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PTRACE'] } },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 18446744073709551615n, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  };
  const names = (caps: string) => file(`command: [x]\nsyscalls: { profile: p.json }\ncapabilities: [${caps}]`, prof).syscalls.map((s: Obj) => s.names[0]);
  assert.deepEqual(names(''), ['read', 'personality', 'clone']);
  assert.deepEqual(names('CAP_SYS_PTRACE, CAP_SYS_ADMIN'), ['read', 'ptrace', 'clone']);
  // u64 argument values survive exactly.
  const text = emit(policyOf('command: [x]\nsyscalls: { profile: p.json }'), { seccompProfile: prof }).files[0]!.content;
  assert.ok(text.includes('"value": 18446744073709551615'), text);
  inputError(() => emit(policyOf('command: [x]\nsyscalls: { profile: p.json }')), 'syscalls.profile', 'was not read');
});

test('Security Profiles Operator objects and a Pod that uses them', async () => {
  const { policy } = load('recorded.yaml');
  const { seccompProfile } = load('recorded.yaml');
  const apparmor = 'abi <abi/3.0>,\nprofile stockade-thumbs flags=(attach_disconnected) {\n}\n';
  const selinuxCil = '(block stockade_thumbs\n  (blockinherit container)\n  (allow process stockade_thumbs.process (file (read))))\n';
  const out = emitKubernetes(policy, { name: 'thumbs', format: 'all', seccompProfile, apparmor, selinuxCil, isolation: 'gvisor', allowWeaker: true });
  assert.deepEqual((out.objects as Obj[]).map((o) => `${o.apiVersion} ${o.kind}`), [
    'security-profiles-operator.x-k8s.io/v1beta1 SeccompProfile',
    'security-profiles-operator.x-k8s.io/v1alpha1 AppArmorProfile',
    'security-profiles-operator.x-k8s.io/v1alpha2 RawSelinuxProfile',
    'node.k8s.io/v1 RuntimeClass',
    'networking.k8s.io/v1 NetworkPolicy',
    'v1 Pod',
  ]);
  assert.deepEqual(out.files, [], 'the operator installs the seccomp profile');
  const objs = out.objects as Obj[];
  assert.ok(objs.slice(0, 3).every((o) => o.metadata.name === 'stockade-thumbs' && o.metadata.namespace === undefined));
  assert.equal(objs[1]!.spec.policy, apparmor);
  assert.equal(objs[2]!.spec.policy, '(block stockade-thumbs\n  (blockinherit container)\n  (allow process stockade-thumbs.process (file (read))))\n');
  assert.deepEqual(objs[3], { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'gvisor' }, handler: 'runsc' });
  const sc = container(objs).securityContext;
  assert.deepEqual(sc.seccompProfile, { type: 'Localhost', localhostProfile: 'operator/stockade-thumbs.json' });
  assert.deepEqual(sc.appArmorProfile, { type: 'Localhost', localhostProfile: 'stockade-thumbs' });
  assert.deepEqual(sc.seLinuxOptions, { type: 'stockade-thumbs.process' });
  assert.equal(pod(objs).spec.runtimeClassName, 'gvisor');
  assert.deepEqual(objs[0]!.spec, {
    architectures: ['SCMP_ARCH_X86_64'],
    defaultAction: 'SCMP_ACT_KILL_PROCESS',
    syscalls: [{ names: JSON.parse(readFileSync(join(POLICIES, 'profiles', 'recorded.json'), 'utf8')).syscalls[0].names, action: 'SCMP_ACT_ALLOW' }],
  });
  const kata = emitKubernetes(policyOf('command: [x]'), { name: 'vm', isolation: 'microvm' }).objects as Obj[];
  assert.deepEqual(kata[0], { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'kata' }, handler: 'kata' });
  // The texts must declare what the Pod references.
  inputError(() => emitKubernetes(policy, { name: 'other', format: 'spo', seccompProfile, apparmor, selinuxCil }), 'profile stockade-other');
  inputError(() => emitKubernetes(policy, { name: 'thumbs', format: 'spo', seccompProfile, apparmor, selinuxCil: '(block other)' }), 'block stockade_thumbs');
  assert.throws(() => emitKubernetes(policy, { name: 'thumbs', format: 'all', profiles: 'node', seccompProfile, apparmor, selinuxCil }), (e: unknown) => e instanceof StockadeError && e.code === 'usage');
  assert.equal(renameCilBlock('(block stockade_a (x stockade_a.process stockade_ab))', 'stockade_a', 'stockade-a'), '(block stockade-a (x stockade-a.process stockade_ab))');
  // With the real generators, when they are built.
  const gens = await generators();
  if (gens.apparmor && gens.selinux) {
    const p = load('minimal.yaml').policy;
    const all = emitKubernetes(p, { name: 'minimal', format: 'spo', apparmor: gens.apparmor(p, { mode: 'enforce', name: 'minimal' }), selinuxCil: gens.selinux(p, { mode: 'enforcing', name: 'minimal' }) });
    assert.equal(all.objects.length, 3);
    assert.deepEqual(checkManifests(all.objects), []);
  }
});

test('the SPO seccomp spec is resolved per node architecture; what it cannot hold is refused', () => {
  const def = adaptProfile(policySeccompProfile(policyOf('command: [x]'), undefined)!, [], 'errno');
  const x86 = spoSeccompSpec(def, 'x86_64') as Obj;
  const arm = spoSeccompSpec(def, 'aarch64') as Obj;
  assert.deepEqual(x86.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  const has = (spec: Obj, n: string) => (spec.syscalls as Obj[]).some((s) => s.names.includes(n));
  assert.ok(has(arm, 'set_tls') && !has(x86, 'set_tls'), '32-bit ARM entries only for arm64 nodes');
  assert.ok((x86.syscalls as Obj[]).every((s) => !('comment' in s) && !('includes' in s)));
  const withKernel = policySeccompProfile(policyOf('command: [x]\nsyscalls: { profile: p.json }'), { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } }] })!;
  inputError(() => spoSeccompSpec(withKernel, 'x86_64'), 'minKernel', 'Security Profiles Operator');
  const enosys = policySeccompProfile(policyOf('command: [x]\nsyscalls: { profile: p.json }'), { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 })!;
  inputError(() => spoSeccompSpec(enosys, 'x86_64'), 'defaultErrnoRet', 'Security Profiles Operator');
});

test('names', () => {
  assert.equal(nameFromFile('/x/My App.policy.yaml'), 'my-app-policy');
  assert.equal(nameFromFile('___.toml'), 'workload');
  assert.equal(checkWorkloadName('web-1'), 'web-1');
  for (const bad of ['Web', 'a_b', '-a', 'a'.repeat(55), '']) assert.throws(() => checkWorkloadName(bad), StockadeError, bad);
  assert.deepEqual(profileNames('web-1'), {
    seccompLocalhost: 'stockade/web-1.json', seccompFile: 'stockade/web-1.json', apparmor: 'stockade-web-1',
    selinuxType: 'stockade_web_1.process', selinuxBlock: 'stockade_web_1', spoObject: 'stockade-web-1',
  });
  assert.equal(profileNames('web-1', 'spo').seccompLocalhost, 'operator/stockade-web-1.json');
  assert.ok(podObjects(policyOf('command: [x]'), { name: 'a' }).objects.length === 2);
});

// ---------------------------------------------------------------- the command

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

test('stockade k8s writes the profile beside the manifest and prints or writes the manifest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockade-k8s-'));
  try {
    const c = capture();
    const policy = join(POLICIES, 'custom-seccomp.yaml');
    assert.equal(k8sCommand([policy, '-o', join(dir, 'out', 'pod.yaml'), '--image', 'jq:1.7'], c.io), 0);
    const manifest = readFileSync(join(dir, 'out', 'pod.yaml'), 'utf8');
    assert.match(manifest, /image: jq:1.7/);
    assert.match(manifest, /localhostProfile: stockade\/custom-seccomp.json/);
    const prof = JSON.parse(readFileSync(join(dir, 'out', 'stockade', 'custom-seccomp.json'), 'utf8'));
    assert.equal(prof.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(c.err.some((l) => l.includes('/var/lib/kubelet/seccomp')));
    const c2 = capture();
    assert.equal(k8sCommand([policy, '--name', 'jq', '--format', 'patch', '--profile-dir', dir], c2.io), 0);
    assert.match(c2.out.join('\n'), /^# stockade: securityContext patch/);
    assert.ok(existsSync(join(dir, 'stockade', 'jq.json')));
    assert.throws(() => k8sCommand([join(POLICIES, 'web-server.yaml'), '--profile-dir', dir], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'input' && e.message.includes('limits.pids'));
    assert.throws(() => k8sCommand([policy, '--format', 'deployment'], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'usage');
    assert.throws(() => k8sCommand([policy, '--node-pids-limit', 'many'], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'usage');
    assert.throws(() => k8sCommand([policy, '--format', 'spo', '--profile-dir', dir], capture().io, {}), (e: unknown) => e instanceof StockadeError && e.code === 'unsupported');
    writeFileSync(join(dir, 'm.cil'), '(block stockade_jq (blockinherit container))\n');
    const c3 = capture();
    assert.equal(k8sCommand([policy, '--name', 'jq', '--format', 'spo', '--lsm', 'selinux', '--selinux-cil', join(dir, 'm.cil')], c3.io, {}), 0);
    const text = c3.out.join('\n');
    assert.match(text, /kind: SeccompProfile/);
    assert.match(text, /kind: RawSelinuxProfile/);
    assert.match(text, /\(block stockade-jq/);
    assert.doesNotMatch(text, /AppArmorProfile/);
    assert.throws(() => k8sCommand([policy, '--format', 'spo', '--lsm', 'selinux', '--selinux-cil', join(dir, 'missing.cil')], capture().io), (e: unknown) => e instanceof StockadeError && e.code === 'io');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stockade k8s --help', () => {
  const c = capture();
  assert.equal(k8sCommand(['--help'], c.io), 0);
  assert.match(c.out.join('\n'), /--format pod\|patch\|spo\|all/);
});
