import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Channel } from '../../src/channel/channel.js';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { testBuildDir } from './build-dir.js';

/** Where the global setup compiled the fixtures. */
export const FIXTURES = join(testBuildDir(), 'test/fixtures');

export interface ChildEvent {
  ev: string;
  [key: string]: unknown;
}

/** An error (or any thrown value) from a fixture process; `payload` is all of it. */
export class RemoteError extends Error {
  constructor(
    readonly remoteName: string,
    readonly code: string | undefined,
    message: string,
    readonly payload: unknown,
  ) {
    super(message);
  }
}

const live = new Set<Proc>();

/** A real Node process running a fixture, driven over fork IPC. */
export class Proc {
  readonly events: ChildEvent[] = [];
  readonly stderr: string[] = [];
  exitCode: number | null | undefined;
  signal: NodeJS.Signals | null | undefined;
  private readonly replies = new Map<number, (msg: Record<string, unknown>) => void>();
  private readonly waiters = new Set<() => void>();
  private nextRid = 1;
  readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolveExit) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        live.delete(this);
        // Calls still waiting will never be answered: fail them now, not at their timeout.
        for (const reply of this.replies.values()) {
          reply({
            ok: false,
            error: { name: 'Error', message: `process ${child.pid} exited (${signal ?? code})` },
          });
        }
        this.replies.clear();
        resolveExit();
        for (const w of this.waiters) w();
      });
    });
    child.on('message', (raw) => {
      const msg = raw as Record<string, unknown>;
      if (typeof msg.rid === 'number') {
        this.replies.get(msg.rid)?.(msg);
        this.replies.delete(msg.rid);
        return;
      }
      this.events.push(msg as ChildEvent);
      for (const w of this.waiters) w();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr.push(d.toString());
      if (process.env.SHOW_CHILD_STDERR) process.stderr.write(d);
    });
  }

  /** Starts `fixture` (a file in test/fixtures, compiled) and waits until it is ready. */
  static async start(fixture: string, env: Record<string, string> = {}): Promise<Proc> {
    const proc = Proc.launch(fixture, env);
    await proc.waitEvent((e) => e.ev === 'ready', 20_000);
    return proc;
  }

  /** Starts `fixture` without waiting for it to be ready. */
  static launch(fixture: string, env: Record<string, string> = {}): Proc {
    const child = fork(join(FIXTURES, fixture), [], {
      execArgv: [],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const proc = new Proc(child);
    live.add(proc);
    return proc;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  call<T = unknown>(
    op: string,
    args: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`process ${this.pid} has exited`));
    const rid = this.nextRid++;
    return new Promise<T>((resolveCall, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(rid);
        reject(
          new Error(
            `${op} timed out after ${timeoutMs} ms in process ${this.pid}\n${this.stderr.join('')}`,
          ),
        );
      }, timeoutMs);
      this.replies.set(rid, (msg) => {
        clearTimeout(timer);
        if (msg.ok) resolveCall(msg.result as T);
        else {
          const e = msg.error as { name: string; code?: string; message: string };
          reject(new RemoteError(e?.name, e?.code, e?.message ?? String(e), e));
        }
      });
      this.child.send({ rid, op, ...args });
    });
  }

  /** Resolves with the first event (past or future) that matches. */
  waitEvent(match: (e: ChildEvent) => boolean, timeoutMs = 20_000): Promise<ChildEvent> {
    return new Promise((resolveWait, reject) => {
      const check = () => {
        const hit = this.events.find(match);
        if (hit !== undefined) {
          done();
          resolveWait(hit);
        } else if (!this.alive) {
          done();
          reject(new Error(`process ${this.pid} exited while waiting\n${this.stderr.join('')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out waiting for an event in process ${this.pid}\n${this.stderr.join('')}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Kills the process (SIGKILL by default) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }
}

/** Starts `n` processes in parallel. */
export function startMany(
  n: number,
  fixture: string,
  env: (i: number) => Record<string, string>,
): Promise<Proc[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => Proc.start(fixture, env(i))));
}

/** Kills every fixture process still running (tests call this in afterEach). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

/** A fresh private directory (mode 0700, short path) for one test's sockets. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync('/tmp/ipct-');
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * For a test file whose tests open Channels in this process: a fresh directory per test
 * (`sandbox.dir.path`); after each test, every Channel pushed to `sandbox.open` is closed, then
 * `afterClose` runs, then the directory is removed. Call once, at the top of the file.
 */
export function channelSandbox(afterClose?: () => Promise<void>): {
  readonly dir: ReturnType<typeof tempDir>;
  readonly open: Channel[];
} {
  let dir: ReturnType<typeof tempDir> | undefined;
  const open: Channel[] = [];
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await afterClose?.();
    dir?.remove();
  });
  return {
    get dir() {
      if (dir === undefined) throw new Error('channelSandbox: the directory exists only in a test');
      return dir;
    },
    open,
  };
}

/** Polls `check` until it returns a truthy value. */
export async function until<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The endpoint kind this run of the suite uses: `npm run test:tcp` sets NESTJS_IPC_TRANSPORT=tcp,
 * which every Channel (in fixtures and in tests) honours; otherwise Unix sockets.
 */
export const TRANSPORT: 'unix' | 'tcp' =
  process.env.NESTJS_IPC_TRANSPORT === 'tcp' ? 'tcp' : 'unix';

/** The public endpoint file of the one channel in `dir`: `<base>.sock`, or `<base>.tcp` under tcp. */
export function publicEndpoint(dir: string): string {
  const ext = TRANSPORT === 'tcp' ? '.tcp' : '.sock';
  const name = readdirSync(dir).find((f) => f.endsWith(ext));
  if (name === undefined)
    throw new Error(`no ${ext} file in ${dir}: ${readdirSync(dir).join(', ')}`);
  return join(dir, name);
}

/** A connection to the live hub of channel `name` in `dir`, as a peer opens it (past the tcp token proof). */
export async function openHubSocket(name: string, dir: string): Promise<Socket> {
  const outcome = await resolveEndpoint(name, { dir, transport: TRANSPORT }).connect();
  if (outcome.socket === undefined) throw new Error(`cannot reach the hub: ${outcome.code}`);
  return outcome.socket;
}
