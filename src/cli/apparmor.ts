/** `stockade apparmor ...`: generate a profile from a policy, validate it, install it. */
import { appArmorProfileName, generateAppArmor, type AppArmorMode } from '../apparmor/generate.js';
import { installAppArmor, validateAppArmor } from '../apparmor/validate.js';
import { macCommand } from './mac-format.js';

export const APPARMOR_HELP = `usage:
  stockade apparmor generate POLICY [--mode enforce|complain] [--name NAME] [-o FILE]
  stockade apparmor validate FILE      check a profile with apparmor_parser (no kernel needed)
  stockade apparmor install FILE       write /etc/apparmor.d/stockade-NAME and load it

generate writes an AppArmor 3.0 profile named stockade-NAME (NAME: --name, else the command's
basename, else "sandbox") to stdout or FILE. A policy rule AppArmor cannot express is an error
naming the rule. validate exits 0 when the profile is valid and 2 with one FILE:LINE: message line
per error. install needs a kernel with AppArmor enabled. See docs/mac.md.`;

export const apparmorCommand = macCommand<AppArmorMode>({
  command: 'apparmor',
  what: 'AppArmor profile',
  unit: 'profile',
  help: APPARMOR_HELP,
  modes: ['enforce', 'complain'],
  generate: (policy, opts) => generateAppArmor(policy, opts),
  objectName: (policy, name) => appArmorProfileName(policy, name),
  validate: (file) => validateAppArmor(file),
  install: (file) => `installed ${installAppArmor(file)} and loaded it`,
});
