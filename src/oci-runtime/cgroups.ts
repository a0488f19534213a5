/**
 * The container's cgroup: linux.cgroupsPath created in every hierarchy (cgroup v2, or each v1
 * controller), linux.resources written, removed by `delete`. On v1 the device rules go to the
 * devices controller; on v2 they become an eBPF device program attached to the cgroup
 * (device-filter.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StockadeError } from '../errors.js';
import { removeCgroupDir } from '../host/cgroup-dir.js';
import { attachDeviceFilter } from './device-filter.js';
import type { OciDeviceRule, OciResources } from './spec.js';

const V1_ROOT = '/sys/fs/cgroup';

export interface CgroupLayout {
  /** Directories created or joined, one per hierarchy. */
  dirs: string[];
  v2: boolean;
}

/** linux.cgroupsPath as a path below each hierarchy's root (systemd's slice:prefix:name form included). */
export function cgroupRelativePath(cgroupsPath: string | undefined, id: string, systemd: boolean): string {
  if (!cgroupsPath) return `/stockade/${id}`;
  if (systemd || /^[^/:]*:[^:]*:[^:]*$/.test(cgroupsPath)) {
    const [slice, prefix, name] = cgroupsPath.split(':') as [string, string, string];
    const unit = name.endsWith('.slice') ? name : `${prefix ? `${prefix}-` : ''}${name}.scope`;
    return `/${slice || 'system.slice'}/${unit}`;
  }
  if (cgroupsPath.split('/').includes('..')) throw new StockadeError('input', `"${cgroupsPath}" must not contain ".."`, 'linux.cgroupsPath');
  return cgroupsPath.startsWith('/') ? cgroupsPath : `/${cgroupsPath}`;
}

function hierarchies(): { v2: boolean; roots: string[] } {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
  const v1 = mounts.filter((m) => m[2] === 'cgroup' && m[1]?.startsWith(`${V1_ROOT}/`)).map((m) => m[1]!);
  if (v1.length > 0) return { v2: false, roots: v1 };
  const v2 = mounts.find((m) => m[2] === 'cgroup2' && m[1] === V1_ROOT);
  if (v2) return { v2: true, roots: [V1_ROOT] };
  throw new StockadeError('unsupported', 'no cgroup hierarchy is mounted under /sys/fs/cgroup; mount cgroup2 there', 'linux.resources');
}

function write(dir: string, file: string, value: string, where: string): void {
  try {
    writeFileSync(join(dir, file), value);
  } catch (e) {
    throw new StockadeError('unsupported', `cannot write ${value} to ${join(dir, file)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, where);
  }
}

function deviceLine(d: OciDeviceRule): string {
  return `${d.type} ${d.major ?? '*'}:${d.minor ?? '*'} ${d.access || 'rwm'}`;
}

/** v1 cpuset: a new cgroup starts with empty cpus and mems, and no task can join it until they are set. */
function mkdirCpuset(root: string, rel: string): void {
  let cur = root;
  for (const part of rel.split('/').filter(Boolean)) {
    const parent = cur;
    cur = join(cur, part);
    if (!existsSync(cur)) mkdirSync(cur);
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (readFileSync(join(cur, f), 'utf8').trim() === '') writeFileSync(join(cur, f), readFileSync(join(parent, f), 'utf8'));
    }
  }
}

function applyV1(dir: string, controller: string, r: OciResources | undefined): void {
  if (!r) return;
  const where = 'linux.resources';
  if (controller.includes('memory') && r.memory) {
    if (r.memory.limit !== undefined && r.memory.limit > 0n) write(dir, 'memory.limit_in_bytes', String(r.memory.limit), `${where}.memory.limit`);
    if (r.memory.swap !== undefined && r.memory.swap !== 0n && existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) write(dir, 'memory.memsw.limit_in_bytes', String(r.memory.swap), `${where}.memory.swap`);
    if (r.memory.reservation !== undefined && r.memory.reservation > 0n) write(dir, 'memory.soft_limit_in_bytes', String(r.memory.reservation), `${where}.memory.reservation`);
    if (r.memory.swappiness !== undefined && r.memory.swappiness >= 0n && r.memory.swappiness <= 100n) write(dir, 'memory.swappiness', String(r.memory.swappiness), `${where}.memory.swappiness`);
    if (r.memory.disableOOMKiller) write(dir, 'memory.oom_control', '1', `${where}.memory.disableOOMKiller`);
  }
  if (controller.endsWith('/pids') && r.pids?.limit !== undefined) write(dir, 'pids.max', r.pids.limit > 0n ? String(r.pids.limit) : 'max', `${where}.pids.limit`);
  if (controller.endsWith('/cpu') || controller.includes('cpu,')) {
    if (r.cpu?.shares !== undefined && r.cpu.shares > 0n) write(dir, 'cpu.shares', String(r.cpu.shares), `${where}.cpu.shares`);
    if (r.cpu?.period !== undefined && r.cpu.period > 0n) write(dir, 'cpu.cfs_period_us', String(r.cpu.period), `${where}.cpu.period`);
    if (r.cpu?.quota !== undefined && r.cpu.quota !== 0n) write(dir, 'cpu.cfs_quota_us', String(r.cpu.quota), `${where}.cpu.quota`);
  }
  if (controller.endsWith('/cpuset')) {
    if (r.cpu?.cpus) write(dir, 'cpuset.cpus', r.cpu.cpus, `${where}.cpu.cpus`);
    if (r.cpu?.mems) write(dir, 'cpuset.mems', r.cpu.mems, `${where}.cpu.mems`);
  }
  if (controller.endsWith('/devices')) {
    for (const d of r.devices) write(dir, d.allow ? 'devices.allow' : 'devices.deny', deviceLine(d), `${where}.devices`);
  }
}

function applyV2(dir: string, r: OciResources | undefined): void {
  if (!r) return;
  const where = 'linux.resources';
  if (r.devices.length > 0) attachDeviceFilter(dir, r.devices);
  const m = r.memory;
  if (m?.limit !== undefined && m.limit > 0n) write(dir, 'memory.max', String(m.limit), `${where}.memory.limit`);
  if (m?.swap !== undefined && m.swap > 0n && m.limit !== undefined && m.limit > 0n) write(dir, 'memory.swap.max', String(m.swap - m.limit), `${where}.memory.swap`);
  if (m?.reservation !== undefined && m.reservation > 0n) write(dir, 'memory.low', String(m.reservation), `${where}.memory.reservation`);
  if (r.pids?.limit !== undefined) write(dir, 'pids.max', r.pids.limit > 0n ? String(r.pids.limit) : 'max', `${where}.pids.limit`);
  if (r.cpu?.shares !== undefined && r.cpu.shares > 0n) write(dir, 'cpu.weight', String(1n + ((r.cpu.shares - 2n) * 9999n) / 262142n), `${where}.cpu.shares`);
  if (r.cpu?.quota !== undefined && r.cpu.quota !== 0n) write(dir, 'cpu.max', `${r.cpu.quota > 0n ? r.cpu.quota : 'max'} ${r.cpu.period ?? 100000n}`, `${where}.cpu.quota`);
  if (r.cpu?.cpus) write(dir, 'cpuset.cpus', r.cpu.cpus, `${where}.cpu.cpus`);
  if (r.cpu?.mems) write(dir, 'cpuset.mems', r.cpu.mems, `${where}.cpu.mems`);
}

/** Creates the container's cgroup in every hierarchy and applies resources; undone on failure. */
export function createContainerCgroup(rel: string, resources: OciResources | undefined): CgroupLayout {
  const { v2, roots } = hierarchies();
  const dirs: string[] = [];
  try {
    for (const root of roots) {
      const dir = join(root, rel);
      if (v2) {
        const controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
        let cur = root;
        for (const part of rel.split('/').filter(Boolean)) {
          try {
            writeFileSync(join(cur, 'cgroup.subtree_control'), controllers.map((c) => `+${c}`).join(' '));
          } catch { /* a controller the parent cannot delegate: the limits below report what is missing */ }
          cur = join(cur, part);
          if (!existsSync(cur)) mkdirSync(cur);
        }
      } else if (root.endsWith('/cpuset')) mkdirCpuset(root, rel);
      else mkdirSync(dir, { recursive: true });
      dirs.push(dir);
      if (v2) applyV2(dir, resources);
      else applyV1(dir, root, resources);
    }
  } catch (e) {
    removeContainerCgroup({ dirs, v2 });
    throw e;
  }
  return { dirs, v2 };
}

/** Every process still in the container's cgroups (the container's own view is not needed). */
export function cgroupPids(layout: CgroupLayout): number[] {
  const pids = new Set<number>();
  for (const d of layout.dirs) {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch { /* gone */ }
  }
  return [...pids];
}

function rmTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) rmTree(join(dir, e));
  removeCgroupDir(dir);
}

export function removeContainerCgroup(layout: CgroupLayout): void {
  for (const d of layout.dirs) rmTree(d);
}
