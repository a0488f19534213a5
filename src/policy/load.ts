/** Policy files: YAML, JSON or TOML text -> Policy. The caller reads the file. */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { parse as parseToml, TomlError } from 'smol-toml';
import { StockadeError } from '../errors.js';
import { policyFromDocument } from './validate.js';
import type { Policy } from './types.js';

export type PolicyFormat = 'yaml' | 'json' | 'toml';

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
    else if (format === 'toml') doc = parseToml(text);
    else doc = parseYaml(text, { uniqueKeys: true, strict: true });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      const pos = e.linePos?.[0];
      throw new StockadeError('input', `invalid YAML${pos ? ` at line ${pos.line} column ${pos.col}` : ''}: ${firstLine(e.message.replace(/ at line \d+, column \d+.*$/s, ''))}`, source);
    }
    if (e instanceof TomlError) {
      throw new StockadeError('input', `invalid TOML at line ${e.line} column ${e.column}: ${firstLine(e.message)}`, source);
    }
    if (e instanceof SyntaxError) throw new StockadeError('input', `invalid JSON: ${firstLine(e.message)}`, source);
    throw e;
  }
  return policyFromDocument(doc ?? {}, source);
}
