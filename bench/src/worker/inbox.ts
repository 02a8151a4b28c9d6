import { msToSharedNs, nowMs, nowNs } from '../shared/clock.js';
import type { BenchPayload } from '../shared/payload.js';

/**
 * The receiving side's bookkeeping. The hot path (event) is a counter and one cheap clock
 * read; the shared-clock time of the last arrival is computed only when asked for.
 */
export class Inbox {
  private count = 0;
  private lastMs = 0;
  private waiter: { count: number; resolve: () => void } | undefined;
  private readonly ticks = new TickLog();

  event(p: BenchPayload): void {
    this.count++;
    this.lastMs = nowMs();
    if (p.t !== undefined) this.ticks.add(p);
    if (this.waiter !== undefined && this.count >= this.waiter.count) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }

  reset(): void {
    this.count = 0;
  }

  get received(): number {
    return this.count;
  }

  /** Resolves once `count` events have arrived since the last reset, with the last one's time. */
  async waitFor(count: number): Promise<{ lastNs: number; received: number }> {
    if (this.count < count) {
      await new Promise<void>((resolve) => (this.waiter = { count, resolve }));
    }
    return { lastNs: msToSharedNs(this.lastMs), received: this.count };
  }

  get tickLog(): TickLog {
    return this.ticks;
  }
}

/**
 * Failover ticks: every arrival with its send time, plus the checks that matter across a hub
 * death — numbers missing (lost) or seen twice (duplicated).
 */
export class TickLog {
  private readonly arrivals: { sentNs: number; recvNs: number }[] = [];
  private lastN = -1;
  missing = 0;
  duplicated = 0;
  private waiters: (() => void)[] = [];

  add(p: BenchPayload): void {
    this.arrivals.push({ sentNs: p.t!, recvNs: nowNs() });
    if (p.n <= this.lastN) this.duplicated++;
    else {
      this.missing += p.n - this.lastN - 1;
      this.lastN = p.n;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The first tick sent at or after `sinceNs`, as soon as it has arrived. */
  async firstSentAfter(sinceNs: number): Promise<{ sentNs: number; recvNs: number }> {
    for (;;) {
      const hit = this.arrivals.find((a) => a.sentNs >= sinceNs);
      if (hit !== undefined) return hit;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once tick number `n` (or a later one) has arrived. */
  async reached(n: number): Promise<{ lastN: number; missing: number; duplicated: number }> {
    while (this.lastN < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return { lastN: this.lastN, missing: this.missing, duplicated: this.duplicated };
  }
}
