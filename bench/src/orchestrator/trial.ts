import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../shared/clock.js';
import { WORKER_MAIN } from '../shared/paths.js';
import { BOOT_ENV, type ProcSpec, type WorkerBoot } from '../shared/protocol.js';
import { forgetPid, trackPid } from './cleanup.js';
import type { ControlServer } from './control-server.js';
import type { Topology } from './topology.js';
import type { WorkerHandle } from './worker-handle.js';

export interface TrialContext {
  control: ControlServer;
  /** The bench run's private 0700 directory; each trial gets its own inside it. */
  root: string;
  /** Extra node flags for workers (--cpu-prof ...). */
  execArgv: string[];
  timeoutMs: number;
  verbose: boolean;
}

let trialCount = 0;

/**
 * One fresh set of processes for one measurement: started stage by stage, synced, used, and
 * always torn down (workers asked to exit, then SIGKILLed, then the directory removed), so no
 * state and no process leaks from one measurement into the next.
 */
export class Trial {
  private readonly handles = new Map<string, WorkerHandle>();
  private readonly children = new Map<string, ChildProcess>();
  private readonly output = new Map<string, string>();

  private constructor(
    private readonly ctx: TrialContext,
    readonly id: string,
    readonly dir: string,
  ) {}

  static async start(ctx: TrialContext, topology: Topology): Promise<Trial> {
    const id = `t${++trialCount}`;
    const trial = new Trial(ctx, id, mkdtempSync(join(ctx.root, `${id}-`)));
    try {
      for (const stage of topology.stages) {
        const specs = stage(trial.infos());
        for (const spec of specs) if (spec.spawnedBy === undefined) trial.spawn(spec, specs);
        await trial.waitReady(specs.map((s) => s.name));
      }
      await Promise.all([...trial.handles.keys()].map((name) => trial.call(name, 'sync')));
      return trial;
    } catch (e) {
      await trial.close();
      throw trial.explain(e);
    }
  }

  call<T = any>(name: string, op: string, args: Record<string, unknown> = {}): Promise<T> {
    return this.handle(name).call<T>(op, args, this.ctx.timeoutMs);
  }

  /** Every process of the trial that has said hello, grandchildren included. */
  pids(): number[] {
    return [...this.handles.values()].flatMap((h) => (h.pid === undefined ? [] : [h.pid]));
  }

  info(name: string): Record<string, unknown> {
    return this.handle(name).info;
  }

  pid(name: string): number {
    const pid = this.handle(name).pid;
    if (pid === undefined) throw new Error(`${name} has no pid yet`);
    return pid;
  }

  /** Kills one process on purpose (failover): its death is then not a failure. */
  kill(name: string, signal: NodeJS.Signals): void {
    const handle = this.handle(name);
    handle.closing = true;
    process.kill(this.pid(name), signal);
  }

  /** Adds what the trial's processes printed to an error, which is where the cause usually is. */
  explain(e: unknown): Error {
    const error = e instanceof Error ? e : new Error(String(e));
    const printed = [...this.output].filter(([, text]) => text.trim() !== '');
    if (printed.length > 0) {
      error.message +=
        '\n' +
        printed.map(([name, text]) => `  --- ${name} printed:\n${text.trimEnd()}`).join('\n');
    }
    return error;
  }

  async close(): Promise<void> {
    for (const handle of this.handles.values()) {
      handle.closing = true;
      handle.call('exit', {}, 1000).catch(() => {});
    }
    const exits = [...this.children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once('exit', () => resolve());
        }),
    );
    await Promise.race([Promise.all(exits), sleep(2000)]);
    for (const handle of this.handles.values()) {
      if (handle.pid === undefined) continue;
      try {
        process.kill(handle.pid, 'SIGKILL');
      } catch {
        // exited already
      }
      forgetPid(handle.pid);
    }
    for (const handle of this.handles.values()) this.ctx.control.forget(handle.key);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private handle(name: string): WorkerHandle {
    const handle = this.handles.get(name);
    if (handle === undefined) throw new Error(`trial ${this.id} has no process '${name}'`);
    return handle;
  }

  private infos(): Record<string, Record<string, unknown>> {
    return Object.fromEntries([...this.handles].map(([name, h]) => [name, h.info]));
  }

  private boot(spec: ProcSpec): WorkerBoot {
    const key = `${this.id}/${spec.name}`;
    this.handles.set(spec.name, this.ctx.control.expect(key));
    return { spec, key, control: this.ctx.control.path, dir: this.dir };
  }

  /** Starts a worker; the workers it forks itself are handed to it as `options.children`. */
  private spawn(spec: ProcSpec, stage: ProcSpec[]): void {
    const children = stage.filter((s) => s.spawnedBy === spec.name).map((s) => this.boot(s));
    const boot = this.boot(
      children.length > 0 ? { ...spec, options: { ...spec.options, children } } : spec,
    );
    const child = spawn(process.execPath, [...this.ctx.execArgv, WORKER_MAIN], {
      env: { ...process.env, [BOOT_ENV]: JSON.stringify(boot) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) trackPid(child.pid);
    this.children.set(spec.name, child);
    this.output.set(spec.name, '');
    const keep = (chunk: Buffer) => {
      if (this.ctx.verbose) process.stderr.write(chunk);
      // The tail is enough to explain a failure; a chatty worker must not grow memory.
      this.output.set(spec.name, (this.output.get(spec.name)! + chunk.toString()).slice(-4000));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const handle = this.handles.get(spec.name)!;
    child.on('exit', (code, signal) => {
      if (child.pid !== undefined) forgetPid(child.pid);
      handle.fail(new Error(`${spec.name} exited (${code ?? signal})`));
    });
  }

  private async waitReady(names: string[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not ready within ${this.ctx.timeoutMs} ms: ${names.join(', ')}`)),
        this.ctx.timeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all(names.map((n) => this.handle(n).ready)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
