/**
 * stockade-runtime: the OCI runtime command line (as runc's, which podman, conmon and the
 * runtime-tools suite call). docs/oci-runtime.md describes what each command does.
 *
 *   stockade-runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--debug]
 *                    create|start|state|kill|delete|run|exec|pause|resume|features|list ...
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { StockadeError, exitCodeFor } from '../errors.js';
import { DEFAULT_STATE_ROOT } from './state.js';
import type { CreateOptions, GlobalOptions } from './create.js';

const VERSION = '0.1.0';

interface Parsed {
  flags: Map<string, string[]>;
  positional: string[];
}

/**
 * Flags as urfave/cli reads them: -x, --x, --x=v, --x v. `boolean` names take no value; every other
 * known flag takes one; an unknown flag is a usage error naming it.
 */
function parse(argv: string[], withValue: readonly string[], boolean: readonly string[], command: string): Parsed {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (boolean.includes(name)) {
      flags.set(name, [...(flags.get(name) ?? []), eq >= 0 ? body.slice(eq + 1) : 'true']);
    } else if (withValue.includes(name)) {
      const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new StockadeError('usage', `${a} needs a value`, command);
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else {
      throw new StockadeError('usage', `unknown flag ${a}`, command);
    }
  }
  return { flags, positional };
}

/** Index of the first argument that is neither a flag nor the value of one (the command, or exec's id). */
function firstPositional(argv: readonly string[], withValue: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith('-') || a === '-') return i;
    const body = a.replace(/^--?/, '');
    if (!body.includes('=') && withValue.includes(body)) i++;
  }
  return -1;
}

const one = (p: Parsed, ...names: string[]): string | undefined => names.map((n) => p.flags.get(n)?.at(-1)).find((v) => v !== undefined);
const isSet = (p: Parsed, ...names: string[]): boolean => names.some((n) => { const v = p.flags.get(n)?.at(-1); return v !== undefined && v !== 'false'; });

/** Descriptors beyond stdio (systemd socket activation through an engine) are not passed on yet. */
function refusePreservedFds(p: Parsed): void {
  const n = one(p, 'preserve-fds');
  if (n !== undefined && n !== '0') throw new StockadeError('unsupported', `passing ${n} extra descriptors to the container is not supported by stockade-runtime`, '--preserve-fds');
}

function features(): number {
  const out = {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.3.0',
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: ['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'dirsync', 'noatime', 'atime', 'nodiratime', 'diratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'nosymfollow', 'bind', 'rbind', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable', 'tmpcopyup'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: [] as string[],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true, actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'], operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'], archs: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'] },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.stockade.runtime.version': VERSION },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

/** `create` and `run`'s own flags and id (also read by the planner, src/oci-runtime/planner.ts). */
export async function parseCreate(rest: string[], command: string): Promise<{ o: CreateOptions; detach: boolean }> {
  const p = parse(rest, ['bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds'], ['detach', 'd', 'no-pivot', 'no-new-keyring', 'keep', 'no-subreaper'], command);
  const id = p.positional[0];
  refusePreservedFds(p);
  const o: CreateOptions = { id: id ?? '', bundle: one(p, 'bundle', 'b') ?? '.', ...(one(p, 'pid-file') ? { pidFile: one(p, 'pid-file')! } : {}), ...(one(p, 'console-socket') ? { consoleSocket: one(p, 'console-socket')! } : {}) };
  const { checkId } = await import('./state.js');
  checkId(id);
  return { o, detach: isSet(p, 'detach', 'd') };
}

/**
 * The global flags into `g`; returns the command and what follows it ([] without a command), or
 * null for --version.
 */
export function parseGlobal(argv: string[], g: GlobalOptions): string[] | null {
  if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') return null;
  const globalValued = ['root', 'log', 'log-format', 'criu', 'rootless'];
  const at = firstPositional(argv, globalValued);
  const global = parse(at >= 0 ? argv.slice(0, at) : argv, globalValued, ['systemd-cgroup', 'debug', 'help', 'h'], 'stockade-runtime');
  g.root = one(global, 'root') ?? g.root;
  const log = one(global, 'log');
  if (log) g.log = log;
  const fmt = one(global, 'log-format');
  if (fmt !== undefined && fmt !== 'text' && fmt !== 'json') throw new StockadeError('usage', `"${fmt}" must be text or json`, '--log-format');
  g.logFormat = fmt ?? 'text';
  g.systemdCgroup = isSet(global, 'systemd-cgroup');
  return at >= 0 ? argv.slice(at) : [];
}

/** An error as one line and the exit status main() gives it. */
export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof StockadeError) return { message: e.message, exitCode: exitCodeFor(e) };
  return { message: `internal error: ${(e as Error).message}`, exitCode: 1 };
}

async function dispatch(argv: string[], g: GlobalOptions): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'create':
    case 'run': {
      const { o, detach } = await parseCreate(rest, command);
      const c = await import('./create.js');
      if (command === 'create') return c.create(g, o);
      if (detach) {
        await c.create(g, o);
        return (await import('./lifecycle.js')).start(g, o.id);
      }
      return c.runAttached(g, o);
    }
    case 'start':
    case 'state':
    case 'pause':
    case 'resume': {
      const p = parse(rest, [], [], command);
      const l = await import('./lifecycle.js');
      if (command === 'start') return l.start(g, p.positional[0] ?? '');
      if (command === 'state') return l.state(g, p.positional[0] ?? '');
      return (await import('./freeze.js')).freeze(g, p.positional[0] ?? '', command === 'pause');
    }
    case 'kill': {
      const p = parse(rest, [], ['all', 'a'], command);
      return (await import('./lifecycle.js')).kill(g, p.positional[0] ?? '', p.positional[1], isSet(p, 'all', 'a'));
    }
    case 'delete': {
      const p = parse(rest, [], ['force', 'f'], command);
      return (await import('./lifecycle.js')).remove(g, p.positional[0] ?? '', isSet(p, 'force', 'f'));
    }
    case 'exec': {
      // Flags end at the container id: what follows is the command and its own flags.
      const valued = ['process', 'p', 'pid-file', 'console-socket', 'cwd', 'env', 'e', 'user', 'u', 'cap', 'c', 'preserve-fds', 'process-label', 'apparmor', 'additional-gids', 'g'];
      const idAt = firstPositional(rest, valued);
      const head = idAt >= 0 ? rest.slice(0, idAt).filter((a) => a !== '--') : rest;
      const p = parse(head, valued, ['detach', 'd', 'tty', 't', 'no-new-privs', 'ignore-paused'], command);
      const id = idAt >= 0 ? rest[idAt]! : '';
      refusePreservedFds(p);
      const o = {
        detach: isSet(p, 'detach', 'd'),
        tty: isSet(p, 'tty', 't'),
        env: [...(p.flags.get('env') ?? []), ...(p.flags.get('e') ?? [])],
        args: idAt >= 0 ? rest.slice(idAt + 1) : [],
        ...(one(p, 'process', 'p') ? { process: one(p, 'process', 'p')! } : {}),
        ...(one(p, 'pid-file') ? { pidFile: one(p, 'pid-file')! } : {}),
        ...(one(p, 'console-socket') ? { consoleSocket: one(p, 'console-socket')! } : {}),
        ...(one(p, 'cwd') ? { cwd: one(p, 'cwd')! } : {}),
        ...(one(p, 'user', 'u') ? { user: one(p, 'user', 'u')! } : {}),
      };
      if (p.flags.has('cap') || p.flags.has('c') || p.flags.has('apparmor') || p.flags.has('process-label')) {
        throw new StockadeError('unsupported', '--cap, --apparmor and --process-label are not supported; give a --process file', 'exec');
      }
      return (await import('./lifecycle.js')).exec(g, id, o);
    }
    case 'features':
      return features();
    case 'list': {
      let ids: string[] = [];
      try {
        ids = readdirSync(g.root).filter((i) => !i.startsWith('.')); // .planner.sock and the like are not containers
      } catch { /* no containers yet */ }
      process.stdout.write(ids.map((i) => `${i}\n`).join(''));
      return 0;
    }
    case undefined:
      throw new StockadeError('usage', 'a command is required: create, start, state, kill, delete, run, exec, pause, resume, features, list', 'stockade-runtime');
    default:
      throw new StockadeError('usage', `unknown command "${command}"; expected create, start, state, kill, delete, run, exec, pause, resume, features or list`, 'stockade-runtime');
  }
}

function report(g: GlobalOptions, message: string): void {
  process.stderr.write(`stockade-runtime: ${message}\n`);
  if (!g.log) return;
  try {
    const time = new Date().toISOString();
    appendFileSync(g.log, g.logFormat === 'json' ? `${JSON.stringify({ level: 'error', msg: message, time })}\n` : `time="${time}" level=error msg=${JSON.stringify(message)}\n`);
  } catch { /* the log is best-effort; stderr has it */ }
}

export async function main(argv: string[]): Promise<number> {
  const g: GlobalOptions = { root: DEFAULT_STATE_ROOT, logFormat: 'text', systemdCgroup: false };
  try {
    const rest = parseGlobal(argv, g);
    if (rest === null) {
      process.stdout.write(`stockade-runtime version ${VERSION}\nspec: 1.3.0\n`);
      return 0;
    }
    return await dispatch(rest, g);
  } catch (e) {
    const d = describeError(e);
    report(g, d.message);
    return d.exitCode;
  }
}
