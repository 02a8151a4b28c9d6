/**
 * What the orchestrator and the worker processes say to each other. The control plane is a
 * Unix socket of the orchestrator's, separate from every transport under test, so that it
 * never shares a pipe with measured traffic (child_process IPC is itself a competitor) and so
 * that grandchildren (the children a child_process IPC parent forks) reach it as well.
 */

/** The transports a worker can load; see transports/index.ts. */
export type TransportName =
  'channel' | 'nest-ipc' | 'raw-uds' | 'raw-relay' | 'nest-tcp' | 'nest-redis' | 'child-ipc';

/** Requests with responses, or one-way events: decides what a receiving endpoint does. */
export type Traffic = 'rr' | 'events';

/** One process of a trial, as the orchestrator describes it. */
export interface ProcSpec {
  /** Unique within the trial: 'client', 'server', 'recv-2', 'hub'... */
  name: string;
  transport: TransportName;
  traffic: Traffic;
  /** Transport-specific settings (socket path, peer ids, ports...). */
  options: Record<string, unknown>;
  /** Set when another worker forks this one (child_process IPC); the orchestrator does not spawn it. */
  spawnedBy?: string;
}

/** What a worker finds in its BENCH_WORKER environment variable. */
export interface WorkerBoot {
  spec: ProcSpec;
  /** Unique across the whole bench run: `<trial>/<name>`. */
  key: string;
  /** The orchestrator's control socket. */
  control: string;
  /** A private 0700 directory for this trial's sockets. */
  dir: string;
}

export const BOOT_ENV = 'BENCH_WORKER';

/** Worker → orchestrator. */
export type FromWorker =
  | { t: 'hello'; key: string; pid: number }
  | { t: 'ready'; info: Record<string, unknown> }
  | { t: 'reply'; rid: number; ok: true; value: unknown }
  | { t: 'reply'; rid: number; ok: false; error: string }
  | { t: 'fatal'; error: string };

/** Orchestrator → worker. */
export interface Call {
  t: 'call';
  rid: number;
  op: string;
  args: Record<string, unknown>;
}

/** Newline-delimited JSON on a stream: the control plane is low-volume, so simple wins. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    const text = rest + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      if (nl > start) onLine(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  };
}
