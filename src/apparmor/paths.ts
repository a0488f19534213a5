/**
 * Policy paths as AppArmor 3.0 path expressions. Pure string work: nothing here looks at the file
 * system.
 *
 * AppArmor matches the path the kernel computes for an object (no `.` components, no doubled
 * slashes), so policy paths are normalized first: a rule spelled `/a/./b` would never match and a
 * hide rule spelled that way would silently hide nothing.
 */
import { StockadeError } from '../errors.js';

export const APPARMOR_FORMAT = 'AppArmor 3.0';

/** Characters that are globs or syntax in an AppArmor path (a policy path may not contain them). */
const GLOB_CHARS = /[*?[\]{}^]/;
/** Characters that may appear in a path without quoting it. */
const BARE_SAFE = /^[A-Za-z0-9/._\-+*?[\]{}^,@%:~=]*$/;

/** Where a path came from, for the error that refuses it. */
export interface PathSource {
  /** `filesystem.write[2]` */
  rule: string;
  /** The policy's source (file name), prefixed to `rule` in errors. */
  source: string;
}

export function refuse(src: PathSource, path: string, why: string): never {
  throw new StockadeError('input', `${JSON.stringify(path)} cannot be expressed in ${APPARMOR_FORMAT}: ${why}`, `${src.source}: ${src.rule}`);
}

/** `/a//b/./c` -> `/a/b/c`; the root stays `/`. */
export function normalizePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return `/${parts.join('/')}`;
}

/** The components of a normalized absolute path (`/` has none). */
export function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

/**
 * Checks that a policy path can be written as an AppArmor path and returns it normalized.
 * `pattern`: the path is a hide pattern, where `*` matches within one component (as in stockade
 * run); runs of `*` collapse to one, since AppArmor's `**` would also cross `/`.
 */
export function checkPath(path: string, src: PathSource, pattern = false): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) refuse(src, path, 'the path contains a control character');
  if (path.includes('"')) refuse(src, path, 'the path contains a double quote, which ends a quoted AppArmor path');
  if (path.includes('\\')) refuse(src, path, 'the path contains a backslash, which AppArmor reads as an escape');
  const rest = pattern ? path.replace(/\*/g, '') : path;
  if (GLOB_CHARS.test(rest)) {
    const c = GLOB_CHARS.exec(rest)![0];
    refuse(src, path, `the path contains a glob character (${c})${pattern ? '; a hide pattern may use only *' : ''}`);
  }
  if (/@$|@\{/.test(path)) refuse(src, path, 'the path contains @{, which AppArmor reads as a variable');
  const norm = normalizePath(path);
  return pattern ? norm.replace(/\*+/g, '*') : norm;
}

/** A path expression as it appears in a rule: bare when it can be, else in double quotes. */
export function quote(expr: string): string {
  return BARE_SAFE.test(expr) ? expr : `"${expr}"`;
}

/** `/a/b` plus "this and everything below": the object itself and, for a directory, its tree. */
export function withTree(comps: readonly string[]): string {
  return comps.length === 0 ? '/**' : `/${comps.join('/')}{,/**}`;
}

/** Does a glob component (only `*`, matching within the component) match a literal name? */
export function componentMatches(glob: string, name: string): boolean {
  if (!glob.includes('*')) return glob === name;
  const re = new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
  return re.test(name);
}

/** A character class body `[^...]` excluding `chars` and `/`; `-` goes first, where it is literal. */
function negatedClass(chars: Iterable<string>): string {
  const set = [...new Set(chars)].sort();
  const dash = set.includes('-') ? '-' : '';
  return `[^${dash}${set.filter((c) => c !== '-').join('')}/]`;
}

/**
 * AppArmor globs that together match exactly the single path components (non-empty names without
 * `/`) that are NOT in `names`. Built from a trie of the names: at each prefix, the names that
 * leave the trie there (`prefix[^next/]*`) and the prefix itself when it is not a name
 * (`prefix{,[^next/]*}`); after a whole name, the longer names (`name?*`).
 * Returns undefined when a name is not plain ASCII (AppArmor character classes work on bytes).
 */
export function complementOf(names: readonly string[]): string[] | undefined {
  if (names.some((n) => !/^[\x20-\x7e]+$/.test(n))) return undefined;
  const members = new Set(names);
  const out: string[] = [];
  const visit = (prefix: string) => {
    const longer = [...members].filter((n) => n.length > prefix.length && n.startsWith(prefix));
    const next = [...new Set(longer.map((n) => n[prefix.length]!))].sort();
    // One expression per trie node: the names that leave the trie here, and the prefix itself
    // when it is a (non-empty) name that is not a member.
    if (next.length === 0) out.push(`${prefix}?*`);
    else if (prefix === '' || members.has(prefix)) out.push(`${prefix}${negatedClass(next)}*`);
    else out.push(`${prefix}{,${negatedClass(next)}*}`);
    for (const c of next) visit(prefix + c);
  };
  visit('');
  return out.sort();
}
