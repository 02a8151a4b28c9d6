import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Everything the bench starts or creates, so that nothing survives it: every worker pid
 * (grandchildren included: each reports its pid when it says hello) and the temp directory
 * with every socket. Killed with SIGKILL on any exit, error or signal. Workers also exit on
 * their own when the control socket closes, which covers the orchestrator being SIGKILLed;
 * the directory it then leaves is removed by the next run (see makeRunDir).
 */
const pids = new Set<number>();
const dirs = new Set<string>();
let installed = false;

export function trackPid(pid: number): void {
  pids.add(pid);
}

export function forgetPid(pid: number): void {
  pids.delete(pid);
}

export function trackDir(dir: string): void {
  dirs.add(dir);
}

export function killAll(): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
}

function removeDirs(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

const PREFIX = 'ipcb-';
const OWNER = 'owner.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The bench's private 0700 directory, short because Unix socket paths must fit in ~100 bytes.
 * It records its owner's pid, so that a later run removes what a SIGKILLed one could not.
 */
export function makeRunDir(): string {
  const base = '/tmp';
  for (const name of readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(base, name);
    try {
      const owner = Number(readFileSync(join(dir, OWNER), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // not ours, or another user's: leave it
    }
  }
  const dir = mkdtempSync(join(base, PREFIX));
  trackDir(dir);
  writeFileSync(join(dir, OWNER), String(process.pid));
  return dir;
}

export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAll();
    removeDirs();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
      process.exit(130);
    });
  }
}
