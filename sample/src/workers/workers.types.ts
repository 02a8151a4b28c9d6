import type { PeerId } from 'nestjs-ipc-channel';

/** One worker's answer to `stats`. */
export interface WorkerInfo {
  /** Peer id on the channel (under PM2: NODE_APP_INSTANCE + 1). */
  peer: number;
  pid: number;
  /** PM2's instance number, when run by PM2. */
  instance: number | null;
  /** Whether this worker hosts the channel's hub right now. */
  hub: boolean;
  uptimeSec: number;
  rssMiB: number;
  heapUsedMiB: number;
  httpRequests: number;
  ipcMessages: number;
  cacheKeys: number;
  invalidations: number;
}

/** A worker's answer to `ping`. */
export interface Pong {
  peer: number;
  pid: number;
  /** Who sent the ping. */
  from: PeerId;
  data: unknown;
}
