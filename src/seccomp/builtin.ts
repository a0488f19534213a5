/** Profiles that ship with stockade, by name (`stockade:default`). */
import { StockadeError } from '../errors.js';
import { defaultProfileJson, DEFAULT_PROFILE_NAME } from './default-profile.js';
import { profileFromJson, type SeccompProfile } from './profile.js';
import type { JsonValue } from '../json-exact.js';

export const BUILTIN_PROFILES: readonly string[] = [DEFAULT_PROFILE_NAME];

let cachedDefault: SeccompProfile | undefined;

export function isBuiltinName(name: string): boolean {
  return name.startsWith('stockade:');
}

export function builtinProfile(name: string, where = name): SeccompProfile {
  if (name === DEFAULT_PROFILE_NAME) {
    cachedDefault ??= profileFromJson(defaultProfileJson() as JsonValue, DEFAULT_PROFILE_NAME);
    return cachedDefault;
  }
  throw new StockadeError('input', `no built-in profile "${name}"; built-in profiles: ${BUILTIN_PROFILES.join(', ')}`, where);
}
