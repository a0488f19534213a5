/**
 * What the stockade-runtime tests share: a busybox root file system, a caller for the runtime (with
 * `create`'s stdio going to files, since the container keeps it open), and polling.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './adversarial.js';

export const RUNTIME = join(repoRoot, 'bin', 'stockade-runtime');
export const BUSYBOX = '/bin/busybox';

/** /bin/busybox with a link per applet, the usual mount points, and optional files. */
export function makeBusyboxRootfs(dir: string, applets: readonly string[], opts: { dirs?: string[]; files?: Record<string, string> } = {}): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of applets) symlinkSync('busybox', join(dir, 'bin', a));
  for (const d of opts.dirs ?? ['proc', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  for (const [path, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

export interface RuntimeResult { code: number | null; stdout: string; stderr: string }

/**
 * A caller of bin/stockade-runtime with `--root stateRoot`. `create` hands its stdio to the
 * container, which keeps it open until it ends (as with runc): its stdout and stderr go to files
 * under `work`, never to pipes a caller waits on.
 */
export function runtimeCaller(stateRoot: string, work: string): (args: string[], opts?: { stdout?: number; input?: string }) => RuntimeResult {
  let n = 0;
  return (args, opts = {}) => {
    if (args[0] === 'create') {
      const errFile = join(work, `create-${n++}.err`);
      const errFd = openSync(errFile, 'w');
      const outFd = opts.stdout ?? openSync('/dev/null', 'w');
      const r = spawnSync(RUNTIME, ['--root', stateRoot, ...args], { timeout: 30_000, stdio: ['ignore', outFd, errFd] });
      closeSync(errFd);
      if (opts.stdout === undefined) closeSync(outFd);
      return { code: r.status, stdout: '', stderr: readFileSync(errFile, 'utf8') };
    }
    const r = spawnSync(RUNTIME, ['--root', stateRoot, ...args], { encoding: 'utf8', timeout: 30_000, input: opts.input ?? '', stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'] });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
}

/** The status `state` reports, or the error it printed. */
export function containerStatus(rt: ReturnType<typeof runtimeCaller>, id: string): string {
  const r = rt(['state', id]);
  return r.code === 0 ? (JSON.parse(r.stdout) as { status: string }).status : `error: ${r.stderr}`;
}

export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}
