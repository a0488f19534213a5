/** `stockade apparmor ...`: generate a profile from a policy, validate it, install it. */
import { readFileSync, writeFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';
import { parsePolicyText } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { appArmorProfileName, generateAppArmor, type AppArmorMode } from '../apparmor/generate.js';
import { formatDiagnostic, installAppArmor, validateAppArmor } from '../apparmor/validate.js';
import { one, parseArgs, type Parsed } from './args.js';
import type { Io } from './io.js';

export const APPARMOR_HELP = `usage:
  stockade apparmor generate POLICY [--mode enforce|complain] [--name NAME] [-o FILE]
  stockade apparmor validate FILE      check a profile with apparmor_parser (no kernel needed)
  stockade apparmor install FILE       write /etc/apparmor.d/stockade-NAME and load it

generate writes an AppArmor 3.0 profile named stockade-NAME (NAME: --name, else the command's
basename, else "sandbox") to stdout or FILE. A policy rule AppArmor cannot express is an error
naming the rule. validate exits 0 when the profile is valid and 2 with one FILE:LINE: message line
per error. install needs a kernel with AppArmor enabled. See docs/mac.md.`;

export function readPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read the policy: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
  return parsePolicyText(text, path);
}

export function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new StockadeError('io', `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

export function operand(p: Parsed, what: string, command: string): string {
  if (p.operands.length !== 1) throw new StockadeError('usage', `expected ${what}; see \`stockade ${command.split(' ')[0]} --help\``, `stockade ${command}`);
  return p.operands[0]!;
}

function generate(argv: string[], io: Io): number {
  const p = parseArgs(argv, { mode: { value: true }, name: { value: true }, output: { value: true, short: 'o' } }, 'apparmor generate');
  const src = operand(p, 'one POLICY file', 'apparmor generate');
  const mode = one(p, 'mode') ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'complain') throw new StockadeError('usage', `must be enforce or complain, not "${mode}"`, '--mode');
  const policy = readPolicyFile(src);
  const opts = { name: one(p, 'name'), mode: mode as AppArmorMode };
  const text = generateAppArmor(policy, opts);
  const out = one(p, 'output');
  if (out === undefined || out === '-') io.out(text.replace(/\n$/, ''));
  else {
    writeOutput(out, text);
    io.err(`wrote AppArmor profile ${appArmorProfileName(policy, opts.name)} (${mode}) to ${out}`);
  }
  return 0;
}

function validate(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'apparmor validate');
  const file = operand(p, 'one profile FILE', 'apparmor validate');
  const r = validateAppArmor(file);
  if (r.ok) {
    io.out(`${file}: valid`);
    return 0;
  }
  for (const d of r.diagnostics) io.err(formatDiagnostic(d));
  return 2;
}

function install(argv: string[], io: Io): number {
  const p = parseArgs(argv, {}, 'apparmor install');
  const file = operand(p, 'one profile FILE', 'apparmor install');
  const target = installAppArmor(file);
  io.out(`installed ${target} and loaded it`);
  return 0;
}

export function apparmorCommand(argv: string[], io: Io): number {
  const [sub, ...rest] = argv;
  const table: Record<string, (a: string[], io: Io) => number> = { generate, validate, install };
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help')) {
    io.out(APPARMOR_HELP);
    return sub === undefined ? 2 : 0;
  }
  const fn = table[sub];
  if (!fn) throw new StockadeError('usage', `unknown command "${sub}"; commands: ${Object.keys(table).join(', ')}`, 'stockade apparmor');
  return fn(rest, io);
}
