/** `stockade selinux ...`: generate a CIL module from a policy, validate it, install it. */
import { StockadeError } from '../errors.js';
import { generateSelinux, selinuxModuleName, type SelinuxMode } from '../selinux/generate.js';
import { formatDiagnostic, installSelinux, validateSelinux } from '../selinux/validate.js';
import { operand, readPolicyFile, writeOutput } from './apparmor.js';
import { one, parseArgs } from './args.js';
import type { Io } from './io.js';

export const SELINUX_HELP = `usage:
  stockade selinux generate POLICY [--mode enforcing|permissive] [--name NAME] [-o FILE]
  stockade selinux validate FILE      compile with secilc against stockade's templates and stub base
  stockade selinux install FILE       semodule -i the templates and the module

generate writes a CIL module (block stockade_NAME; NAME: --name, else the command's basename, else
"sandbox") to stdout or FILE. It inherits stockade's templates (stockade-container.cil). A policy
rule SELinux cannot express is an error naming the rule. validate exits 0 when the module compiles
with nothing dropped and 2 with one FILE:LINE: message line per error. install needs SELinux
enabled. See docs/mac.md.`;

function generate(argv: string[], io: Io): number {
  const p = parseArgs(argv, { mode: { value: true }, name: { value: true }, output: { value: true, short: 'o' } }, 'selinux generate');
  const src = operand(p, 'one POLICY file', 'selinux generate');
  const mode = one(p, 'mode') ?? 'enforcing';
  if (mode !== 'enforcing' && mode !== 'permissive') throw new StockadeError('usage', `must be enforcing or permissive, not "${mode}"`, '--mode');
  const policy = readPolicyFile(src);
  const opts = { name: one(p, 'name'), mode: mode as SelinuxMode };
  const text = generateSelinux(policy, opts);
  const out = one(p, 'output');
  if (out === undefined || out === '-') io.out(text.replace(/\n$/, ''));
  else {
    writeOutput(out, text);
    io.err(`wrote SELinux module ${selinuxModuleName(policy, opts.name)} (${mode}) to ${out}`);
  }
  return 0;
}

function validate(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'selinux validate');
  const file = operand(p, 'one module FILE', 'selinux validate');
  const r = validateSelinux(file);
  if (r.ok) {
    io.out(`${file}: valid`);
    return 0;
  }
  for (const d of r.diagnostics) io.err(formatDiagnostic(d));
  return 2;
}

function install(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'selinux install');
  const file = operand(p, 'one module FILE', 'selinux install');
  const name = installSelinux(file);
  io.out(`installed SELinux modules stockade-container and ${name}`);
  return 0;
}

export function selinuxCommand(argv: string[], io: Io): number {
  const [sub, ...rest] = argv;
  const table: Record<string, (a: string[], io: Io) => number> = { generate, validate, install };
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help')) {
    io.out(SELINUX_HELP);
    return sub === undefined ? 2 : 0;
  }
  const fn = table[sub];
  if (!fn) throw new StockadeError('usage', `unknown command "${sub}"; commands: ${Object.keys(table).join(', ')}`, 'stockade selinux');
  return fn(rest, io);
}
