import { Injectable } from '@nestjs/common';
import { IpcClient, type PeerId } from 'nestjs-ipc-channel';
import { lastValueFrom } from 'rxjs';

/** `cache.invalidate` tells a worker to drop a key; `ref` identifies the invalidation. */
export interface Invalidate {
  key: string;
  ref: string;
}

/** `cache.invalidated`: a worker's confirmation, sent back to whoever asked. */
export interface Invalidated {
  ref: string;
  key: string;
  peer: number;
  pid: number;
  had: boolean;
}

export interface InvalidationResult {
  /** Peer ids that confirmed they dropped the key, ascending. */
  confirmedBy: number[];
  /** Peers that were in the channel but did not confirm within the wait. */
  missing: number[];
}

interface Waiting {
  readonly expected: Set<number>;
  readonly confirmed: Set<number>;
  readonly done: () => void;
}

/** How long DELETE waits for the other workers to confirm an invalidation. */
const CONFIRM_WAIT_MS = 2000;

/**
 * This worker's in-memory cache. Every worker has its own: a value stored through one worker is
 * not seen by the others, which is why a delete has to reach all of them.
 */
@Injectable()
export class CacheService {
  private readonly entries = new Map<string, { value: unknown; storedAt: string }>();
  private readonly waiting = new Map<string, Waiting>();
  private nextRef = 1;
  /** Invalidations this worker received (from any worker, itself included). */
  invalidations = 0;

  constructor(private readonly ipc: IpcClient) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): { value: unknown; storedAt: string } | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: unknown): void {
    this.entries.set(key, { value, storedAt: new Date().toISOString() });
  }

  /** Drops a key from this worker only (what a `cache.invalidate` event does). */
  drop(key: string): boolean {
    this.invalidations++;
    return this.entries.delete(key);
  }

  /**
   * Drops a key on every worker: one `cache.invalidate` event to every peer of the channel (this
   * worker included), then waits for their `cache.invalidated` confirmations.
   */
  async invalidateEverywhere(key: string): Promise<InvalidationResult> {
    await this.ipc.connect();
    const ref = `${this.ipc.id}:${process.pid}:${this.nextRef++}`;
    const waiting: Waiting = {
      // The sample runs on one host: every peer id is a number.
      expected: new Set(this.ipc.peers as number[]),
      confirmed: new Set(),
      done: () => {},
    };
    const settled = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CONFIRM_WAIT_MS);
      Object.assign(waiting, {
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
    this.waiting.set(ref, waiting);
    try {
      const event: Invalidate = { key, ref };
      await lastValueFrom(this.ipc.emit('cache.invalidate', event), { defaultValue: undefined });
      await settled;
    } finally {
      this.waiting.delete(ref);
    }
    const confirmedBy = [...waiting.confirmed].sort((a, b) => a - b);
    const missing = [...waiting.expected]
      .filter((peer) => !waiting.confirmed.has(peer))
      .sort((a, b) => a - b);
    return { confirmedBy, missing };
  }

  /** A peer confirmed an invalidation this worker started. */
  confirmed(ack: Invalidated, sender: PeerId): void {
    const waiting = this.waiting.get(ack.ref);
    if (waiting === undefined) return;
    waiting.confirmed.add(sender as number);
    if ([...waiting.expected].every((peer) => waiting.confirmed.has(peer))) waiting.done();
  }
}
