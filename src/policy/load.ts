/** Policy files: YAML, JSON or TOML text -> Policy. The caller reads the file. */
import { createRequire } from 'node:module';
import { StockadeError } from '../errors.js';
import { policyFromDocument } from './validate.js';
import type { Policy } from './types.js';

export type PolicyFormat = 'yaml' | 'json' | 'toml';

// The YAML and TOML parsers load on first use: most runs read no policy file, and loading them
// costs more than the rest of `stockade run`'s start-up.
const require = createRequire(import.meta.url);
type YamlModule = typeof import('yaml');
type TomlModule = typeof import('smol-toml');
let yamlModule: YamlModule | undefined;
let tomlModule: TomlModule | undefined;
const yaml = (): YamlModule => (yamlModule ??= require('yaml') as YamlModule);
const toml = (): TomlModule => (tomlModule ??= require('smol-toml') as TomlModule);

export function formatOf(path: string): PolicyFormat {
  if (/\.ya?ml$/i.test(path)) return 'yaml';
  if (/\.json$/i.test(path)) return 'json';
  if (/\.toml$/i.test(path)) return 'toml';
  throw new StockadeError('input', 'unknown policy format; name the file .yaml, .yml, .json or .toml', path);
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.trim().replace(/\.$/, '');
}

export function parsePolicyText(text: string, source: string, format: PolicyFormat = formatOf(source)): Policy {
  let doc: unknown;
  try {
    if (format === 'json') doc = JSON.parse(text);
    else if (format === 'toml') doc = toml().parse(text);
    else doc = yaml().parse(text, { uniqueKeys: true, strict: true });
  } catch (e) {
    if (yamlModule && e instanceof yamlModule.YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new StockadeError('input', `invalid YAML${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${firstLine(e.message.replace(/ at line \d+, column \d+.*$/s, ''))}`, source);
    }
    if (tomlModule && e instanceof tomlModule.TomlError) {
      throw new StockadeError('input', `invalid TOML at line ${e.line} column ${e.column}: ${firstLine(e.message)}`, source);
    }
    if (e instanceof SyntaxError) throw new StockadeError('input', `invalid JSON: ${firstLine(e.message)}`, source);
    throw e;
  }
  return policyFromDocument(doc ?? {}, source);
}
