/**
 * The SELinux types host paths typically have, from the file contexts of the Fedora/RHEL
 * "targeted" policy (the policy udica and container-selinux are written for). SELinux grants by
 * type, not by path, and stockade does not relabel host files, so the module grants the types the
 * policy's paths typically carry. PURE: a table lookup, the file system is never consulted; a host
 * whose labels differ (a customised policy, a file created with a non-default label) gets a module
 * that is stricter or looser than this table predicts: `ls -Z PATH` shows the real type.
 */

export interface TypeRule {
  /** Path pattern: components, where `*` matches one whole component. */
  pattern: string;
  /** Type of the path and (unless another rule is more specific) everything below it. */
  type: string;
}

/**
 * Most specific match wins (the longest pattern; a literal component beats `*`). Kept small on
 * purpose: each entry is a label every targeted-policy host gives the path.
 */
export const TYPE_RULES: readonly TypeRule[] = [
  { pattern: '/', type: 'root_t' },
  { pattern: '/bin', type: 'bin_t' },
  { pattern: '/sbin', type: 'bin_t' },
  { pattern: '/usr', type: 'usr_t' },
  { pattern: '/usr/bin', type: 'bin_t' },
  { pattern: '/usr/sbin', type: 'bin_t' },
  { pattern: '/usr/libexec', type: 'bin_t' },
  { pattern: '/usr/local/bin', type: 'bin_t' },
  { pattern: '/usr/local/sbin', type: 'bin_t' },
  { pattern: '/lib', type: 'lib_t' },
  { pattern: '/lib64', type: 'lib_t' },
  { pattern: '/usr/lib', type: 'lib_t' },
  { pattern: '/usr/lib64', type: 'lib_t' },
  { pattern: '/usr/local/lib', type: 'lib_t' },
  { pattern: '/usr/share', type: 'usr_t' },
  { pattern: '/opt', type: 'usr_t' },
  { pattern: '/boot', type: 'boot_t' },
  { pattern: '/etc', type: 'etc_t' },
  { pattern: '/etc/shadow', type: 'shadow_t' },
  { pattern: '/etc/shadow-', type: 'shadow_t' },
  { pattern: '/etc/gshadow', type: 'shadow_t' },
  { pattern: '/etc/gshadow-', type: 'shadow_t' },
  { pattern: '/etc/passwd', type: 'passwd_file_t' },
  { pattern: '/etc/group', type: 'passwd_file_t' },
  { pattern: '/etc/hosts', type: 'net_conf_t' },
  { pattern: '/etc/resolv.conf', type: 'net_conf_t' },
  { pattern: '/etc/localtime', type: 'locale_t' },
  { pattern: '/etc/ld.so.cache', type: 'ld_so_cache_t' },
  { pattern: '/etc/pki', type: 'cert_t' },
  { pattern: '/etc/ssl', type: 'cert_t' },
  { pattern: '/etc/ssh/ssh_host_*_key', type: 'sshd_key_t' },
  { pattern: '/root', type: 'admin_home_t' },
  { pattern: '/home', type: 'home_root_t' },
  { pattern: '/home/*', type: 'user_home_dir_t' },
  { pattern: '/home/*/*', type: 'user_home_t' },
  { pattern: '/home/*/.ssh', type: 'ssh_home_t' },
  { pattern: '/home/*/.gnupg', type: 'gpg_secret_t' },
  { pattern: '/tmp', type: 'tmp_t' },
  { pattern: '/var', type: 'var_t' },
  { pattern: '/var/tmp', type: 'tmp_t' },
  { pattern: '/var/lib', type: 'var_lib_t' },
  { pattern: '/var/log', type: 'var_log_t' },
  { pattern: '/var/lib/docker', type: 'container_var_lib_t' },
  { pattern: '/var/lib/containers', type: 'container_var_lib_t' },
  { pattern: '/var/lib/sss', type: 'sssd_var_lib_t' },
  { pattern: '/run', type: 'var_run_t' },
  { pattern: '/var/run', type: 'var_run_t' },
  { pattern: '/run/docker.sock', type: 'container_var_run_t' },
  { pattern: '/var/run/docker.sock', type: 'container_var_run_t' },
  { pattern: '/run/containerd', type: 'container_var_run_t' },
  { pattern: '/run/podman', type: 'container_var_run_t' },
  { pattern: '/run/crio', type: 'container_var_run_t' },
  { pattern: '/srv', type: 'var_t' },
  { pattern: '/mnt', type: 'mnt_t' },
  { pattern: '/media', type: 'mnt_t' },
  { pattern: '/dev/shm', type: 'tmpfs_t' },
];

/** Types that hold nothing but secrets: withholding one costs the workload nothing else. */
export const SECRET_TYPES: ReadonlySet<string> = new Set([
  'shadow_t', 'sshd_key_t', 'admin_home_t', 'ssh_home_t', 'gpg_secret_t', 'container_var_lib_t', 'container_var_run_t', 'sssd_var_lib_t',
]);

/** Top-level directories no rule names (/data, /work, ...) are default_t on a targeted host. */
export const DEFAULT_TYPE = 'default_t';

/**
 * Paths whose types stockade never grants as file content: devices, /proc and /sys are handled by
 * the template with their own (non-file_type) types, so a policy path there maps to nothing.
 */
const KERNEL_TREES = ['/proc', '/sys', '/dev'];

function comps(p: string): string[] {
  return p.split('/').filter(Boolean);
}

/** Does a pattern component match a path component? `*` in the path (a hide pattern) is taken literally. */
function compMatch(rule: string, name: string): boolean {
  return rule === '*' || rule === name || (rule.includes('*') && new RegExp(`^${rule.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`).test(name));
}

function specificity(rule: string[]): number[] {
  return rule.map((c) => (c === '*' ? 1 : c.includes('*') ? 2 : 3));
}

function moreSpecific(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return a.length > b.length;
  const sa = specificity(a);
  const sb = specificity(b);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sa[i]! > sb[i]!;
  return false;
}

export function isKernelTree(path: string): boolean {
  return KERNEL_TREES.some((k) => path === k || path.startsWith(`${k}/`));
}

/** The type a path (or a hide pattern, its `*` matching any name) typically has. */
export function typeOfPath(path: string): string {
  const p = comps(path);
  let best: { rule: string[]; type: string } | undefined;
  for (const r of TYPE_RULES) {
    const rc = comps(r.pattern);
    if (rc.length > p.length) continue;
    if (!rc.every((c, i) => compMatch(c, p[i]!))) continue;
    if (!best || moreSpecific(rc, best.rule)) best = { rule: rc, type: r.type };
  }
  // A path under a top-level directory no rule names is default_t, not root_t.
  if (best && best.rule.length === 0 && p.length > 0) return DEFAULT_TYPE;
  return best?.type ?? DEFAULT_TYPE;
}

/**
 * The types of a path and of every more specific rule below it: what access to the whole tree
 * touches (granting /var touches var_lib_t, var_log_t, ...).
 */
export function typesOfTree(path: string): string[] {
  const p = comps(path);
  const out = new Set([typeOfPath(path)]);
  for (const r of TYPE_RULES) {
    const rc = comps(r.pattern);
    if (rc.length <= p.length) continue;
    if (p.every((c, i) => compMatch(rc[i]!, c) || (c.includes('*') && compMatch(c, rc[i]!)))) out.add(r.type);
  }
  return [...out].sort();
}
