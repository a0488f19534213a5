/**
 * The SELinux side that touches the host: compiling a module with secilc against stockade's
 * templates and stub base, and installing it with semodule. (generate.ts is pure; this is the only
 * SELinux code that spawns processes.)
 *
 * secilc quietly DROPS an `optional` block whose names do not resolve and still succeeds; only its
 * most verbose output (-vvv) says "Disabling optional ...". A module that compiles only because
 * part of it was dropped is reported invalid here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../errors.js';
import { findProgram, formatDiagnostic, type Diagnostic, type ValidationResult } from '../apparmor/validate.js';

export type { Diagnostic, ValidationResult };
export { formatDiagnostic };

export const TEMPLATE_FILE = 'stockade-container.cil';
export const STUB_FILE = 'stub-base.cil';

/**
 * Where the .cil templates are: next to this module (when copied into dist) or in the package's
 * src/selinux/templates (dist/src/selinux -> ../../../src/selinux/templates).
 */
export function templateDir(): string {
  const candidates = [
    fileURLToPath(new URL('./templates/', import.meta.url)),
    fileURLToPath(new URL('../../../src/selinux/templates/', import.meta.url)),
  ];
  const found = candidates.find((d) => existsSync(join(d, TEMPLATE_FILE)) && existsSync(join(d, STUB_FILE)));
  if (!found) throw new StockadeError('internal', `the SELinux templates are missing (looked in ${candidates.join(', ')})`);
  return found;
}

export function secilc(): string {
  const p = findProgram('secilc');
  if (!p) throw new StockadeError('unsupported', 'secilc not found; install it (Debian/Ubuntu: apt-get install secilc; Fedora: dnf install secilc)', 'secilc');
  return p;
}

/** secilc's progress lines and the generic tail of a failure, which name no problem. */
const NOISE = [
  /^Parsing /, /^Building AST/, /^Destroying Parse Tree/, /^Resolving AST/, /^Resetting declarations/, /^Qualifying Names/,
  /^Compile post process/, /^Building policy binary/, /^Checking /, /^Writing /, /^Pass \d+ of resolution failed/,
  /^Failed to resolve AST/, /^Failed to compile cildb/, /^Failed to build AST/, /^Failure adding /, /^Failed to generate binary/,
  /^Failed to build policydb/, /^Failed to parse /, /^Failed to verify/, /^Processing /, /^Verifying /, /^Qualifying /,
];

function locate(l: string): { msg: string; file: string; line: number } | undefined {
  let m = /^(.*?)\s*\bat line (\d+) of (.+)$/.exec(l);
  if (m) return { msg: m[1]!, file: m[3]!, line: Number(m[2]) };
  m = /^(.*?)\s*\bat (.+):(\d+)$/.exec(l);
  if (m) return { msg: m[1]!, file: m[2]!, line: Number(m[3]) };
  return undefined;
}

/** The line a bare `Error: Unknown keyword X` is about, when the file says `(X` once. */
function findKeyword(files: readonly string[], keyword: string): { file: string; line: number } | undefined {
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(`(${keyword}`)) return { file: f, line: i + 1 };
  }
  return undefined;
}

/**
 * secilc -vvv output -> diagnostics, `FILE:LINE: message`. A failed compile is one diagnostic
 * (secilc stops at its first error): lines without a place (`Failed to resolve permission bogus`)
 * are joined to the next line that names one. With a successful compile, each "Disabling optional"
 * line is one diagnostic (the "Failed to resolve" before it says why).
 */
export function parseSecilcOutput(output: string, succeeded: boolean, files: readonly string[], fallbackFile: string): Diagnostic[] {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l && !NOISE.some((re) => re.test(l)));
  const out: Diagnostic[] = [];
  let lastFailure: { msg: string; file: string; line: number } | undefined;
  if (succeeded) {
    for (const l of lines) {
      const disabled = /^Disabling optional '([^']*)' at (.+):(\d+)$/.exec(l);
      if (disabled) {
        const why = lastFailure ?? { msg: 'a name inside it does not resolve', file: disabled[2]!, line: Number(disabled[3]) };
        out.push({ file: why.file, line: why.line, message: `${why.msg.replace(/^Failed/, 'failed')}; secilc dropped optional block '${disabled[1]}' (line ${disabled[3]}) instead of failing` });
        lastFailure = undefined;
        continue;
      }
      const loc = locate(l);
      if (loc && /^Failed to resolve/.test(loc.msg)) lastFailure = loc;
    }
    return out;
  }
  // secilc stops at the first error; what it prints is one chain of messages about it, some with
  // a place (the template's line when the error surfaced while copying a template). One
  // diagnostic: at the first place in the checked file (else the first place), all messages.
  const chain: Array<{ msg: string; file?: string; line?: number }> = [];
  let pending: string[] = [];
  for (const l of lines) {
    const disabled = /^Disabling optional '([^']*)' at (.+):(\d+)$/.exec(l);
    if (disabled) {
      chain.push({ msg: `secilc dropped optional block '${disabled[1]}'`, file: disabled[2]!, line: Number(disabled[3]) });
      continue;
    }
    const loc = locate(l);
    if (loc) {
      const msg = [...pending, loc.msg.replace(/^Problem$/, '')].filter(Boolean).join(': ');
      pending = [];
      chain.push({ msg, file: loc.file, line: loc.line });
      continue;
    }
    pending.push(l.replace(/^Error: /, ''));
  }
  for (const p of pending) {
    const kw = /^Unknown keyword (\S+)/.exec(p);
    const at = kw ? findKeyword(files, kw[1]!) : undefined;
    chain.push({ msg: p, file: at?.file, line: at?.line });
  }
  if (chain.length === 0) return out;
  const placed = chain.filter((c) => c.file !== undefined);
  const primary = placed.find((c) => c.file === fallbackFile) ?? placed[0];
  const parts: string[] = [];
  const mentioned = new Set<string>();
  for (const c of chain) {
    const here = c.file !== undefined && (c.file !== primary?.file || c.line !== primary?.line) ? `${c.file}:${c.line}` : '';
    if (!c.msg && (!here || mentioned.has(here))) continue;
    const text = c.msg ? `${c.msg}${here ? ` (at ${here})` : ''}` : `see ${here}`;
    if (here) mentioned.add(here);
    if (!parts.includes(text)) parts.push(text);
  }
  out.push({ file: primary?.file ?? fallbackFile, line: primary?.line ?? 0, message: parts.join('; ') || 'secilc failed' });
  return out;
}

/**
 * Compiles stub base + templates + the module(s) into a throw-away binary policy:
 * `secilc -vvv -o TMP/policy.bin -f /dev/null STUB TEMPLATE FILE...`.
 */
export function validateSelinux(file: string, extraFiles: readonly string[] = []): ValidationResult {
  try {
    readFileSync(file);
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  const dir = templateDir();
  const files = [join(dir, STUB_FILE), join(dir, TEMPLATE_FILE), ...extraFiles, file].map((f) => (f.startsWith('-') ? `./${f}` : f));
  const tmp = mkdtempSync(join(tmpdir(), 'stockade-secilc-'));
  try {
    const r = spawnSync(secilc(), ['-vvv', '-o', join(tmp, 'policy.bin'), '-f', '/dev/null', ...files], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) throw new StockadeError('io', `cannot run secilc: ${r.error.message}`, 'secilc');
    const ok = r.status === 0;
    const diagnostics = parseSecilcOutput(`${r.stdout ?? ''}\n${r.stderr ?? ''}`, ok, files, file);
    if (!ok && diagnostics.length === 0) diagnostics.push({ file, line: 0, message: `secilc failed (exit status ${r.status}) without a message` });
    return { ok: ok && diagnostics.length === 0, diagnostics };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const SELINUX_ENFORCE_FILE = '/sys/fs/selinux/enforce';

export function selinuxEnabled(enforceFile = SELINUX_ENFORCE_FILE): boolean {
  return existsSync(enforceFile);
}

/** The block a stockade module declares (`(block stockade_NAME`). */
export function declaredModuleName(text: string): string | undefined {
  return /^\(block (stockade_[a-z0-9_]+)\s*$/m.exec(text)?.[1];
}

/**
 * `semodule -i stockade-container.cil -i FILE`, after validating; refuses where SELinux is not
 * enabled (the module would be stored but never enforced).
 */
export function installSelinux(file: string, enforceFile = SELINUX_ENFORCE_FILE): string {
  if (!selinuxEnabled(enforceFile)) {
    throw new StockadeError('unsupported', `selinux is not enabled on this host (no ${enforceFile}): boot a kernel built with CONFIG_SECURITY_SELINUX with selinux=1 and selinux in lsm=, install a policy (Fedora/RHEL: selinux-policy-targeted; Debian: selinux-basics selinux-policy-default, then selinux-activate) and reboot, then run this again`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, file);
  }
  const name = declaredModuleName(text);
  if (!name) throw new StockadeError('input', 'no `(block stockade_NAME` in this file; generate it with `stockade selinux generate`', file);
  const v = validateSelinux(file);
  if (!v.ok) throw new StockadeError('input', `invalid module: ${v.diagnostics.map(formatDiagnostic).join('; ')}`, file);
  const semodule = findProgram('semodule');
  if (!semodule) throw new StockadeError('unsupported', 'semodule not found; install policycoreutils', 'semodule');
  // semodule names a module after its file: install a copy named after the block.
  const tmp = mkdtempSync(join(tmpdir(), 'stockade-semodule-'));
  try {
    const copy = join(tmp, `${name}.cil`);
    writeFileSync(copy, text);
    const r = spawnSync(semodule, ['-i', join(templateDir(), TEMPLATE_FILE), '-i', copy], { encoding: 'utf8', timeout: 600_000 });
    if (r.error || r.status !== 0) {
      const msg = (r.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
      throw new StockadeError('io', `semodule -i failed: ${r.error?.message ?? (msg || `exit status ${r.status}`)}`, file);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return name;
}
