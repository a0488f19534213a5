/**
 * A policy's `onViolation` applied to a resolved filter: `kill` turns the plain denials (EPERM,
 * the default) into KILL_PROCESS, `log` into LOG (allowed and logged: an audit run). Other errnos
 * (ENOSYS for clone3, EAFNOSUPPORT for socket families) are how programs find a fallback, not
 * violations, and stay. Pure; every backend uses it.
 */
import { actionValue, RET } from './actions.js';
import type { SeccompFilter } from './rules.js';

const EPERM = actionValue('ERRNO', 1);

export function applyViolationAction(filter: SeccompFilter, onViolation: 'errno' | 'kill' | 'log'): SeccompFilter {
  if (onViolation === 'errno') return filter;
  const to = onViolation === 'kill' ? RET.KILL_PROCESS : RET.LOG;
  const swap = (a: number) => (a === EPERM ? to : a);
  const rules: SeccompFilter['rules'] = {};
  for (const [arch, list] of Object.entries(filter.rules)) {
    rules[arch as keyof SeccompFilter['rules']] = list!.map((r) => ({ ...r, action: swap(r.action) }));
  }
  return { ...filter, defaultAction: swap(filter.defaultAction), rules };
}
