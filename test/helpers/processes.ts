import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { testBuildDir } from './build-dir.js';

// Also importable from here, as the chaos, nest, pm2 and election suites do.
export { tempDir } from './temp-dir.js';
export { sleep, until } from './wait.js';
export { publicEndpoint } from './endpoint.js';

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
      for (const w of this.waiters) w();
    });
  }

  /**
   * Starts `fixture` (a file in test/fixtures, compiled) and waits until it is ready.
   * `launcher`: a command that runs node for it (e.g. `unshare --pid --fork`), ending with node.
   */
  static async start(
    fixture: string,
    env: Record<string, string> = {},
    launcher?: readonly string[],
  ): Promise<Proc> {
    const proc = Proc.launch(fixture, env, launcher);
    await proc.waitEvent((e) => e.ev === 'ready', 20_000);
    return proc;
  }

  /** Starts `fixture` without waiting for it to be ready. */
  static launch(
    fixture: string,
    env: Record<string, string> = {},
    launcher?: readonly string[],
  ): Proc {
    const child = fork(join(FIXTURES, fixture), [], {
      ...(launcher === undefined
        ? { execArgv: [] }
        : { execPath: launcher[0], execArgv: [...launcher.slice(1), process.execPath] }),
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
    return this.waitFor(() => this.events.find(match), 'an event', timeoutMs);
  }

  /** How many times the process has written `text` to stderr so far. */
  stderrCount(text: string): number {
    return this.stderr.join('').split(text).length - 1;
  }

  /**
   * Resolves once the process has written `text` to stderr (a fixture logs there when its
   * environment asks it to): for what a process does that it reports in no other way.
   */
  async waitStderr(text: string, timeoutMs = 20_000): Promise<void> {
    await this.waitFor(() => this.stderr.join('').includes(text) || undefined, text, timeoutMs);
  }

  private waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolveWait, reject) => {
      const check = () => {
        const hit = find();
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
            `timed out waiting for ${what} in process ${this.pid}\n${this.stderr.join('')}`,
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
