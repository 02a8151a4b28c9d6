import type { Socket } from 'node:net';
import type { Call, FromWorker } from '../shared/protocol.js';

/** The orchestrator's handle on one worker: its readiness, its calls, its failure. */
export class WorkerHandle {
  pid: number | undefined;
  info: Record<string, unknown> = {};
  readonly ready: Promise<Record<string, unknown>>;
  private socket: Socket | undefined;
  private nextRid = 1;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private markReady!: (info: Record<string, unknown>) => void;
  private failReady!: (e: Error) => void;
  private failure: Error | undefined;
  /** Set while a trial tears down: a worker dying then is expected. */
  closing = false;

  constructor(readonly key: string) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {}); // observed through call() or Trial.start
  }

  attach(socket: Socket, pid: number): void {
    this.socket = socket;
    this.pid = pid;
    socket.on('close', () => this.fail(new Error(`${this.key} disconnected (exited?)`)));
  }

  onMessage(message: FromWorker): void {
    if (message.t === 'ready') {
      this.info = message.info;
      this.markReady(message.info);
    } else if (message.t === 'reply') {
      const call = this.calls.get(message.rid);
      this.calls.delete(message.rid);
      if (message.ok) call?.resolve(message.value);
      else call?.reject(new Error(`${this.key}: ${message.error}`));
    } else if (message.t === 'fatal') {
      this.fail(new Error(`${this.key} failed: ${message.error}`));
    }
  }

  call<T = any>(op: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.socket === undefined) return Promise.reject(new Error(`${this.key} is not connected`));
    const rid = this.nextRid++;
    const message: Call = { t: 'call', rid, op, args };
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(rid);
        reject(new Error(`${this.key}: '${op}' took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.calls.set(rid, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket!.write(JSON.stringify(message) + '\n');
    });
  }

  /** Fails readiness and every pending call (unless the trial is tearing down anyway). */
  fail(error: Error): void {
    if (this.failure !== undefined || this.closing) return;
    this.failure = error;
    this.failReady(error);
    for (const call of this.calls.values()) call.reject(error);
    this.calls.clear();
  }
}
