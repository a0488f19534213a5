/** A small command-line parser: flags with values, repeatable flags, booleans and operands. */
import { StockadeError } from '../errors.js';
import type { Io } from './io.js';

export interface FlagSpec {
  /** Takes a value (`--arch x86_64` or `--arch=x86_64`). */
  value?: boolean;
  /** May be given more than once. */
  repeat?: boolean;
  /** Short alias such as `-o`. */
  short?: string;
}

export interface Parsed {
  flags: Map<string, string[]>;
  bools: Set<string>;
  operands: string[];
}

/**
 * Parses `argv` against `spec`. Everything after `--` is an operand. Unknown flags are a usage
 * error naming the flag.
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, FlagSpec>>, command: string): Parsed {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const operands: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([name, s]) => [s.short!, name]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else if (a.length > 1 && a.startsWith('-') && !/^-\d/.test(a)) {
      name = byShort.get(a.slice(1));
      if (!name) throw new StockadeError('usage', `unknown flag ${a}; see \`stockade ${command} --help\``, a);
    }
    if (name === undefined) {
      operands.push(a);
      continue;
    }
    const s = spec[name];
    if (!s) throw new StockadeError('usage', `unknown flag --${name}; see \`stockade ${command} --help\``, `--${name}`);
    if (!s.value) {
      if (inline !== undefined) throw new StockadeError('usage', 'takes no value', `--${name}`);
      bools.add(name);
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new StockadeError('usage', 'needs a value', `--${name}`);
    const prev = flags.get(name);
    if (prev && !s.repeat) throw new StockadeError('usage', 'given twice', `--${name}`);
    flags.set(name, [...(prev ?? []), v]);
  }
  return { flags, bools, operands };
}

export function one(p: Parsed, name: string): string | undefined {
  return p.flags.get(name)?.[0];
}

/**
 * Runs the subcommand `argv[0]` of `command` from `table`; prints `help` for --help (exit 0) or
 * for no subcommand (exit 2).
 */
export function subcommand(argv: readonly string[], io: Io, command: string, help: string, table: Readonly<Record<string, (a: string[], io: Io) => number>>): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help')) {
    io.out(help);
    return sub === undefined ? 2 : 0;
  }
  const fn = table[sub];
  if (!fn) throw new StockadeError('usage', `unknown command "${sub}"; commands: ${Object.keys(table).join(', ')}`, `stockade ${command}`);
  return fn(rest, io);
}
