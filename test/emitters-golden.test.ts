/**
 * Golden outputs of the emitters over the whole policy corpus (test/fixtures/policies): Kubernetes
 * (Pod, patch, SPO SeccompProfile, the Localhost seccomp profile), docker/podman run commands, and
 * the AppArmor and SELinux generators when they are built. An output a format cannot give is a
 * golden `.error.txt` holding the error.
 *
 * STOCKADE_UPDATE_GOLDEN=1 rewrites test/golden/ (and removes golden files nothing produces).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../src/errors.js';
import { parseJsonExact, type JsonValue } from '../src/json-exact.js';
import { formatOf, parsePolicyText } from '../src/policy/load.js';
import type { Policy } from '../src/policy/types.js';
import { isBuiltinName } from '../src/seccomp/builtin.js';
import { emitKubernetes } from '../src/k8s/emit.js';
import { adaptProfile, policySeccompProfile } from '../src/k8s/seccomp.js';
import { spoSeccompObject } from '../src/k8s/spo.js';
import { toYaml } from '../src/k8s/yaml.js';
import { dockerRun, renderLines, renderShell } from '../src/oci/docker-flags.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POLICIES = join(ROOT, 'test', 'fixtures', 'policies');
const GOLDEN = join(ROOT, 'test', 'golden');
const UPDATE = process.env.STOCKADE_UPDATE_GOLDEN === '1';

interface Entry {
  file: string;
  /** Workload name and golden file stem: the file name without its extension. */
  stem: string;
}

function corpus(): Entry[] {
  return readdirSync(POLICIES)
    .filter((f) => /\.(ya?ml|json|toml)$/.test(f))
    .sort()
    .map((file) => ({ file, stem: file.replace(/\.(ya?ml|json|toml)$/, '') }));
}

/** The policy with `source` set to the stem, so that messages do not differ between YAML/TOML/JSON. */
function load(e: Entry): { policy: Policy; seccompProfile: JsonValue | undefined } {
  const path = join(POLICIES, e.file);
  const policy = parsePolicyText(readFileSync(path, 'utf8'), e.stem, formatOf(path));
  const prof = policy.syscalls.profile;
  const seccompProfile = prof === 'unconfined' || isBuiltinName(prof) ? undefined : parseJsonExact(readFileSync(join(POLICIES, prof), 'utf8'), prof);
  return { policy, seccompProfile };
}

type Generators = {
  apparmor?: (p: Policy, o: { mode: 'enforce'; name: string }) => string;
  selinux?: (p: Policy, o: { mode: 'enforcing'; name: string }) => string;
};

async function generators(): Promise<{ gens: Generators; missing: string[] }> {
  const gens: Generators = {};
  const missing: string[] = [];
  const tryLoad = async (rel: string, fns: string[]): Promise<unknown> => {
    const spec = join(ROOT, 'dist', 'src', rel);
    if (!existsSync(spec)) return undefined;
    const m = (await import(spec)) as Record<string, unknown>;
    return fns.map((f) => m[f]).find((f) => typeof f === 'function');
  };
  const aa = await tryLoad('apparmor/generate.js', ['generateAppArmor']);
  if (aa) gens.apparmor = aa as Generators['apparmor'];
  else missing.push('src/apparmor/generate.js (generateAppArmor) is absent: AppArmor goldens skipped');
  const se = await tryLoad('selinux/generate.js', ['generateSelinuxCil', 'generateSelinux']);
  if (se) gens.selinux = se as Generators['selinux'];
  else missing.push('src/selinux/generate.js (generateSelinuxCil) is absent: SELinux goldens skipped');
  return { gens, missing };
}

/** `path -> content`; an emitter that refuses gives `<path>.error.txt` with its code and message. */
function outputs(e: Entry, gens: Generators): Map<string, string> {
  const { policy, seccompProfile } = load(e);
  const out = new Map<string, string>();
  const name = e.stem;
  const attempt = (path: string, fn: () => string): boolean => {
    try {
      out.set(path, fn());
      return true;
    } catch (err) {
      if (!(err instanceof StockadeError)) throw err;
      out.set(`${path}.error.txt`, `${err.code}: ${err.message}\n`);
      return false;
    }
  };
  const k8s = `k8s/${name}`;
  let seccompJson: string | undefined;
  const pod = (allowWeaker: boolean) => () => {
    const r = emitKubernetes(policy, { name, format: 'pod', seccompProfile, allowWeaker });
    seccompJson = r.files[0]?.content;
    return r.manifest;
  };
  if (!attempt(`${k8s}.pod.yaml`, pod(false))) attempt(`${k8s}.pod.allow-weaker.yaml`, pod(true));
  attempt(`${k8s}.patch.yaml`, () => emitKubernetes(policy, { name, format: 'patch', seccompProfile }).manifest);
  if (seccompJson !== undefined) out.set(`${k8s}.seccomp.json`, seccompJson);
  const base = policySeccompProfile(policy, seccompProfile);
  if (base) {
    const adapted = adaptProfile(base, policy.capabilities, policy.syscalls.onViolation);
    attempt(`${k8s}.spo-seccomp.yaml`, () => toYaml([{ value: spoSeccompObject(name, adapted, 'x86_64') }]));
  }

  const docker = `docker/${name}`;
  let dockerSeccomp: string | undefined;
  const lines = (allowWeaker: boolean) => () => {
    const r = dockerRun(policy, { name, seccompProfile, allowWeaker });
    dockerSeccomp = r.seccomp?.content;
    return renderLines(r);
  };
  if (!attempt(`${docker}.docker.txt`, lines(false))) attempt(`${docker}.docker.allow-weaker.txt`, lines(true));
  attempt(`${docker}.podman.txt`, () => renderShell(dockerRun(policy, { name, seccompProfile, engine: 'podman', image: 'localhost/app:1' })));
  // The docker profile file is the Kubernetes Localhost profile: one golden for both.
  if (dockerSeccomp !== undefined && seccompJson !== undefined) assert.equal(dockerSeccomp, seccompJson, `${e.file}: docker and Kubernetes seccomp profiles differ`);

  if (gens.apparmor) attempt(`apparmor/${name}.apparmor`, () => gens.apparmor!(policy, { mode: 'enforce', name }));
  if (gens.selinux) attempt(`selinux/${name}.cil`, () => gens.selinux!(policy, { mode: 'enforcing', name }));
  return out;
}

function goldenFiles(dir = GOLDEN): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? goldenFiles(join(dir, d.name)) : [relative(GOLDEN, join(dir, d.name))])).sort();
}

test('the corpus has at least 20 policies, each loading', () => {
  const entries = corpus();
  assert.ok(entries.length >= 20, `only ${entries.length} policies in ${POLICIES}`);
  for (const e of entries) load(e);
});

test('golden outputs of every emitter over the corpus', async (t) => {
  const { gens, missing } = await generators();
  for (const m of missing) t.diagnostic(m);
  const produced = new Map<string, { content: string; from: string }>();
  for (const e of corpus()) {
    for (const [path, content] of outputs(e, gens)) {
      const prev = produced.get(path);
      if (prev) assert.equal(content, prev.content, `${path}: ${e.file} and ${prev.from} give different output`);
      else produced.set(path, { content, from: e.file });
    }
  }
  // Goldens are only checked for the generators present, so their absence leaves theirs alone.
  const owned = (p: string) => (p.startsWith('apparmor/') ? gens.apparmor !== undefined : p.startsWith('selinux/') ? gens.selinux !== undefined : true);
  if (UPDATE) {
    for (const [path, { content }] of produced) {
      mkdirSync(dirname(join(GOLDEN, path)), { recursive: true });
      writeFileSync(join(GOLDEN, path), content);
    }
    for (const f of goldenFiles()) if (owned(f) && !produced.has(f)) rmSync(join(GOLDEN, f));
    t.diagnostic(`wrote ${produced.size} golden files`);
    return;
  }
  const problems: string[] = [];
  for (const [path, { content, from }] of produced) {
    const file = join(GOLDEN, path);
    if (!existsSync(file)) problems.push(`${path}: no golden file (from ${from}); run with STOCKADE_UPDATE_GOLDEN=1`);
    else if (readFileSync(file, 'utf8') !== content) problems.push(`${path}: differs from the golden file (from ${from}); inspect, then STOCKADE_UPDATE_GOLDEN=1`);
  }
  for (const f of goldenFiles()) if (owned(f) && !produced.has(f)) problems.push(`${f}: golden file that nothing produces`);
  assert.deepEqual(problems, []);
});

test('outputs are byte-stable across runs', async () => {
  const { gens } = await generators();
  for (const e of corpus()) assert.deepEqual([...outputs(e, gens)], [...outputs(e, gens)], e.file);
});

test('the YAML, TOML and JSON variants of one policy give identical outputs', async () => {
  const { gens } = await generators();
  const variants = corpus().filter((e) => e.stem === 'app-variants');
  assert.deepEqual(variants.map((v) => v.file), ['app-variants.json', 'app-variants.toml', 'app-variants.yaml']);
  const [a, b, c] = variants.map((v) => [...outputs(v, gens)]);
  assert.ok(a!.length > 4);
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
});
