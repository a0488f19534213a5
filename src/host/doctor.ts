/** `stockade doctor`: what this host can enforce, as rows of (layer, status, detail). */
import type { HostFacts } from './probe.js';

export interface DoctorRow {
  layer: string;
  ok: boolean;
  status: string;
  detail: string;
}

export function doctorRows(f: HostFacts): DoctorRow[] {
  const rows: DoctorRow[] = [];
  const row = (layer: string, ok: boolean, status: string, detail = '') => rows.push({ layer, ok, status, detail });
  row('seccomp', f.seccomp, f.seccomp ? 'available' : 'missing', f.seccomp ? '' : 'needs CONFIG_SECCOMP_FILTER');
  row('seccomp action cache', f.seccompActionCache, f.seccompActionCache ? 'yes' : 'no', `kernel ${f.kernel.join('.')}${f.seccompActionCache ? '' : ' (5.11+ caches always-allowed syscalls)'}`);
  const rootless = f.uid !== 0;
  row('user namespaces', f.userns.ok, f.userns.ok ? 'available' : 'blocked', f.userns.reason ?? (rootless ? 'rootless sandboxes work' : 'not needed as root; rootless sandboxes work'));
  row('landlock', f.landlockAbi > 0, f.landlockAbi > 0 ? `ABI ${f.landlockAbi}` : 'missing', f.landlockReason ?? (f.landlockAbi >= 6 ? 'file system, TCP, abstract socket and signal scoping' : f.landlockAbi >= 4 ? 'file system and TCP' : 'file system'));
  row('apparmor', true, f.lsm.apparmor ? 'active' : 'inactive', f.lsm.apparmor ? 'profiles can be loaded' : 'not enabled in this kernel');
  row('selinux', true, f.lsm.selinux, f.lsm.selinux === 'off' ? 'not enabled' : '');
  const cg = f.cgroup;
  const cgDetail = cg.mode === 'hybrid' ? `v1 controllers (${cg.v1Controllers.join(', ')}) and a v2 tree at ${cg.v2Root}`
    : cg.mode === 'v1' ? `v1 controllers: ${cg.v1Controllers.join(', ')}` : cg.mode === 'v2' ? `v2 at ${cg.v2Root}` : 'no cgroup file system';
  const delegated = f.uid === 0 ? 'as root' : cg.mode === 'v2' ? 'needs a delegated subtree for rootless limits' : 'no delegation for rootless limits';
  row('cgroups', cg.mode !== 'none', cg.mode, `${cgDetail}; ${delegated}`);
  row('kvm', f.kvm.usable, f.kvm.usable ? 'usable' : f.kvm.present ? 'present, not accessible' : 'absent', f.kvm.present ? '/dev/kvm' : 'microVMs run under TCG emulation');
  for (const [tool, path] of Object.entries(f.tools)) row(tool, path !== undefined, path ? 'installed' : 'not installed', path ?? '');
  return rows;
}
