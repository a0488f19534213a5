/**
 * Removing a cgroup directory: rmdir fails with EBUSY for a moment after the last task has exited,
 * so it is retried; anything else (ENOENT included) ends the attempt.
 */
import { rmdirSync } from 'node:fs';

export function removeCgroupDir(dir: string, attempts = 100, waitMs = 5): void {
  for (let i = 0; i < attempts; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return;
      const until = Date.now() + waitMs;
      while (Date.now() < until) { /* the last task is still exiting */ }
    }
  }
}
