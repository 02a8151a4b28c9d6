import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid runs (on this machine, in this pid namespace). A killed
 * process stays a zombie until its parent reaps it, and `kill(pid, 0)` still succeeds on a
 * zombie; on Linux /proc tells the difference, so a `kill -9`-ed peer counts as dead at once.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The state letter follows the command name, which is in parentheses and may hold spaces.
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
