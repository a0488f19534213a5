#!/usr/bin/env node
/** The `stockade` command: dispatches to a command module and turns errors into one line + exit code. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitCodeFor, StockadeError } from '../errors.js';
import { processIo, type Io } from './io.js';

const HELP = `stockade: run Linux workloads under the isolation their risk calls for

usage: stockade <command> ...

commands:
  run       run a command confined (stockade run --help)
  record    watch a workload once and write the smallest policy that runs it
  apparmor  generate, validate and install an AppArmor profile from a policy
  selinux   generate, validate and install an SELinux CIL module from a policy
  k8s       Kubernetes manifests (Pod, securityContext, Security Profiles Operator objects)
  docker    docker / podman run flags and the profile files they name
  doctor    what this host can enforce
  seccomp   compile, inspect and compare seccomp profiles (stockade seccomp --help)
  version   print the version

Bad input exits with status 2 and one line naming the input.`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      // Command modules load on demand: start-up cost is paid only for the command that runs.
      case 'seccomp':
        return (await import('./seccomp.js')).seccompCommand(rest, io);
      case 'run':
        return await (await import('./run.js')).runCommand(rest, io);
      case 'record':
        return await (await import('./record.js')).recordCommand(rest, io);
      case 'apparmor':
        return (await import('./apparmor.js')).apparmorCommand(rest, io);
      case 'selinux':
        return (await import('./selinux.js')).selinuxCommand(rest, io);
      case 'k8s': {
        const m = await import('./k8s.js');
        return m.k8sCommand(rest, io, await m.loadLsmGenerators());
      }
      case 'docker':
        return (await import('./docker.js')).dockerCommand(rest, io);
      case 'doctor':
        return (await import('./doctor.js')).doctorCommand(rest, io);
      case 'version':
      case '--version':
        io.out('stockade 0.1.0');
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(HELP);
        return cmd === undefined ? 2 : 0;
      default:
        throw new StockadeError('usage', `unknown command "${cmd}"; run \`stockade --help\``, 'stockade');
    }
  } catch (e) {
    if (e instanceof StockadeError) {
      io.err(`stockade: ${e.message}`);
      return exitCodeFor(e);
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`stockade: internal error: ${msg.split('\n')[0]} (please report this)`);
    return 1;
  }
}

/** True when this module is the program node runs (directly or through the npm bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A closed pipe (`stockade seccomp explain ... | head`) ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
