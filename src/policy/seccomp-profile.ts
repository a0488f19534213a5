/**
 * The seccomp profile a policy names (`syscalls.profile`): a built-in name, or a Docker / OCI
 * profile file, read and validated. Shared by the native and the OCI backends.
 */
import { readFileSync } from 'node:fs';
import { StockadeError } from '../errors.js';
import { builtinProfile, isBuiltinName } from '../seccomp/builtin.js';
import { parseProfile, type SeccompProfile } from '../seccomp/profile.js';

export function loadPolicyProfile(name: string): SeccompProfile {
  if (isBuiltinName(name)) return builtinProfile(name, 'syscalls.profile');
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (e) {
    throw new StockadeError('io', `cannot read the seccomp profile: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, name);
  }
  return parseProfile(text, name);
}
