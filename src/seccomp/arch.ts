/** Architectures the seccomp compiler has syscall tables for, and their audit identifiers. */
import { StockadeError } from '../errors.js';

export type Arch = 'x86_64' | 'x86' | 'x32' | 'aarch64';
export const ARCHES: readonly Arch[] = ['x86_64', 'x86', 'x32', 'aarch64'];

/** AUDIT_ARCH_* values (linux/audit.h): what the kernel puts in seccomp_data.arch. x32 shares x86_64's. */
export const AUDIT_ARCH: Readonly<Record<Arch, number>> = {
  x86_64: 0xc000003e,
  x86: 0x40000003,
  x32: 0xc000003e,
  aarch64: 0xc00000b7,
};

/** x32 syscalls arrive under AUDIT_ARCH_X86_64 with this bit set in the number. */
export const X32_SYSCALL_BIT = 0x40000000;

const ALIASES: Readonly<Record<string, Arch>> = {
  x86_64: 'x86_64', amd64: 'x86_64', scmp_arch_x86_64: 'x86_64',
  x86: 'x86', i386: 'x86', i686: 'x86', '386': 'x86', scmp_arch_x86: 'x86',
  x32: 'x32', scmp_arch_x32: 'x32',
  aarch64: 'aarch64', arm64: 'aarch64', scmp_arch_aarch64: 'aarch64',
};

/**
 * Architecture names stockade recognises but has no syscall tables for (Docker profiles name them in
 * archMap and includes.arches). They are valid input; a filter never targets them on these hosts.
 */
const FOREIGN: ReadonlySet<string> = new Set([
  'arm', 'scmp_arch_arm', 'mips', 'scmp_arch_mips', 'mipsel', 'scmp_arch_mipsel', 'mips64', 'scmp_arch_mips64',
  'mips64n32', 'scmp_arch_mips64n32', 'mipsel64', 'mips64le', 'scmp_arch_mipsel64', 'mipsel64n32', 'mips64n32le',
  'scmp_arch_mipsel64n32', 'ppc', 'scmp_arch_ppc', 'ppc64', 'scmp_arch_ppc64', 'ppc64le', 'scmp_arch_ppc64le',
  's390', 'scmp_arch_s390', 's390x', 'scmp_arch_s390x', 'parisc', 'scmp_arch_parisc', 'parisc64',
  'scmp_arch_parisc64', 'riscv64', 'scmp_arch_riscv64', 'loong64', 'loongarch64', 'scmp_arch_loongarch64',
  'sh', 'scmp_arch_sh', 'sheb', 'scmp_arch_sheb', 'm68k', 'scmp_arch_m68k',
]);

/** An arch name as written by a user or a Docker profile; `undefined` for a known arch without tables. */
export function parseArch(name: string, where: string): Arch | undefined {
  const key = name.toLowerCase();
  const arch = ALIASES[key];
  if (arch) return arch;
  if (FOREIGN.has(key)) return undefined;
  throw new StockadeError('input', `unknown architecture "${name}"; use one of x86_64, x86, x32, aarch64 (or a SCMP_ARCH_* name)`, where);
}

/** The arch this process runs on, as the kernel reports it for native syscalls. */
export function hostArch(): Arch {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  if (process.arch === 'ia32') return 'x86';
  throw new StockadeError('unsupported', `host architecture ${process.arch} has no syscall tables; stockade supports x86_64, x86, x32 and aarch64`);
}

/** Arches a native process on `arch` can also call into (the compat ABIs the kernel accepts). */
export function companionArches(arch: Arch): Arch[] {
  return arch === 'x86_64' ? ['x86_64', 'x86', 'x32'] : [arch];
}
