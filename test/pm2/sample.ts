/**
 * Helpers for the end-to-end tests of the sample app: building it, a private PM2 driven through
 * its CLI, plain processes, HTTP calls, and the sample's traffic tool.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../helpers/processes.js';
import { isAlive } from '../../src/channel/util/liveness.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLE = join(ROOT, 'sample');
const PM2_BIN = join(ROOT, 'node_modules/pm2/bin/pm2');
const NEST_BIN = join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
const TSC_BIN = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Terminal color codes, stripped from the workers' logs. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The PM2 app name in sample/ecosystem.config.cjs, and so the channel name `pm2:cache-api`. */
export const APP = 'cache-api';

// ---- build ---------------------------------------------------------------------------------

/** The newest modification time (ms) of `path` or of anything under it. */
export function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Builds the library (dist/, which the sample imports as 'nestjs-ipc-channel') and the sample
 * (with the Nest CLI), each only if its sources are newer than its output.
 */
export function buildSample(): void {
  withLock(join(tmpdir(), `nestjs-ipc-sample-build-${hash(ROOT)}.lock`), build);
}

function build(): void {
  const lib = join(ROOT, 'dist/index.js');
  if (newest(join(ROOT, 'src')) > mtime(lib)) {
    execFileSync(process.execPath, [TSC_BIN, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }
  const app = join(SAMPLE, 'dist/main.js');
  const inputs = Math.max(
    newest(join(SAMPLE, 'src')),
    mtime(lib),
    mtime(join(SAMPLE, 'tsconfig.json')),
  );
  if (inputs > mtime(app)) {
    execFileSync(process.execPath, [NEST_BIN, 'build'], { cwd: SAMPLE, stdio: 'inherit' });
  }
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** Runs `fn` holding a lock file, so test files running in parallel build one at a time. */
function withLock(path: string, fn: () => void): void {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      let holder: number;
      try {
        holder = Number(readFileSync(path, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      // A holder that died (or a lock older than the deadline) is broken; '' is being written.
      if ((holder > 0 && !isAlive(holder)) || Date.now() > deadline) rmSync(path, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    fn();
  } finally {
    rmSync(path, { force: true });
  }
}

// ---- environment ---------------------------------------------------------------------------

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
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

// ---- PM2 -----------------------------------------------------------------------------------

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

// ---- plain processes -----------------------------------------------------------------------

const spawned = new Set<ChildProcess>();

/** A process of ours, its output collected. */
export interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

export function start(script: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolveExit) =>
    child.on('exit', (code, signal) => {
      spawned.delete(child);
      resolveExit(code ?? signal);
    }),
  );
  return { child, output: () => out, exited };
}

/** Kills (SIGKILL) every process `start` started that is still running. */
export async function killStarted(): Promise<void> {
  const all = [...spawned];
  for (const child of all) child.kill('SIGKILL');
  await Promise.all(
    all.map(
      (c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r()))),
    ),
  );
}

// ---- HTTP ----------------------------------------------------------------------------------

export interface Reply<T = any> {
  status: number;
  body: T;
}

/** One HTTP request on a fresh connection (so PM2's cluster hands it to the next worker). */
export function http<T = any>(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  return new Promise((resolveHttp, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: data ? { 'content-type': 'application/json' } : {},
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          try {
            resolveHttp({ status: res.statusCode!, body: JSON.parse(text) as T });
          } catch (e) {
            reject(new Error(`${method} ${path}: not JSON: ${text} (${String(e)})`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

export interface WorkerInfo {
  peer: number;
  pid: number;
  instance: number | null;
  hub: boolean;
  httpRequests: number;
  ipcMessages: number;
  cacheKeys: number;
  invalidations: number;
}

/** GET /workers: every worker's stats, gathered over the channel by whichever worker answers. */
export async function workers(port: number): Promise<WorkerInfo[]> {
  const reply = await http<{ workers: WorkerInfo[] }>(port, 'GET', '/workers');
  if (reply.status !== 200)
    throw new Error(`GET /workers: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.workers;
}

/** Polls until `check` returns a value (not undefined/false), retrying on errors. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** Waits until GET /workers lists exactly `ids` (ascending), one hub among them. */
export function settledWorkers(port: number, ids: number[], timeoutMs = 60_000) {
  return eventually(
    async () => {
      const list = await workers(port);
      const peers = list.map((w) => w.peer);
      const hubs = list.filter((w) => w.hub).length;
      const complete = list.every((w) => typeof w.pid === 'number');
      return complete && JSON.stringify(peers) === JSON.stringify(ids) && hubs <= 1
        ? list
        : undefined;
    },
    `workers ${ids.join(',')}`,
    timeoutMs,
  );
}

// ---- traffic -------------------------------------------------------------------------------

export interface TrafficReport {
  type: 'progress' | 'summary';
  events: {
    sent: number;
    confirmed: number;
    lost: number;
    duplicated: number;
    misrouted: number;
    outOfOrder: number;
  };
  requests: {
    sent: number;
    answered: number;
    /** Sent again after PeerUnavailableError (the worker had just left; it was not sent). */
    retried: number;
    wrong: number;
    failed: number;
    answeredBy: Record<string, number>;
    errors: Record<string, number>;
  };
  workers: Record<
    string,
    {
      sent: number;
      confirmed: number;
      lost: number;
      duplicated: number;
      pids: number[];
      /** [pid, first, last] event number that process confirmed. */
      ranges: [number, number, number][];
    }
  >;
  ok?: boolean;
}

/** The sample's traffic tool (sample/dist/traffic.js), joined to the app's channel. */
export class Traffic {
  private readonly proc: Spawned;
  private buffer = '';
  readonly reports: TrafficReport[] = [];
  started: { workers: number[]; id: number } | undefined;

  constructor(env: Record<string, string>) {
    this.proc = start(join(SAMPLE, 'dist/traffic.js'), env);
    this.proc.child.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line) as { type: string };
        if (msg.type === 'start') this.started = msg as unknown as Traffic['started'];
        else this.reports.push(msg as TrafficReport);
      }
    });
  }

  get latest(): TrafficReport | undefined {
    return this.reports[this.reports.length - 1];
  }

  /** Waits until a progress report satisfies `check`. */
  until(
    check: (r: TrafficReport) => boolean,
    what: string,
    timeoutMs = 60_000,
  ): Promise<TrafficReport> {
    return eventually(
      async () => {
        if (this.proc.child.exitCode !== null)
          throw new Error(`traffic exited early:\n${this.proc.output()}`);
        const r = this.latest;
        return r !== undefined && check(r) ? r : undefined;
      },
      what,
      timeoutMs,
    );
  }

  /** Stops sending, waits for the last confirmations, and returns the summary. */
  async stop(): Promise<TrafficReport> {
    this.proc.child.kill('SIGINT');
    const code = await this.proc.exited;
    const summary = this.reports.find((r) => r.type === 'summary');
    if (summary === undefined)
      throw new Error(`traffic gave no summary (exit ${code}):\n${this.proc.output()}`);
    return summary;
  }

  output(): string {
    return this.proc.output();
  }
}
