/**
 * Policy + facts about this run -> the helper's Plan. Pure: every file system fact (which paths
 * exist, what the hidden patterns expanded to) arrives in `RunFacts`, gathered by view.ts.
 */
import { StockadeError } from '../../errors.js';
import { rootModeIdentity } from '../../policy/identity.js';
import { CAPABILITY_NUMBERS } from '../../policy/capabilities.js';
import type { Policy } from '../../policy/types.js';
import { compileLandlock } from '../../landlock/ruleset.js';
import type { Plan, PlanOp } from '../../helper/plan.js';
import { PROC_MASKED, PROC_READ_ONLY } from '../../policy/procfs.js';

export { PROC_MASKED, PROC_READ_ONLY };
export { ROOT_MODE_UID } from '../../policy/identity.js';

export interface RunFacts {
  /** Real uid/gid of the stockade process. */
  uid: number;
  gid: number;
  /** Working directory inside the sandbox (absolute). */
  cwd: string;
  /** Resolved program path inside the sandbox view. */
  program: string;
  env: string[];
  /** Owner of the working directory (as root, a non-root owner becomes the workload's identity). */
  cwdOwner?: { uid: number; gid: number };
  /** Writable paths owned by root (as root, these get an idmapped bind). */
  rootOwned?: Set<string>;
  /** Existing host paths to hide, patterns already expanded. */
  hide: Array<{ path: string; dir: boolean }>;
  /** Host paths that exist, of the ones the policy binds (read, write). */
  existing: Set<string>;
  landlockAbi: number;
  seccompProgram?: Buffer;
  cgroupProcs: string[];
  /** Stand-ins for cgroup limits the host could not give (best-effort runs): per-process rlimits. */
  fallbackRlimits?: Array<{ resource: 'nproc' | 'as'; value: number }>;
  terminal: boolean;
}

export interface PlanResult {
  plan: Plan;
  /** Layers or hardening the host could not provide (best-effort runs only). */
  dropped: string[];
  /** Landlock hardening this kernel's ABI lacks (informational). */
  notes: string[];
}

function writablePaths(policy: Policy, facts: RunFacts): string[] {
  const out = [...policy.filesystem.write];
  // The working directory is writable by default unless it is the root or already covered.
  if (policy.filesystem.root !== 'empty' && policy.filesystem.root === 'host' && facts.cwd !== '/' && !out.includes(facts.cwd)) out.push(facts.cwd);
  return out.filter((p) => facts.existing.has(p));
}

export function buildPlan(policy: Policy, facts: RunFacts): PlanResult {
  const ops: PlanOp[] = [];
  const dropped: string[] = [];
  const asRoot = facts.uid === 0;
  const { uid, gid } = asRoot ? rootModeIdentity(policy, facts.cwdOwner) : { uid: policy.user?.uid ?? facts.uid, gid: policy.user?.gid ?? facts.gid };

  // Namespaces: as root no user namespace is needed (the workload drops to an unprivileged uid);
  // without root, a user namespace is what makes the other namespaces possible.
  ops.push({ op: 'namespaces', ns: { user: !asRoot, pid: true, mount: true, net: policy.network !== 'host', uts: true, ipc: true, cgroup: true } });
  if (!asRoot) ops.push({ op: 'idmap', uidInside: uid, uidOutside: facts.uid, uidCount: 1, gidInside: gid, gidOutside: facts.gid, gidCount: 1 });

  // Mounts: the root view first, then binds, then private file systems, then what is hidden.
  const write = writablePaths(policy, facts);
  if (policy.filesystem.root === 'empty') {
    // Nothing of the host but what the policy lists (recorded policies use this).
    ops.push({ op: 'rootTmpfs' });
  } else if (policy.filesystem.root === 'host') {
    ops.push({ op: 'rootTmpfs' });
    ops.push({ op: 'bind', source: '/', target: '/', readOnly: true, optional: false, idmapRoot: false });
  } else {
    ops.push({ op: 'rootBind', source: policy.filesystem.root });
  }
  // Private tmpfs first, so a granted path inside one (the working directory under /tmp) is
  // bound on top of it; a tmpfs on a granted path itself is left out: the grant wins.
  const tmpfs = policy.filesystem.tmpfs.filter((t) => !write.includes(t));
  for (const t of tmpfs) ops.push({ op: 'tmpfs', target: t, sizeBytes: 0, mode: 0o1777 });
  const covered = (p: string) => [...tmpfs, ...facts.hide.map((h) => h.path)].some((d) => p === d || p.startsWith(`${d}/`));
  for (const p of policy.filesystem.read) {
    // In the host view a read path is already visible, unless a private tmpfs or a hidden path
    // covers it (a checkout under /tmp): then it is bound on top.
    if (policy.filesystem.root === 'host' && !write.includes(p) && !covered(p)) continue;
    // The working directory granted read-only (recorded policies) is, like a writable path, seen
    // through an idmapped bind when root owns it; no other read-only path is.
    const idmapRoot = asRoot && uid !== 0 && p === facts.cwd && (facts.rootOwned?.has(p) ?? false);
    ops.push({ op: 'bind', source: p, target: p, readOnly: true, optional: !facts.existing.has(p), idmapRoot });
  }
  // A root-owned writable path is bound idmapped (root's files appear as the workload's), since the
  // workload is not root; other paths keep their owners.
  for (const p of write) ops.push({ op: 'bind', source: p, target: p, readOnly: false, optional: false, idmapRoot: asRoot && uid !== 0 && (facts.rootOwned?.has(p) ?? false) });
  ops.push({ op: 'proc', target: '/proc' });
  // A fresh procfs still exposes host-wide knobs: make them read-only and hide the ones that leak
  // kernel state (what Docker calls readonlyPaths and maskedPaths).
  for (const t of PROC_READ_ONLY) ops.push({ op: 'readOnly', target: t });
  for (const t of PROC_MASKED) ops.push({ op: 'hide', target: t });
  ops.push({ op: 'dev', target: '/dev' });
  for (const h of facts.hide) ops.push({ op: 'hide', target: h.path });
  ops.push({ op: 'pivotRoot' });
  ops.push({ op: 'hostname', name: policy.hostname });

  const lim = policy.limits;
  const rlimit = (resource: 'cpu' | 'nofile' | 'fsize', v: number) => ops.push({ op: 'rlimit', resource, soft: BigInt(v), hard: BigInt(v) });
  if (lim.cpuTimeSec !== undefined) rlimit('cpu', lim.cpuTimeSec);
  if (lim.openFiles !== undefined) rlimit('nofile', lim.openFiles);
  if (lim.fileSize !== undefined) rlimit('fsize', lim.fileSize);
  for (const f of facts.fallbackRlimits ?? []) ops.push({ op: 'rlimit', resource: f.resource, soft: BigInt(f.value), hard: BigInt(f.value) });
  // No core dumps: a crashing workload must not write its memory outside.
  ops.push({ op: 'rlimit', resource: 'core', soft: 0n, hard: 0n });
  if (facts.cgroupProcs.length > 0) ops.push({ op: 'cgroup', procsFiles: facts.cgroupProcs });

  ops.push({ op: 'user', uid, gid, groups: [] });
  ops.push({ op: 'capabilities', keep: policy.capabilities.map((c) => CAPABILITY_NUMBERS[c]!).sort((a, b) => a - b) });
  ops.push({ op: 'setsid', terminal: facts.terminal });
  ops.push({ op: 'noNewPrivs' });

  let notes: string[] = [];
  if (policy.landlock !== 'off') {
    if (facts.landlockAbi < 1) dropped.push('landlock');
    else {
      const readable = policy.filesystem.root === 'empty' ? policy.filesystem.read.filter((r) => facts.existing.has(r)) : ['/'];
      const { ruleset, unavailable } = compileLandlock(
        { read: readable, write: [...write, ...tmpfs], dev: '/dev', proc: '/proc', denyTcp: policy.network === 'none', ...(policy.ports ? { tcp: policy.ports } : {}) },
        Math.min(facts.landlockAbi, 7),
        policy.landlock === 'required',
      );
      notes = unavailable;
      // Port rules are what the policy asked for, not hardening: without ABI 4 they are dropped
      // only when the policy allows best effort.
      if (policy.ports && facts.landlockAbi < 4) {
        if (policy.landlock === 'best-effort' || policy.enforcement === 'best-effort') dropped.push('landlock: TCP port rules need Landlock ABI 4 (Linux 6.7)');
        else throw new StockadeError('unsupported', `TCP port rules need Landlock ABI 4 (Linux 6.7); this kernel has ABI ${facts.landlockAbi}: upgrade, or set landlock: best-effort`, 'ports');
      }
      ops.push({ op: 'landlock', ruleset });
    }
  }
  if (facts.seccompProgram) ops.push({ op: 'seccomp', program: facts.seccompProgram, flags: 0, log: policy.syscalls.onViolation === 'log' });
  ops.push({ op: 'exec', path: facts.program, argv: policy.command, env: facts.env, cwd: facts.cwd });
  return { plan: { version: 1, ops, wallTimeoutMs: lim.wallTimeMs ?? 0 }, dropped, notes };
}
