/**
 * Policy -> SELinux CIL module. PURE: no file system, no processes, no clock, no environment; the
 * same policy gives the same bytes on any machine (type lists are sorted, nothing
 * machine-specific is written).
 *
 * The module is a block in the shape udica gives container policies: it inherits the templates in
 * templates/stockade-container.cil and fills three attributes (readable, writable, withheld) with
 * file types. SELinux grants by type, not by path, and stockade does not relabel host files, so
 * each policy path is granted or withheld through the type it typically has (file-types.ts). That
 * is coarser than a path in both directions; the module is never allowed to be weaker than the
 * policy where the policy hides something:
 *  - a hidden path withholds its type; when that type is shared with ordinary files (etc_t for
 *    /etc/sudoers), those are withheld too (stricter, and said so in the module);
 *  - a granted path whose type is withheld for a hidden path is refused: granting the type would
 *    un-hide the hidden path (StockadeError 'input', naming both rules).
 * Granting a path grants its whole type (writing /srv/out grants writing every var_t file): that is
 * the udica model, stated next to each grant in the module and in docs/mac.md.
 */
import { StockadeError } from '../errors.js';
import { CAPABILITY_NUMBERS } from '../policy/capabilities.js';
import type { Policy } from '../policy/types.js';
import { sandboxName } from '../apparmor/generate.js';
import { isKernelTree, SECRET_TYPES, typeOfPath, typesOfTree } from './file-types.js';

export const SELINUX_FORMAT = 'SELinux';

export type SelinuxMode = 'enforcing' | 'permissive';

export interface SelinuxOptions {
  /** Module name suffix (`stockade_<name>`); default: the command's basename, else `sandbox`. */
  name?: string;
  mode?: SelinuxMode;
}

/** The block (and module) name: `stockade_<name>`, with `-` folded to `_`. */
export function selinuxModuleName(policy: Policy, name?: string): string {
  return `stockade_${sandboxName(policy, name).replace(/-/g, '_')}`;
}

/** /dev entries the template grants (stockade run's /dev); other device paths cannot be typed here. */
const TEMPLATE_DEV = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx', '/dev/pts', '/dev/shm'];
const WRITABLE_DEV = ['/dev/null', '/dev/zero', '/dev/full', '/dev/tty', '/dev/ptmx', '/dev/pts', '/dev/shm'];

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

function normalize(path: string): string {
  return `/${path.split('/').filter((p) => p !== '' && p !== '.').join('/')}`;
}

/** `root + path` for a path inside a root file system directory. */
function hostPathOf(root: string, path: string): string {
  return root === 'host' ? path : normalize(`${root}/${path}`);
}

interface Rule {
  rule: string;
  path: string;
}

export function generateSelinux(policy: Policy, opts: SelinuxOptions = {}): string {
  if (policy.ports) {
    throw new StockadeError('input', `TCP port rules cannot be expressed in ${SELINUX_FORMAT} by stockade yet: it grants port types, not port numbers, and has no port labels for these`, `${policy.source}: ports`);
  }
  const block = selinuxModuleName(policy, opts.name);
  const mode = opts.mode ?? 'enforcing';
  const fs = policy.filesystem;
  const hostRoot = fs.root === 'host';
  const fail = (r: Rule, why: string): never => {
    throw new StockadeError('input', `${JSON.stringify(r.path)} cannot be expressed in ${SELINUX_FORMAT}: ${why}`, `${policy.source}: ${r.rule}`);
  };
  const root = hostRoot ? 'host' : normalize(fs.root);

  // ---- hidden paths -> withheld types
  const withheldBy = new Map<string, Rule>();
  const hideNotes: string[] = [];
  fs.hide.forEach((h, i) => {
    const r = { rule: `filesystem.hide[${i}]`, path: h };
    const inView = normalize(h);
    if (isKernelTree(inView)) {
      fail(r, `${inView.split('/')[1] === 'dev' ? 'device files' : `files in /${inView.split('/')[1]}`} share types the module must grant (${inView.startsWith('/dev') ? 'devices, tmpfs_t' : inView.startsWith('/proc') ? 'proc_t' : 'sysfs_t'}), so SELinux cannot withhold this one`);
    }
    const types = typesOfTree(hostPathOf(root, inView));
    for (const t of types) if (!withheldBy.has(t)) withheldBy.set(t, r);
    const own = typeOfPath(hostPathOf(root, inView));
    const shared = types.filter((t) => !SECRET_TYPES.has(t));
    const rest = types.filter((t) => t !== own);
    hideNotes.push(`${r.rule} ${JSON.stringify(h)}: ${own}${rest.length ? ` (and below it ${rest.join(' ')})` : ''}${shared.length ? `; shared type${shared.length > 1 ? 's' : ''} ${shared.join(' ')}: every file of ${shared.length > 1 ? 'those types' : 'that type'} is withheld too` : ''}`);
  });
  const withheld = [...withheldBy.keys()].sort();

  /** A granted path whose own type is withheld would un-hide the hidden path: refuse. */
  const checkGrant = (r: Rule, hostPath: string) => {
    const own = typeOfPath(hostPath);
    const inside = typeOfPath(`${hostPath === '/' ? '' : hostPath}/*`);
    for (const [t, what] of [[own, 'it typically has'], [inside, 'what is in it typically has']] as const) {
      const h = withheldBy.get(t);
      if (!h) continue;
      const root = r.rule === 'filesystem.root' ? ' (inside a root file system directory, paths typically share its type)' : '';
      fail(r, `${what} type ${t}, which ${h.rule} ${JSON.stringify(h.path)} also has${root}; SELinux grants by type, so it cannot grant this path and hide that one`);
    }
  };
  /** Types a grant touches: its own and those of more specific paths below it, less the withheld. */
  const grantTypes = (hostPath: string) => typesOfTree(hostPath).filter((t) => !withheldBy.has(t));

  // ---- the read-only view
  const readNotes: string[] = [];
  const readable = new Set<string>();
  if (!hostRoot) {
    const r = { rule: 'filesystem.root', path: fs.root };
    if (isKernelTree(root)) fail(r, 'a root file system inside /proc, /sys or /dev has no file type to grant');
    checkGrant(r, root);
    for (const t of grantTypes(root)) readable.add(t);
    readNotes.push(`filesystem.root ${JSON.stringify(fs.root)}: ${grantTypes(root).join(' ')}`);
  }
  fs.read.forEach((p, i) => {
    const r = { rule: `filesystem.read[${i}]`, path: p };
    const n = normalize(p);
    if (isKernelTree(n)) {
      if (n.startsWith('/dev') && !TEMPLATE_DEV.some((d) => under(n, d))) fail(r, 'device files have types stockade does not map; only stockade run\'s /dev entries are granted');
      readNotes.push(`${r.rule} ${JSON.stringify(p)}: granted by the template (kernel interface)`);
      return;
    }
    checkGrant(r, n);
    const types = grantTypes(n);
    if (!hostRoot) for (const t of types) readable.add(t);
    readNotes.push(`${r.rule} ${JSON.stringify(p)}: ${types.join(' ')}${hostRoot ? ' (inside the view)' : ''}`);
  });

  // ---- writable paths: filesystem.write, filesystem.tmpfs, an explicit cwd (host root)
  const writable = new Set<string>();
  const writeNotes: string[] = [];
  const grantWrite = (r: Rule) => {
    const n = normalize(r.path);
    if (isKernelTree(n)) {
      if (!WRITABLE_DEV.some((d) => under(n, d))) fail(r, 'only stockade run\'s /dev entries can be granted for writing; /proc, /sys and other devices have no file type to grant');
      writeNotes.push(`${r.rule} ${JSON.stringify(r.path)}: granted by the template (/dev)`);
      return;
    }
    checkGrant(r, n);
    const types = grantTypes(n);
    for (const t of types) writable.add(t);
    writeNotes.push(`${r.rule} ${JSON.stringify(r.path)}: ${types.join(' ')} (every file of ${types.length > 1 ? 'these types' : 'this type'})`);
  };
  fs.write.forEach((p, i) => grantWrite({ rule: `filesystem.write[${i}]`, path: p }));
  // A private tmpfs stockade run mounts is labeled tmpfs_t, which the template grants (as for
  // /dev/shm); the type the path has on the host is not granted.
  fs.tmpfs.forEach((p, i) => writeNotes.push(`filesystem.tmpfs[${i}] ${JSON.stringify(p)}: tmpfs_t, granted by the template (stockade run mounts a private tmpfs)`));
  if (hostRoot && policy.cwd !== undefined && normalize(policy.cwd) !== '/') grantWrite({ rule: 'cwd', path: policy.cwd });
  if (!hostRoot) for (const t of writable) readable.add(t);

  // ---- text
  const L: string[] = [];
  const line = (s = '') => L.push(s);
  line(`; SELinux CIL module ${block}, generated by stockade from a policy. Regenerate, do not edit:`);
  line(';   stockade selinux generate POLICY');
  line('; It inherits the templates in stockade-container.cil, which must be installed first.');
  line('; SELinux grants by type, not by path: each path is granted or withheld through the type it');
  line('; typically has on a targeted-policy host (`ls -Z PATH` shows the real one). See docs/mac.md.');
  line('; Not in this module (other layers of stockade run enforce them): seccomp, Landlock, namespaces,');
  line('; cgroup and resource limits, the wall-clock limit, user and environment.');
  line(`(block ${block}`);
  line('    (blockinherit stockade_container)');
  if (policy.network === 'loopback') line('    (blockinherit stockade_net_loopback)');
  if (policy.network === 'host') line('    (blockinherit stockade_net_host)');
  line('');

  line('    ; Hidden paths (filesystem.hide): their types are withheld from the read-only view.');
  for (const n of hideNotes) line(`    ;   ${n}`);
  if (withheld.length === 0) line('    ;   none');
  else line(`    (typeattributeset withheld (${withheld.join(' ')}))`);
  line('');

  if (hostRoot) {
    line('    ; The read-only view (filesystem.root: host): every file type except the withheld ones.');
    for (const n of readNotes) line(`    ;   ${n}`);
    line('    (typeattributeset readable (and file_type (not withheld)))');
  } else {
    line('    ; The read-only view: the types of the root file system directory and of the read and write paths.');
    for (const n of readNotes) line(`    ;   ${n}`);
    line(`    (typeattributeset readable (${[...readable].sort().join(' ')}))`);
  }
  line('');

  line('    ; Writable paths (filesystem.write, filesystem.tmpfs, an explicit cwd). Granting a path grants its type.');
  for (const n of writeNotes) line(`    ;   ${n}`);
  if (writeNotes.length === 0) line('    ;   none');
  if (writable.size > 0) line(`    (typeattributeset writable (${[...writable].sort().join(' ')}))`);
  if (policy.cwd === undefined && hostRoot) line('    ; The working directory: stockade run makes the caller\'s directory writable; a module cannot know it.');
  line('');

  line(`    ; Network: ${policy.network}.${policy.network === 'none' ? ' Only unix sockets (the template); nothing grants tcp_socket or udp_socket.' : policy.network === 'loopback' ? ' Binding only to loopback addresses; connect() cannot be confined to them.' : ''}`);
  line('');

  line('    ; Capabilities kept (everything else is denied).');
  const low = policy.capabilities.filter((c) => CAPABILITY_NUMBERS[c]! < 32).map((c) => c.slice(4).toLowerCase());
  const high = policy.capabilities.filter((c) => CAPABILITY_NUMBERS[c]! >= 32).map((c) => c.slice(4).toLowerCase());
  const caps = (names: string[]) => [...new Set(names)].sort().join(' ');
  if (low.length === 0 && high.length === 0) line('    ;   none');
  if (low.length) {
    line(`    (allow process self (capability (${caps(low)})))`);
    line(`    (allow process self (cap_userns (${caps(low)})))`);
  }
  if (high.length) {
    line(`    (allow process self (capability2 (${caps(high)})))`);
    line(`    (allow process self (cap2_userns (${caps(high)})))`);
  }
  line('');
  if (mode === 'permissive') {
    line('    ; --mode permissive: denials are logged, not enforced.');
    line('    (typepermissive process)');
  } else line('    ; Enforcing.');
  line(')');
  return `${L.join('\n')}\n`;
}
