/**
 * `stockade k8s POLICY ...`: Kubernetes manifests from a policy. The emitters (src/k8s/) are pure;
 * this module reads the policy and profile files and writes the outputs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { StockadeError } from '../errors.js';
import { parseJsonExact, type JsonValue } from '../json-exact.js';
import { parsePolicyText } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { isBuiltinName } from '../seccomp/builtin.js';
import { emitKubernetes, K8S_FORMATS, type K8sFormat } from '../k8s/emit.js';
import { checkWorkloadName, nameFromFile, profileNames } from '../k8s/names.js';
import { ISOLATIONS, LSMS, VOLUME_MODES, type Isolation, type Lsm, type VolumeMode } from '../k8s/pod.js';
import type { NodeArch } from '../k8s/seccomp.js';
import { one, parseArgs, type Parsed } from './args.js';
import type { Io } from './io.js';

export const K8S_HELP = `usage: stockade k8s POLICY [--name N] [--image I] [--format pod|patch|spo|all] [--profile-dir DIR] [-o FILE]

Kubernetes objects that run a workload under POLICY (docs/kubernetes.md).

--format pod     a Pod, with the NetworkPolicy (network none/loopback) and RuntimeClass it needs (default)
--format patch   a securityContext patch for the container N of a Deployment/StatefulSet/Job template
--format spo     Security Profiles Operator objects that install the profiles on every node
--format all     the spo objects and the Pod that uses them
--name N         workload, container and profile name (default: from the policy file name)
--image I        container image (default: registry.invalid/stockade/N:unset, which never pulls)
--profiles node|spo         profiles installed by hand on the nodes (default) or by the operator
--volumes pvc|emptydir|hostpath  what backs filesystem.write (and .read); default pvc
--isolation gvisor|microvm  run under a RuntimeClass (handler runsc or kata)
--lsm apparmor|selinux|both which LSM profile the container references (default both)
--arch x86_64|aarch64       node architecture of the SPO seccomp profile (default x86_64)
--node-pids-limit N         the nodes' kubelet enforces podPidsLimit N (keeps limits.pids)
--allow-weaker              drop what Kubernetes cannot express, listed in the stockade.dev/dropped annotation
--apparmor-profile FILE     AppArmor profile text for --format spo|all (default: generated)
--selinux-cil FILE          SELinux CIL module for --format spo|all (default: generated)
--profile-dir DIR           where the seccomp profile is written (default: the directory of -o, else .)
-o FILE                     write the manifest to FILE instead of printing it`;

/** The AppArmor and SELinux generators (src/apparmor, src/selinux), when they are built. */
export interface LsmGenerators {
  apparmor?: (policy: Policy, opts: { mode: 'enforce'; name: string }) => string;
  selinux?: (policy: Policy, opts: { mode: 'enforcing'; name: string }) => string;
}

/** Loads the generators that exist; a missing module is left out. */
export async function loadLsmGenerators(): Promise<LsmGenerators> {
  const out: LsmGenerators = {};
  const load = async (spec: string, fn: string): Promise<unknown> => {
    try {
      const m = (await import(spec)) as Record<string, unknown>;
      return typeof m[fn] === 'function' ? m[fn] : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
      throw e;
    }
  };
  const aa = await load('../apparmor/generate.js', 'generateAppArmor');
  if (aa) out.apparmor = aa as LsmGenerators['apparmor'];
  const se = (await load('../selinux/generate.js', 'generateSelinuxCil')) ?? (await load('../selinux/generate.js', 'generateSelinux'));
  if (se) out.selinux = se as LsmGenerators['selinux'];
  return out;
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

export function writeText(path: string, text: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  } catch (e) {
    throw new StockadeError('io', `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

/** Reads the policy and, when it names a profile file, the profile (relative to the policy's directory). */
export function loadPolicyAndProfile(path: string): { policy: Policy; seccompProfile: JsonValue | undefined } {
  const policy = parsePolicyText(readText(path), path);
  const prof = policy.syscalls.profile;
  if (prof === 'unconfined' || isBuiltinName(prof)) return { policy, seccompProfile: undefined };
  const file = isAbsolute(prof) ? prof : join(dirname(path), prof);
  return { policy, seccompProfile: parseJsonExact(readText(file), prof) };
}

export function choice<T extends string>(p: Parsed, flag: string, options: readonly T[]): T | undefined {
  const v = one(p, flag);
  if (v === undefined) return undefined;
  if (!options.includes(v as T)) throw new StockadeError('usage', `must be one of ${options.join(', ')}`, `--${flag}`);
  return v as T;
}

export function policyOperand(p: Parsed, command: string): string {
  if (p.operands.length !== 1) throw new StockadeError('usage', 'expected one POLICY file', `stockade ${command}`);
  return p.operands[0]!;
}

export function k8sCommand(argv: string[], io: Io, generators: LsmGenerators = {}): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(K8S_HELP);
    return 0;
  }
  const p = parseArgs(argv, {
    name: { value: true }, image: { value: true }, format: { value: true }, profiles: { value: true },
    volumes: { value: true }, isolation: { value: true }, lsm: { value: true }, arch: { value: true },
    'node-pids-limit': { value: true }, 'allow-weaker': {}, 'apparmor-profile': { value: true },
    'selinux-cil': { value: true }, 'profile-dir': { value: true }, output: { value: true, short: 'o' },
  }, 'k8s');
  const path = policyOperand(p, 'k8s');
  const name = checkWorkloadName(one(p, 'name') ?? nameFromFile(path));
  const format: K8sFormat = choice(p, 'format', K8S_FORMATS) ?? 'pod';
  const pidsFlag = one(p, 'node-pids-limit');
  let nodePidsLimit: number | undefined;
  if (pidsFlag !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(pidsFlag)) throw new StockadeError('usage', 'must be a positive integer', '--node-pids-limit');
    nodePidsLimit = Number(pidsFlag);
  }
  const { policy, seccompProfile } = loadPolicyAndProfile(path);
  const lsm: Lsm = choice(p, 'lsm', LSMS) ?? 'both';

  let apparmor: string | undefined;
  let selinuxCil: string | undefined;
  if (format === 'spo' || format === 'all') {
    const aaFile = one(p, 'apparmor-profile');
    const seFile = one(p, 'selinux-cil');
    if (lsm !== 'selinux') {
      if (aaFile !== undefined) apparmor = readText(aaFile);
      else if (generators.apparmor) apparmor = generators.apparmor(policy, { mode: 'enforce', name });
      else throw new StockadeError('unsupported', 'no AppArmor profile generator in this build; pass --apparmor-profile FILE or --lsm selinux', '--format');
    }
    if (lsm !== 'apparmor') {
      if (seFile !== undefined) selinuxCil = readText(seFile);
      else if (generators.selinux) selinuxCil = generators.selinux(policy, { mode: 'enforcing', name });
      else throw new StockadeError('unsupported', 'no SELinux module generator in this build; pass --selinux-cil FILE or --lsm apparmor', '--format');
    }
  }

  const out = emitKubernetes(policy, {
    name,
    format,
    image: one(p, 'image'),
    profiles: choice(p, 'profiles', ['node', 'spo'] as const),
    volumes: choice(p, 'volumes', VOLUME_MODES) as VolumeMode | undefined,
    isolation: choice(p, 'isolation', ISOLATIONS) as Isolation | undefined,
    lsm,
    arch: choice(p, 'arch', ['x86_64', 'aarch64'] as const) as NodeArch | undefined,
    allowWeaker: p.bools.has('allow-weaker'),
    nodePidsLimit,
    seccompProfile,
    apparmor,
    selinuxCil,
  });

  const output = one(p, 'output');
  const profileDir = one(p, 'profile-dir') ?? (output !== undefined ? dirname(output) : '.');
  for (const f of out.files) {
    const target = join(profileDir, f.path);
    writeText(target, f.content);
    io.err(`stockade: wrote ${target}; install it on every node as <kubelet root>/seccomp/${profileNames(name).seccompFile} (usually /var/lib/kubelet/seccomp)`);
  }
  for (const d of out.dropped) io.err(`stockade: dropped (--allow-weaker): ${d}`);
  if (output !== undefined) writeText(output, out.manifest);
  else io.out(out.manifest.replace(/\n$/, ''));
  return 0;
}
