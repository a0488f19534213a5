/** The safe default policy and the secrets it hides. Documented in docs/policy.md. */
import type { Policy } from './types.js';

/**
 * Secrets hidden by default. `*` matches one path component, so /home/*\/.ssh covers every home
 * directory. A policy's `filesystem.hide` replaces this list; `hideDefaults: false` is not needed
 * because giving the list replaces it.
 */
export const DEFAULT_HIDDEN: readonly string[] = [
  '/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-',
  '/etc/sudoers', '/etc/sudoers.d', '/etc/ssh/ssh_host_*_key',
  '/root',
  '/home/*/.ssh', '/home/*/.gnupg', '/home/*/.aws', '/home/*/.kube', '/home/*/.docker',
  '/home/*/.config/gcloud', '/home/*/.netrc', '/home/*/.git-credentials', '/home/*/.npmrc',
  '/var/lib/sss', '/var/lib/docker', '/var/lib/containers', '/run/secrets',
  // Sockets of container engines: a read-only mount does not stop connect() on a socket.
  '/run/docker.sock', '/var/run/docker.sock', '/run/containerd', '/run/podman', '/run/crio',
];

/** Environment variables copied from the caller by default. */
export const DEFAULT_ENV_INHERIT: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'TZ', 'USER', 'LOGNAME'];

export function defaultPolicy(): Policy {
  return {
    command: [],
    env: { inherit: [...DEFAULT_ENV_INHERIT], set: {} },
    hostname: 'stockade',
    filesystem: { root: 'host', read: [], write: [], tmpfs: ['/tmp'], hide: [...DEFAULT_HIDDEN] },
    network: 'none',
    syscalls: { profile: 'stockade:default', onViolation: 'errno' },
    capabilities: [],
    limits: {},
    landlock: 'required',
    enforcement: 'required',
    terminal: 'auto',
    source: 'default policy',
  };
}

/** The default policy also makes the working directory writable (unless the policy says otherwise). */
export const CWD_WRITABLE_BY_DEFAULT = true;
