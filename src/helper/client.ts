/**
 * Spawning the C helper (native/build/stockade-helper): the only code that does.
 *
 * The helper gets the workload's stdio on descriptors 0-2, the encoded plan on descriptor 3 (written
 * and ended here), and writes its status lines on descriptor 4, which are parsed here one by one.
 * Never through a shell.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../errors.js';
import type { HelperStatus, Plan } from './plan.js';
import { encodePlan, parseStatusLine } from './protocol.js';

export interface HelperRun {
  /** The helper's pid. */
  pid: number;
  statuses: HelperStatus[];
  /** How the helper itself ended. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The workload's exit code / signal number, from its `exited` / `signaled` line; null without one. */
  exitCode: number | null;
  exitSignal: number | null;
  timedOut: boolean;
}

export interface SpawnHelperOptions {
  /** For descriptors 0..2 (default: three pipes). */
  stdio?: ('pipe' | 'inherit' | 'ignore' | number)[];
  /** Run the helper as this user / group (the caller must be root). */
  uid?: number;
  gid?: number;
  onStatus?: (s: HelperStatus) => void;
  /** A command the helper runs under (e.g. strace for `stockade record --via strace`). */
  wrapper?: string[];
  /** A new session and process group for the helper (`stockade-runtime create` leaves it running). */
  detached?: boolean;
}

let cachedPath: string | undefined;

/** native/build/stockade-helper of this package (found from this file, compiled or not). */
export function helperPath(): string {
  if (cachedPath) return cachedPath;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) {
      cachedPath = join(dir, 'native', 'build', 'stockade-helper');
      return cachedPath;
    }
    dir = dirname(dir);
  }
  throw new StockadeError('internal', 'cannot find the stockade package root above src/helper/client', 'helper');
}

export function spawnHelper(plan: Plan, opts: SpawnHelperOptions = {}): { child: ChildProcess; done: Promise<HelperRun> } {
  const encoded = encodePlan(plan); // throws before anything is spawned
  const path = helperPath();
  if (!existsSync(path)) {
    throw new StockadeError('unsupported', `the native helper ${path} is not built; run \`node scripts/build-native.mjs\` (needs gcc)`, 'helper');
  }
  const io = opts.stdio ?? ['pipe', 'pipe', 'pipe'];
  if (io.length !== 3) throw new StockadeError('input', `stdio has ${io.length} entries; give one for each of descriptors 0, 1 and 2`, 'helper');
  const stdio: StdioOptions = [...io, 'pipe', 'pipe'];
  const [cmd, ...args] = opts.wrapper && opts.wrapper.length > 0 ? [...opts.wrapper, path] : [path];
  const child = spawn(cmd!, args, {
    stdio,
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    ...(opts.detached ? { detached: true } : {}),
  });
  const planOut = child.stdio[3] as Writable | null;
  const statusIn = child.stdio[4] as Readable | null;
  const statuses: HelperStatus[] = [];
  let failure: unknown;
  // A helper that refuses early may close descriptor 3 before reading it all: EPIPE is not our error.
  planOut?.on('error', () => {});
  planOut?.end(encoded);
  let pending = '';
  const take = (line: string) => {
    if (line === '' || failure !== undefined) return;
    try {
      const s = parseStatusLine(line);
      statuses.push(s);
      opts.onStatus?.(s);
    } catch (e) {
      failure = e;
    }
  };
  statusIn?.setEncoding('utf8');
  statusIn?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      take(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  const done = new Promise<HelperRun>((resolve, reject) => {
    child.on('error', (e) => reject(new StockadeError('io', `cannot run the native helper ${path}: ${e.message}`, 'helper')));
    child.on('close', (code, signal) => {
      take(pending);
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      const last = <K extends HelperStatus['kind']>(kind: K) =>
        statuses.filter((s): s is Extract<HelperStatus, { kind: K }> => s.kind === kind).at(-1);
      resolve({
        pid: child.pid ?? -1,
        statuses,
        code,
        signal,
        exitCode: last('exited')?.code ?? null,
        exitSignal: last('signaled')?.signal ?? null,
        timedOut: last('timeout') !== undefined,
      });
    });
  });
  return { child, done };
}
