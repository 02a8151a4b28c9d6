import type { Shape, Topology } from '../orchestrator/topology.js';

/** What a competitor may need from the bench run (a broker started for it). */
export interface RunEnv {
  /** The private redis-server, when one is running: `redis://127.0.0.1:<port>`. */
  redisUrl?: string;
  redisPort?: number;
  /** Empties that Redis after a trial that used it. */
  flushRedis?: () => Promise<void>;
  /** Processes serving the bench besides the workers (redis-server): their CPU is ours. */
  servicePids?: number[];
}

/** One row of the results: a transport, laid out a certain way. */
export interface Competitor {
  key: string;
  label: string;
  /** Whether it is this library (channel core, Nest IPC) or something to compare against. */
  family: 'channel' | 'nest-ipc' | 'reference';
  /** Measured in full mode only (a comparison the quick smoke run has no time for). */
  fullOnly?: boolean;
  /** Runs only with the bench's redis-server (started when a row needing it runs). */
  needsRedis?: boolean;
  /** The scenario keys it runs (every scenario when absent): rows made for one target. */
  scenarios?: string[];
  /** Why it cannot run on this machine (printed as a note), or undefined. */
  unavailable?(): string | undefined;
  topology(shape: Shape, env: RunEnv): Topology;
}
