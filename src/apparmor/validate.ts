/**
 * The AppArmor side that touches the host: validating a profile with apparmor_parser and
 * installing it. (generate.ts is pure; this is the only AppArmor code that spawns processes.)
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';

/** One problem a tool found, in stockade's `FILE:LINE: message` form. */
export interface Diagnostic {
  file: string;
  line: number;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}: ${d.message}`;
}

export interface ValidationResult {
  ok: boolean;
  diagnostics: Diagnostic[];
}

/** A program on PATH or in the system directories (sbin is often not on a user's PATH). */
export function findProgram(name: string, extraDirs: readonly string[] = ['/usr/sbin', '/sbin', '/usr/bin', '/bin']): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...extraDirs];
  for (const d of dirs) {
    const p = `${d}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

export function apparmorParser(): string {
  const p = findProgram('apparmor_parser');
  if (!p) throw new StockadeError('unsupported', 'apparmor_parser not found; install it (Debian/Ubuntu: apt-get install apparmor)', 'apparmor_parser');
  return p;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

/** Lines apparmor_parser prints that are not about the profile. */
const NOISE = [/^Cache read\/write disabled/, /^Warning: unable to find a suitable fs/, /^$/];

/** The line of `profile NAME` (or the first profile) in the text, for errors that carry no line. */
function profileLine(text: string, profile?: string): number {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*profile\s+(\S+)/.exec(lines[i]!);
    if (m && (profile === undefined || m[1] === profile)) return i + 1;
  }
  return profile === undefined ? 1 : profileLine(text);
}

/**
 * apparmor_parser's messages -> diagnostics. It names the line (`... at line 4: missing an end of
 * line character? (entry: /b)`) for syntax errors; for errors found while compiling a profile
 * (`ERROR processing regexs for profile x, failed to load`) the profile's own line is given.
 */
export function parseApparmorOutput(output: string, file: string, text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const raw of output.split('\n')) {
    const l = raw.trim();
    if (NOISE.some((re) => re.test(l))) continue;
    let m = /\bat line (\d+): (.*)$/.exec(l);
    if (m) {
      out.push({ file, line: Number(m[1]), message: m[2]!.trim() });
      continue;
    }
    m = /\bline (\d+):\s*(.*)$/.exec(l);
    if (m) {
      out.push({ file, line: Number(m[1]), message: m[2]!.trim() });
      continue;
    }
    m = /for profile (\S+?),/.exec(l);
    out.push({ file, line: profileLine(text, m?.[1]), message: l });
  }
  return out;
}

/** `apparmor_parser -Q -K -q FILE`: parse and compile, no kernel load, no cache. */
export function validateAppArmor(file: string, includeDirs: readonly string[] = []): ValidationResult {
  const text = readText(file);
  const parser = apparmorParser();
  const args = ['-Q', '-K', '-q', ...includeDirs.flatMap((d) => ['-I', d]), file.startsWith('-') ? `./${file}` : file];
  const r = spawnSync(parser, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new StockadeError('io', `cannot run apparmor_parser: ${r.error.message}`, parser);
  const diagnostics = parseApparmorOutput(`${r.stdout ?? ''}\n${r.stderr ?? ''}`, file, text);
  if (r.status !== 0 && diagnostics.length === 0) {
    diagnostics.push({ file, line: profileLine(text), message: `apparmor_parser failed (${r.status === null ? `signal ${r.signal}` : `exit status ${r.status}`}) without a message` });
  }
  return { ok: r.status === 0, diagnostics: r.status === 0 ? [] : diagnostics };
}

export const APPARMOR_ENABLED_FILE = '/sys/module/apparmor/parameters/enabled';

/** Whether the running kernel enforces AppArmor (the module parameter reads Y). */
export function apparmorEnabled(enabledFile = APPARMOR_ENABLED_FILE): boolean {
  try {
    return readFileSync(enabledFile, 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** The profile name a stockade profile declares (`profile stockade-NAME flags=...`). */
export function declaredProfileName(text: string): string | undefined {
  return /^\s*profile\s+(stockade-[a-z0-9_-]+)[\s{]/m.exec(text)?.[1];
}

export interface InstallOptions {
  enabledFile?: string;
  /** Where profiles go (default /etc/apparmor.d). */
  profileDir?: string;
}

/**
 * Writes the profile to /etc/apparmor.d/stockade-NAME and loads it (`apparmor_parser -r`). Refuses
 * on a kernel without AppArmor: the profile would be written but never enforced.
 */
export function installAppArmor(file: string, opts: InstallOptions = {}): string {
  if (!apparmorEnabled(opts.enabledFile)) {
    throw new StockadeError('unsupported', `apparmor is not enabled in this kernel (${opts.enabledFile ?? APPARMOR_ENABLED_FILE} is not Y): use a kernel built with CONFIG_SECURITY_APPARMOR and boot it with apparmor=1 and apparmor in lsm= (e.g. lsm=landlock,lockdown,yama,apparmor,bpf), then run this again`);
  }
  const text = readText(file);
  const name = declaredProfileName(text);
  if (!name) throw new StockadeError('input', 'no `profile stockade-NAME` in this file; generate it with `stockade apparmor generate`', file);
  const v = validateAppArmor(file);
  if (!v.ok) throw new StockadeError('input', `invalid profile: ${v.diagnostics.map(formatDiagnostic).join('; ')}`, file);
  const target = `${opts.profileDir ?? '/etc/apparmor.d'}/${name}`;
  try {
    writeFileSync(target, text, { mode: 0o644 });
  } catch (e) {
    throw new StockadeError('io', `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)} (installing needs root)`, target);
  }
  const r = spawnSync(apparmorParser(), ['-r', '-W', target], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    const msg = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !NOISE.some((re) => re.test(l))).join('; ');
    throw new StockadeError('io', `apparmor_parser -r failed: ${r.error?.message ?? (msg || `exit status ${r.status}`)}`, target);
  }
  return target;
}
