/** Facts about the running kernel that compilers take as explicit inputs. */
import { release } from 'node:os';

/** The running kernel's version as [major, minor] (from uname -r). */
export function runningKernel(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}
