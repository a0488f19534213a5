/** `stockade selinux ...`: generate a CIL module from a policy, validate it, install it. */
import { generateSelinux, selinuxModuleName, type SelinuxMode } from '../selinux/generate.js';
import { installSelinux, validateSelinux } from '../selinux/validate.js';
import { macCommand } from './mac-format.js';

export const SELINUX_HELP = `usage:
  stockade selinux generate POLICY [--mode enforcing|permissive] [--name NAME] [-o FILE]
  stockade selinux validate FILE      compile with secilc against stockade's templates and stub base
  stockade selinux install FILE       semodule -i the templates and the module

generate writes a CIL module (block stockade_NAME; NAME: --name, else the command's basename, else
"sandbox") to stdout or FILE. It inherits stockade's templates (stockade-container.cil). A policy
rule SELinux cannot express is an error naming the rule. validate exits 0 when the module compiles
with nothing dropped and 2 with one FILE:LINE: message line per error. install needs SELinux
enabled. See docs/mac.md.`;

export const selinuxCommand = macCommand<SelinuxMode>({
  command: 'selinux',
  what: 'SELinux module',
  unit: 'module',
  help: SELINUX_HELP,
  modes: ['enforcing', 'permissive'],
  generate: (policy, opts) => generateSelinux(policy, opts),
  objectName: (policy, name) => selinuxModuleName(policy, name),
  validate: (file) => validateSelinux(file),
  install: (file) => `installed SELinux modules stockade-container and ${installSelinux(file)}`,
});
