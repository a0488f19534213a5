/**
 * Device rules on cgroup v2: native/build/device-filter assembles a BPF_PROG_TYPE_CGROUP_DEVICE
 * program from the OCI rules and attaches it to the container's cgroup directory, where it stays
 * for the cgroup's lifetime. Later rules override earlier ones (per access bit); a request no rule
 * allows is denied.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockadeError } from '../errors.js';
import type { OciDeviceRule } from './spec.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'build', 'device-filter');
const WHERE = 'linux.resources.devices';

/** One rule as device-filter's argument: "TYPE MAJOR MINOR ACCESS VERDICT" (empty access is rwm, as on v1). */
export function deviceFilterArg(d: OciDeviceRule): string {
  return `${d.type} ${d.major ?? '*'} ${d.minor ?? '*'} ${d.access || 'rwm'} ${d.allow ? 'allow' : 'deny'}`;
}

/** Attaches a device program enforcing `rules` (OCI order) to the cgroup v2 directory `cgroupDir`. */
export function attachDeviceFilter(cgroupDir: string, rules: OciDeviceRule[]): void {
  if (!existsSync(bin)) throw new StockadeError('unsupported', `device rules on cgroup v2 need ${bin}, which is not built; run npm install`, WHERE);
  const r = spawnSync(bin, ['--cgroup', cgroupDir, ...rules.map(deviceFilterArg)], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error) throw new StockadeError('unsupported', `cannot run ${bin}: ${r.error.message}`, WHERE);
  if (r.status !== 0) {
    const why = r.stderr.trim() || (r.signal ? `killed by ${r.signal}` : `exit status ${String(r.status)}`);
    throw new StockadeError('unsupported', `cannot attach the device program to ${cgroupDir}: ${why}`, WHERE);
  }
}
