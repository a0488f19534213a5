/** `stockade docker POLICY ...`: the docker/podman run command for a policy. */
import { join } from 'node:path';
import { checkWorkloadName, nameFromFile } from '../k8s/names.js';
import { LSMS } from '../k8s/pod.js';
import { dockerRun, ENGINES, renderLines, renderShell } from '../oci/docker-flags.js';
import { one, parseArgs } from './args.js';
import type { Io } from './io.js';
import { choice, loadPolicyAndProfile, policyOperand, writeText } from './k8s.js';

export const DOCKER_HELP = `usage: stockade docker POLICY [--name N] [--image I] [--engine docker|podman] [--profile-dir DIR] [--format lines|shell]

Prints the docker (or podman) run command that runs a workload under POLICY, and writes the
seccomp profile it names beside it (docs/kubernetes.md, "Docker and podman").

--name N          profile names stockade-N (default: from the policy file name)
--image I         image to run (default: the placeholder IMAGE)
--engine E        docker (default) or podman (adds --timeout for limits.wallTime, --rootfs for a rootfs policy)
--lsm apparmor|selinux|both  which LSM profile to use (default both)
--allow-weaker    drop what the engine cannot express, listed in comments before the command
--profile-dir DIR where the seccomp profile is written (default .)
--format lines    one flag per line with trailing backslashes (default); shell: one line`;

export function dockerCommand(argv: string[], io: Io): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(DOCKER_HELP);
    return 0;
  }
  const p = parseArgs(argv, {
    name: { value: true }, image: { value: true }, engine: { value: true }, lsm: { value: true },
    'allow-weaker': {}, 'profile-dir': { value: true }, format: { value: true },
  }, 'docker');
  const path = policyOperand(p, 'docker');
  const name = checkWorkloadName(one(p, 'name') ?? nameFromFile(path));
  const format = choice(p, 'format', ['lines', 'shell'] as const) ?? 'lines';
  const { policy, seccompProfile } = loadPolicyAndProfile(path);
  const dir = one(p, 'profile-dir');
  const file = `stockade-${name}.seccomp.json`;
  const r = dockerRun(policy, {
    name,
    image: one(p, 'image'),
    engine: choice(p, 'engine', ENGINES),
    lsm: choice(p, 'lsm', LSMS),
    allowWeaker: p.bools.has('allow-weaker'),
    seccompFile: dir === undefined ? file : join(dir, file),
    seccompProfile,
  });
  if (r.seccomp) writeText(r.seccomp.path, r.seccomp.content);
  io.out((format === 'shell' ? renderShell(r) : renderLines(r)).replace(/\n$/, ''));
  return 0;
}
