import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { IpcClient, IpcLeadership, LeaderOnly } from 'nestjs-ipc-channel';
import type { WarmUp } from './warm-up.types.js';

/** How often the cluster warms its caches (WARM_UP_MS, default 2 s). */
const PERIOD_MS = Number(process.env.WARM_UP_MS ?? 2000);
/** How many received warm-ups a worker remembers for GET /leader. */
const KEEP = 50;

/**
 * A periodic job that must run once per cluster, not once per worker: the leader computes the
 * warm data (here, only a timestamp) and sends it to every worker's cache. Every worker has the
 * timer; `@LeaderOnly()` skips it on all but the leader, and it moves on if the leader dies.
 */
@Injectable()
export class CacheWarmUp {
  /** Warm-ups this worker ran as leader. */
  ran = 0;
  /** The last warm-ups this worker received, oldest first: its warm data. */
  readonly received: WarmUp[] = [];

  constructor(
    private readonly ipc: IpcClient,
    private readonly leadership: IpcLeadership,
  ) {}

  @Interval(PERIOD_MS)
  @LeaderOnly()
  warmUp(): void {
    const warm: WarmUp = {
      by: this.ipc.id!,
      pid: process.pid,
      epoch: this.leadership.epoch,
      run: ++this.ran,
      at: Date.now(),
    };
    this.ipc.emit('cache.warm', warm); // every worker, this one included
  }

  /** A worker received the leader's warm-up. */
  receive(warm: WarmUp): void {
    this.received.push(warm);
    if (this.received.length > KEEP) this.received.shift();
  }
}
