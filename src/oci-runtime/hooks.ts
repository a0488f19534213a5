/**
 * OCI hooks: each runs with the container's state on stdin, and a hook that fails (or outlives its
 * timeout) fails the operation, except poststart and poststop, whose failures are reported only.
 */
import { spawn } from 'node:child_process';
import { StockadeError } from '../errors.js';
import type { HookName, OciHook } from './spec.js';

function runHook(hook: OciHook, state: string, name: HookName, i: number): Promise<void> {
  const where = `hooks.${name}[${i}]`;
  return new Promise((resolve, reject) => {
    const [argv0, ...rest] = hook.args.length > 0 ? hook.args : [hook.path];
    const child = spawn(hook.path, rest, { argv0, env: Object.fromEntries(hook.env.map((e) => { const k = e.indexOf('='); return [e.slice(0, k), e.slice(k + 1)]; })), stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin!.on('error', () => {});
    child.stdin!.end(state);
    const timer = hook.timeout ? setTimeout(() => child.kill('SIGKILL'), hook.timeout * 1000) : undefined;
    child.on('error', (e) => reject(new StockadeError('io', `cannot run ${hook.path}: ${e.message}`, where)));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new StockadeError('input', `${hook.path} failed (${signal ? `signal ${signal}` : `exit ${code}`})${err ? `: ${err.trim().split('\n')[0]}` : ''}`, where));
    });
  });
}

export async function runHooks(hooks: readonly OciHook[], name: HookName, state: object): Promise<void> {
  const text = JSON.stringify(state);
  for (let i = 0; i < hooks.length; i++) await runHook(hooks[i]!, text, name, i);
}
