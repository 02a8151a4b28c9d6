import { readFileSync, readlinkSync } from 'node:fs';

let ownNamespace: string | undefined;
let procIsOurs: boolean | undefined;

/**
 * This process's PID namespace ('pid:[4026531836]' on Linux; '' where there is none to tell).
 * Processes sharing a socket directory from different namespaces (containers on one volume, a
 * sidecar) see each other's pids as meaningless numbers: a pid is only evidence of liveness
 * when it comes from the same namespace.
 */
export function pidNamespace(): string {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = process.platform === 'linux' ? readlinkSync('/proc/self/ns/pid') : '';
    } catch {
      ownNamespace = '';
    }
  }
  return ownNamespace;
}

/**
 * Whether /proc shows this process's namespace: a process started by `unshare --pid --fork`
 * without a /proc of its own sees the parent namespace's /proc, where its pids mean others.
 */
function procShowsOurPids(): boolean {
  if (procIsOurs === undefined) {
    try {
      procIsOurs = Number.parseInt(readFileSync('/proc/self/stat', 'latin1'), 10) === process.pid;
    } catch {
      procIsOurs = false;
    }
  }
  return procIsOurs;
}

/**
 * Whether the process `pid` of PID namespace `pidNs` may be running. A process of another
 * namespace cannot be looked up from here, so it counts as alive: what decides about it then is
 * what does not depend on pids (its connection, the lock's age, graceMs). Without `pidNs` (a
 * peer of an older version) the pid is taken to be of this namespace.
 *
 * In this namespace: a killed process stays a zombie until its parent reaps it, and
 * `kill(pid, 0)` still succeeds on a zombie; on Linux /proc tells the difference, so a
 * `kill -9`-ed peer counts as dead at once.
 */
export function isAlive(pid: number, pidNs?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pidNs !== undefined && pidNs !== pidNamespace()) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux' || !procShowsOurPids()) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The state letter follows the command name, which is in parentheses and may hold spaces.
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
