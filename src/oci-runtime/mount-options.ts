/**
 * OCI mount options (mount(8) words) as mount(2) flags, propagation and a data string. Words that
 * are not flags go to the file system as data, as runc and crun do.
 */
export const MS = {
  RDONLY: 1n, NOSUID: 2n, NODEV: 4n, NOEXEC: 8n, SYNCHRONOUS: 16n, REMOUNT: 32n, MANDLOCK: 64n, DIRSYNC: 128n,
  NOSYMFOLLOW: 256n, NOATIME: 1024n, NODIRATIME: 2048n, BIND: 4096n, REC: 16384n, SILENT: 32768n,
  UNBINDABLE: 1n << 17n, PRIVATE: 1n << 18n, SLAVE: 1n << 19n, SHARED: 1n << 20n, RELATIME: 1n << 21n,
  STRICTATIME: 1n << 24n, LAZYTIME: 1n << 25n,
} as const;

/** word -> [flags to set, flags to clear] */
const FLAG_WORDS: Record<string, [bigint, bigint]> = {
  ro: [MS.RDONLY, 0n], rw: [0n, MS.RDONLY],
  nosuid: [MS.NOSUID, 0n], suid: [0n, MS.NOSUID],
  nodev: [MS.NODEV, 0n], dev: [0n, MS.NODEV],
  noexec: [MS.NOEXEC, 0n], exec: [0n, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0n], async: [0n, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0n],
  mand: [MS.MANDLOCK, 0n], nomand: [0n, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0n], atime: [0n, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0n], diratime: [0n, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0n], norelatime: [0n, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0n], nostrictatime: [0n, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0n], nolazytime: [0n, MS.LAZYTIME],
  nosymfollow: [MS.NOSYMFOLLOW, 0n], symfollow: [0n, MS.NOSYMFOLLOW],
  silent: [MS.SILENT, 0n], loud: [0n, MS.SILENT],
  bind: [MS.BIND, 0n], rbind: [MS.BIND | MS.REC, 0n],
};

const PROPAGATION_WORDS: Record<string, bigint> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Words podman and CRI-O pass that ask for something done around the mount, not by the kernel:
 * tmpcopyup (copy the image's files into a tmpfs) and SELinux relabel requests (z, Z, which the
 * engine itself carries out before calling the runtime).
 */
const ENGINE_WORDS = new Set(['tmpcopyup', 'notmpcopyup', 'copy-symlink', 'z', 'Z', 'U', 'nocopyup', 'copy']);
/** Words that ask for something stockade-runtime cannot do; refused, never dropped. */
export const UNSUPPORTED_WORDS = new Set(['idmap', 'ridmap', 'remount']);

export interface ParsedMountOptions {
  flags: bigint;
  propagation: bigint;
  data: string;
  bind: boolean;
  recursive: boolean;
  /** Words of ENGINE_WORDS that were present (reported, not applied). */
  engineWords: string[];
  unsupported: string[];
}

export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0n;
  let propagation = 0n;
  const data: string[] = [];
  const engineWords: string[] = [];
  const unsupported: string[] = [];
  for (const word of options) {
    const f = FLAG_WORDS[word];
    if (f) {
      flags = (flags | f[0]) & ~f[1];
      continue;
    }
    const p = PROPAGATION_WORDS[word];
    if (p !== undefined) {
      propagation = p;
      continue;
    }
    if (ENGINE_WORDS.has(word)) engineWords.push(word);
    else if (UNSUPPORTED_WORDS.has(word) || word.startsWith('idmap=')) unsupported.push(word);
    else if (word !== 'defaults') data.push(word);
  }
  const bind = (flags & MS.BIND) !== 0n;
  return { flags, propagation, data: data.join(','), bind, recursive: bind && (flags & MS.REC) !== 0n, engineWords, unsupported };
}
