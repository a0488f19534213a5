/**
 * `seccomp lint`: findings about a profile, each with a severity, where it is, and what to do.
 * The checks run on the profile as written and on its resolution for the target.
 */
import { actionKind, formatAction, RET } from './actions.js';
import { AUDIT_ARCH } from './arch.js';
import { evaluate } from './reference.js';
import type { SeccompProfile } from './profile.js';
import { ruleIsUnsatisfiable, type Rule, type SeccompFilter } from './rules.js';
import { explainFilter } from './explain.js';
import { syscallNumber } from './syscalls.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  where: string;
  message: string;
}

/** Syscalls that open a path out of a container, with why. An allow of any of them is a finding. */
export const DANGEROUS_SYSCALLS: Readonly<Record<string, string>> = {
  mount: 'mounts over the sandbox view', umount: 'unmounts sandbox overlays', umount2: 'unmounts sandbox overlays',
  fsopen: 'new mount API', fsconfig: 'new mount API', fsmount: 'new mount API', fspick: 'new mount API',
  move_mount: 'new mount API', open_tree: 'new mount API', open_tree_attr: 'new mount API', mount_setattr: 'changes mount flags',
  pivot_root: 'changes the root', chroot: 'chroot escapes with a held directory fd',
  bpf: 'loads kernel programs; a large kernel attack surface', ptrace: 'takes over other processes',
  process_vm_readv: 'reads other processes\' memory', process_vm_writev: 'writes other processes\' memory',
  unshare: 'new namespaces expose root-only kernel code to the workload', setns: 'joins other namespaces',
  keyctl: 'the kernel keyring is not namespaced', add_key: 'the kernel keyring is not namespaced', request_key: 'the kernel keyring is not namespaced',
  userfaultfd: 'stalls kernel page faults: a classic exploit primitive', perf_event_open: 'profiling leaks kernel addresses and has a history of bugs',
  io_uring_setup: 'io_uring bypasses seccomp for the operations it runs', io_uring_enter: 'io_uring bypasses seccomp for the operations it runs',
  io_uring_register: 'io_uring bypasses seccomp for the operations it runs',
  kexec_load: 'replaces the running kernel', kexec_file_load: 'replaces the running kernel',
  init_module: 'loads kernel code', finit_module: 'loads kernel code', delete_module: 'unloads kernel code',
  open_by_handle_at: 'opens files by handle, past the mount namespace (the shocker escape)',
  reboot: 'reboots the host', swapon: 'changes host swap', swapoff: 'changes host swap', acct: 'host process accounting',
  iopl: 'raw port I/O', ioperm: 'raw port I/O', settimeofday: 'sets the host clock', clock_settime: 'sets the host clock',
  syslog: 'reads the kernel log', lookup_dcookie: 'kernel profiling interface', quotactl: 'host quota control',
  sethostname: 'host name when the UTS namespace is shared', setdomainname: 'host name when the UTS namespace is shared',
  fanotify_init: 'watches the host file system', name_to_handle_at: 'pairs with open_by_handle_at',
  kcmp: 'compares kernel objects of other processes', pidfd_getfd: 'steals descriptors of other processes',
  vhangup: 'hangs up the terminal', uselib: 'obsolete loader interface', nfsservctl: 'obsolete', _sysctl: 'obsolete',
};

function dangerousAllows(filter: SeccompFilter, profile: SeccompProfile): Finding[] {
  const native = filter.arches[0]!;
  const out: Finding[] = [];
  for (const v of explainFilter(filter, native)) {
    const why = DANGEROUS_SYSCALLS[v.name];
    if (!why) continue;
    const allows = (s: string) => s.startsWith('ALLOW') || s.startsWith('LOG') || s.includes('ALLOW') || s.includes('LOG');
    if (!allows(v.summary)) continue;
    const entry = profile.syscalls.find((e) => e.names.includes(v.name) && (e.action === 'ALLOW' || e.action === 'LOG'));
    out.push({
      severity: v.conditional ? 'warning' : 'error',
      where: entry ? `${profile.source}: ${entry.path}` : `${profile.source}: defaultAction`,
      message: `${v.name} is allowed${v.conditional ? ' for some arguments' : ''}: ${why}; deny it unless the workload needs it`,
    });
  }
  return out;
}

function unreachableRules(filter: SeccompFilter): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const arch of filter.arches) {
    const rules = filter.rules[arch] ?? [];
    const byNr = new Map<number, Rule[]>();
    for (const r of rules) byNr.set(r.nr, [...(byNr.get(r.nr) ?? []), r]);
    for (const list of byNr.values()) {
      for (const r of list) {
        const key = `${r.source}|${r.name}`;
        if (seen.has(key)) continue;
        let why: string | undefined;
        if (ruleIsUnsatisfiable(r)) why = 'its argument conditions can never all hold';
        else {
          const plain = list.filter((o) => o.conds.length === 0 && o !== r);
          if (r.conds.length === 0 && plain.some((o) => o.action !== r.action && winsOver(o, r))) {
            why = `another rule gives ${r.name} ${formatAction(plain.find((o) => winsOver(o, r))!.action)} for every call`;
          }
          const twin = list.find((o) => o !== r && o.conds.length > 0 && sameConds(o, r) && o.action !== r.action && winsOver(o, r));
          if (twin) why = `a rule with the same conditions (${twin.source}) wins with ${formatAction(twin.action)}`;
        }
        if (why) {
          seen.add(key);
          out.push({ severity: 'warning', where: r.source, message: `the rule for ${r.name} can never match: ${why}` });
        }
      }
    }
  }
  return out;
}

function winsOver(a: Rule, b: Rule): boolean {
  const ra = restrict(a.action);
  const rb = restrict(b.action);
  return ra < rb || (ra === rb && a.order < b.order);
}

function restrict(action: number): number {
  return ['KILL_PROCESS', 'KILL_THREAD', 'TRAP', 'ERRNO', 'USER_NOTIF', 'TRACE', 'LOG', 'ALLOW'].indexOf(actionKind(action) ?? 'ALLOW');
}

function sameConds(a: Rule, b: Rule): boolean {
  const key = (r: Rule) => r.conds.map((c) => `${c.index}${c.op}${c.value}/${c.mask}`).sort().join(',');
  return key(a) === key(b);
}

/** Runs every check. `filter` is the profile resolved for the target being linted. */
export function lintProfile(profile: SeccompProfile, filter: SeccompFilter): Finding[] {
  const out: Finding[] = [];
  const src = profile.source;
  if (profile.defaultAction === 'ALLOW' || profile.defaultAction === 'LOG') {
    out.push({ severity: 'error', where: `${src}: defaultAction`, message: `default action ${profile.defaultAction} allows every syscall not listed, including ones added by future kernels; use SCMP_ACT_ERRNO and list what is allowed` });
  }
  const native = filter.arches[0]!;
  const extra = filter.arches.slice(1);
  if (extra.length > 0) {
    out.push({ severity: 'info', where: src, message: `the ${extra.join(' and ')} ABI${extra.length > 1 ? 's are' : ' is'} open besides ${native}; drop ${extra.length > 1 ? 'them' : 'it'} from the architectures unless 32-bit programs must run` });
  }
  if (filter.arches.includes('x86')) {
    // i386's socketcall creates sockets from arguments in memory, out of the filter's sight: a
    // family filter on socket is void if socketcall(SYS_SOCKET) or (SYS_SOCKETPAIR) gets through.
    const nativeSocket = explainFilter(filter, native).find((v) => v.name === 'socket');
    const socketcall = syscallNumber('x86', 'socketcall')!;
    const passes = [1n, 8n].some((sub) => {
      const v = evaluate(filter, { nr: socketcall, arch: AUDIT_ARCH.x86, args: [sub] });
      return v === RET.ALLOW || v === RET.LOG;
    });
    if (nativeSocket?.conditional && passes) {
      out.push({ severity: 'warning', where: src, message: 'socket is filtered by family but i386 socketcall(SYS_SOCKET) is allowed, which creates sockets of any family: deny those socketcall calls or drop the x86 architecture' });
    }
  }
  out.push(...dangerousAllows(filter, profile));
  out.push(...unreachableRules(filter));
  for (const e of profile.syscalls) {
    const idx = e.args.map((a) => a.index);
    if (new Set(idx).size !== idx.length) {
      out.push({ severity: 'warning', where: `${src}: ${e.path}.args`, message: 'two conditions on one argument: stockade ANDs them, but libseccomp-based runtimes (runc, crun) refuse or reinterpret such a rule; split it if the profile is shared' });
    }
    if (e.names.includes('ioctl')) {
      e.args.forEach((a, i) => {
        if (a.index === 1 && !(a.op === 'MASKED_EQ' && a.value === 0xffffffffn)) {
          out.push({ severity: 'warning', where: `${src}: ${e.path}.args[${i}]`, message: 'ioctl request compared on all 64 bits: only the low 32 are meaningful (musl leaves garbage above); use SCMP_CMP_MASKED_EQ with value 4294967295 and the request in valueTwo' });
        }
      });
    }
    if (e.action === 'USER_NOTIF' && profile.listenerPath === undefined) {
      out.push({ severity: 'warning', where: `${src}: ${e.path}.action`, message: 'SCMP_ACT_NOTIFY without listenerPath: no supervisor receives the notifications and the calls fail with ENOSYS' });
    }
    if (e.includes.arches) continue; // entries for other arches are expected to be inert here
    const onAnyArch = e.names.filter((n) => filter.arches.some((a) => syscallNumber(a, n) !== undefined));
    if (onAnyArch.length === 0 && (filter.rules[native] !== undefined)) {
      out.push({ severity: 'info', where: `${src}: ${e.path}.names`, message: `${e.names.join(', ')} ${e.names.length > 1 ? 'do' : 'does'} not exist on ${filter.arches.join(', ')}: the entry has no effect there` });
    }
  }
  const rank = { error: 0, warning: 1, info: 2 };
  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}
