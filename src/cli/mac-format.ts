/**
 * The shape `stockade apparmor` and `stockade selinux` share: generate a policy's profile or
 * module, validate it with the format's real tool, install it where the kernel enforces it.
 */
import { writeFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';
import type { Policy } from '../policy/types.js';
import { one, parseArgs, subcommand, type Parsed } from './args.js';
import type { Io } from './io.js';
import { loadPolicyFile } from './run.js';

export interface MacFormat<M extends string> {
  command: string; // apparmor | selinux
  /** What generate writes, for messages: `AppArmor profile`. */
  what: string;
  /** What validate and install take, for usage errors: `profile`, `module`. */
  unit: string;
  help: string;
  modes: readonly [M, ...M[]];
  generate(policy: Policy, opts: { name: string | undefined; mode: M }): string;
  objectName(policy: Policy, name: string | undefined): string;
  validate(file: string): { ok: boolean; diagnostics: ReadonlyArray<{ file: string; line: number; message: string }> };
  /** Installs and loads; returns what was installed, for the message. */
  install(file: string): string;
}

function operand(p: Parsed, what: string, command: string): string {
  if (p.operands.length !== 1) throw new StockadeError('usage', `expected ${what}; see \`stockade ${command.split(' ')[0]} --help\``, `stockade ${command}`);
  return p.operands[0]!;
}

function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new StockadeError('io', `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, path);
  }
}

export function macCommand<M extends string>(f: MacFormat<M>): (argv: string[], io: Io) => number {
  const generate = (argv: string[], io: Io): number => {
    const p = parseArgs(argv, { mode: { value: true }, name: { value: true }, output: { value: true, short: 'o' } }, `${f.command} generate`);
    const src = operand(p, 'one POLICY file', `${f.command} generate`);
    const mode = (one(p, 'mode') ?? f.modes[0]) as M;
    if (!f.modes.includes(mode)) throw new StockadeError('usage', `must be ${f.modes.join(' or ')}, not "${mode}"`, '--mode');
    const policy = loadPolicyFile(src);
    const name = one(p, 'name');
    const text = f.generate(policy, { name, mode });
    const out = one(p, 'output');
    if (out === undefined || out === '-') io.out(text.replace(/\n$/, ''));
    else {
      writeOutput(out, text);
      io.err(`wrote ${f.what} ${f.objectName(policy, name)} (${mode}) to ${out}`);
    }
    return 0;
  };
  const validate = (argv: string[], io: Io): number => {
    const file = operand(parseArgs(argv, {}, `${f.command} validate`), `one ${f.unit} FILE`, `${f.command} validate`);
    const r = f.validate(file);
    if (r.ok) {
      io.out(`${file}: valid`);
      return 0;
    }
    for (const d of r.diagnostics) io.err(`${d.file}:${d.line}: ${d.message}`);
    return 2;
  };
  const install = (argv: string[], io: Io): number => {
    const file = operand(parseArgs(argv, {}, `${f.command} install`), `one ${f.unit} FILE`, `${f.command} install`);
    io.out(f.install(file));
    return 0;
  };
  return (argv, io) => subcommand(argv, io, f.command, f.help, { generate, validate, install });
}
