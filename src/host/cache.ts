/**
 * A small on-disk cache for what is costly to recompute on every `stockade run`: the kernel probe
 * and compiled seccomp programs. Entries are keyed by content hashes; the directory must belong
 * to the current user and be writable by nobody else, or the cache is not used at all (a program
 * read from a directory someone else can write would be a way to weaken the filter).
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let dir: string | null | undefined;

function candidate(): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  if (process.env.STOCKADE_CACHE === 'off') return undefined;
  if (process.env.STOCKADE_CACHE) return process.env.STOCKADE_CACHE;
  if (uid === 0) return '/var/cache/stockade';
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : undefined);
  return base ? join(base, 'stockade') : undefined;
}

/** The cache directory when it is safe to use, else undefined. */
export function cacheDir(): string | undefined {
  if (dir !== undefined) return dir ?? undefined;
  dir = null;
  const d = candidate();
  if (!d) return undefined;
  try {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const st = lstatSync(d);
    if (st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0) dir = d;
  } catch {
    /* unusable: run without a cache */
  }
  return dir ?? undefined;
}

export function cacheKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40);
}

export function readCache(name: string): Buffer | undefined {
  const d = cacheDir();
  if (!d) return undefined;
  try {
    return readFileSync(join(d, name));
  } catch {
    return undefined;
  }
}

export function writeCache(name: string, data: Buffer | string): void {
  const d = cacheDir();
  if (!d) return;
  const tmp = join(d, `.${name}.${process.pid}`);
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, join(d, name));
  } catch {
    /* a cache that cannot be written is only slower */
  }
}
