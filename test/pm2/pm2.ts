/** A private PM2, driven through its CLI, and the environment its processes get. */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../helpers/processes.js';
import { isAlive } from '../../src/channel/util/liveness.js';
import { APP, ROOT } from './sample-build.js';

const PM2_BIN = join(ROOT, 'node_modules/pm2/bin/pm2');
/** Terminal color codes, stripped from the workers' logs. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The test's environment without Jest's own variables, which workers should not inherit. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('JEST') || k === 'NODE_OPTIONS') continue;
    if (k.startsWith('PM2_') || k === 'NESTJS_IPC_DIR' || k === 'IPC_CHANNEL') continue;
    env[k] = v;
  }
  delete env.NODE_ENV;
  return { ...env, ...extra };
}

/** A free TCP port on 127.0.0.1 (released before use; collisions are unlikely). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Whether `pid` is a live process (a zombie counts as dead): the channel's own check. */
export { isAlive };

/**
 * Live processes whose environment holds `variable` (Linux /proc): PM2's daemon and workers all
 * carry the PM2_HOME they belong to.
 */
function processesWith(variable: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const vars = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (vars.includes(variable) && isAlive(Number(entry))) out.push(Number(entry));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

/** Waits until none of `pids` is alive, then SIGKILLs those still there. */
async function reap(pids: number[], graceMs: number): Promise<void> {
  pids = pids.filter((pid) => pid > 0);
  const deadline = Date.now() + graceMs;
  while (pids.some((pid) => isAlive(pid)) && Date.now() < deadline) await sleep(50);
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface Pm2Process {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { status: string; NODE_APP_INSTANCE?: number | string; restart_time: number };
}

/** A PM2 daemon of our own: a short private PM2_HOME, driven through the project's pm2 CLI. */
export class Pm2 {
  readonly home = mkdtempSync('/tmp/pm2-');
  /** Every worker pid seen, so teardown can kill stragglers even if the daemon died. */
  private readonly seen = new Set<number>();

  constructor(private readonly appEnv: Record<string, string>) {}

  get env(): Record<string, string> {
    return cleanEnv({
      ...this.appEnv,
      PM2_HOME: this.home,
      PM2_DISCRETE_MODE: 'true',
      PM2_NO_INTERACTION: 'true',
      PM2_DISABLE_VERSION_CHECK: 'true',
    });
  }

  /** Runs `pm2 <args>`; rejects with its output if it fails. */
  run(...args: string[]): Promise<string> {
    return new Promise((resolveRun, reject) => {
      execFile(
        process.execPath,
        [PM2_BIN, ...args],
        { cwd: ROOT, env: this.env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error)
            reject(
              new Error(`pm2 ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`),
            );
          else resolveRun(stdout);
        },
      );
    });
  }

  async list(): Promise<Pm2Process[]> {
    const list = JSON.parse(await this.run('jlist')) as Pm2Process[];
    for (const p of list) if (p.pid > 0) this.seen.add(p.pid);
    return list;
  }

  /** Instance number → pid of the online workers of the app. */
  async instances(): Promise<Map<number, number>> {
    const map = new Map<number, number>();
    for (const p of await this.list()) {
      if (p.name === APP && p.pm2_env.status === 'online' && p.pid > 0)
        map.set(Number(p.pm2_env.NODE_APP_INSTANCE), p.pid);
    }
    return map;
  }

  /** The workers' warnings and errors and their last log lines, for a failing test's message. */
  logs(): string {
    const dir = join(this.home, 'logs');
    if (process.env.PM2_LOG_DUMP) {
      try {
        for (const f of readdirSync(dir))
          copyFileSync(join(dir, f), `${process.env.PM2_LOG_DUMP}-${f}`);
      } catch {
        /* none */
      }
    }
    let text = '';
    try {
      for (const f of readdirSync(dir)) {
        const lines = readFileSync(join(dir, f), 'utf8').replace(ANSI, '').split('\n');
        const notable = lines.filter((l) => /WARN|ERROR/.test(l)).slice(-50);
        text += `--- ${f}: warnings and errors\n${notable.join('\n')}\n--- ${f}: last lines\n`;
        text += `${lines.slice(-30).join('\n')}\n`;
      }
    } catch {
      /* none */
    }
    return text;
  }

  /**
   * Stops everything: `pm2 kill` if the daemon is alive, then waits for the daemon and every
   * worker to be gone (SIGKILL after 10 s), then removes PM2_HOME.
   */
  async destroy(): Promise<void> {
    let daemon = 0;
    try {
      daemon = Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8'));
    } catch {
      /* never started */
    }
    if (daemon > 0 && isAlive(daemon)) await this.run('kill', '-s').catch(() => undefined);
    await reap([...this.seen, daemon, ...processesWith(`PM2_HOME=${this.home}`)], 10_000);
    rmSync(this.home, { recursive: true, force: true });
  }
}
