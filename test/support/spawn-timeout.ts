/**
 * Running a command under a time limit: the command gets its own process group, which the limit
 * kills whole (a wrapper and everything under it). Used by the probe runner and the podman harness.
 */
import { spawn } from 'node:child_process';

export interface TimedResult {
  argv: string[];
  /** Exit code; null when a signal ended it (the time limit included). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface TimedOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes for stdin (then closed); without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Kill the process group after this long (default 30 s). */
  timeoutMs?: number;
}

export function runWithTimeout(argv: string[], opts: TimedOptions = {}): Promise<TimedResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // the command may exit before reading everything
      child.stdin!.end(opts.input);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ argv, code, signal, stdout, stderr, timedOut, ms: performance.now() - t0 });
    });
  });
}
