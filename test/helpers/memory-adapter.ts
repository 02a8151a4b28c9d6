import type {
  AdapterContext,
  FederationAdapter,
  InboxEntry,
} from '../../src/channel/federation/federation-adapter.js';

/** One host's inbox: its entries in order, and which of them were read but not acknowledged. */
interface Inbox {
  readonly entries: InboxEntry[];
  /** Index of the first entry never read (like a Redis consumer group's last-delivered id). */
  delivered: number;
  /** Ids read and not acknowledged: read again first by the host's next reader. */
  readonly pending: Set<string>;
  readonly acked: Set<string>;
  /** Readers blocked on this inbox, woken by an append. */
  readonly waiters: Set<() => void>;
}

interface Lease {
  holder: number;
  until: number;
  epoch: number;
}

/**
 * The shared store of the tests: what Redis is to real hosts, in this process. Every
 * MemoryAdapter made from it sees the same inboxes, host views and lease. `down` makes every
 * call of every adapter fail (a store outage), until it is set back.
 */
export class MemoryStore {
  readonly inboxes = new Map<string, Inbox>();
  readonly hosts = new Map<string, { view: Buffer; until: number }>();
  lease: Lease | undefined;
  private nextId = 1;
  private nextHolder = 1;
  private outage = false;
  /** Every append, in order: (host, batch), for tests that look at what crossed. */
  readonly appended: { host: string; batch: Buffer }[] = [];

  get down(): boolean {
    return this.outage;
  }

  set down(value: boolean) {
    this.outage = value;
    if (!value) for (const inbox of this.inboxes.values()) wake(inbox);
  }

  /**
   * An adapter for one host of `channel`, as the bridge's `adapter` option makes it (bound:
   * `federation: { adapter: store.adapter }` works, as does `store.factory`).
   */
  readonly adapter = (ctx: AdapterContext): MemoryAdapter => {
    const adapter = new MemoryAdapter(this, ctx, this.nextHolder++);
    this.adapters.push(adapter);
    return adapter;
  };

  /** Every adapter made, in order. */
  readonly adapters: MemoryAdapter[] = [];

  /** Calls of `method` made by every adapter of `host`. */
  calls(host: string, method: string): number {
    let n = 0;
    for (const a of this.adapters) if (a.ctx.host === host) n += a.calls.get(method) ?? 0;
    return n;
  }

  /** The factory to pass as FederationOptions.adapter. */
  readonly factory = (ctx: AdapterContext): FederationAdapter => this.adapter(ctx);

  inbox(host: string): Inbox {
    let inbox = this.inboxes.get(host);
    if (inbox === undefined) {
      inbox = {
        entries: [],
        delivered: 0,
        pending: new Set(),
        acked: new Set(),
        waiters: new Set(),
      };
      this.inboxes.set(host, inbox);
    }
    return inbox;
  }

  /** Adds an entry to `host`'s inbox directly (a forged or replayed batch, in tests). */
  push(host: string, batch: Buffer): string {
    const inbox = this.inbox(host);
    const id = `${this.nextId++}-0`;
    inbox.entries.push({ id, batch: Buffer.from(batch) });
    this.appended.push({ host, batch });
    wake(inbox);
    return id;
  }

  /** Entries of `host`'s inbox not yet acknowledged. */
  unacked(host: string): number {
    const inbox = this.inboxes.get(host);
    if (inbox === undefined) return 0;
    return inbox.entries.filter((e) => !inbox.acked.has(e.id)).length;
  }

  /** Throws while the store is down: every adapter call fails then. */
  check(): void {
    if (this.outage) throw new Error('memory store is down');
  }
}

function wake(inbox: Inbox): void {
  for (const w of [...inbox.waiters]) w();
}

/** A FederationAdapter over a MemoryStore, for one host. */
export class MemoryAdapter implements FederationAdapter {
  private closed = false;
  /** Until the pending entries have been read once by this adapter, read those first. */
  private pendingCursor: number | undefined = 0;
  private wakeRead: (() => void) | undefined;
  /** Calls made, by method name (tests assert batching and retries with them). */
  readonly calls = new Map<string, number>();

  constructor(
    private readonly store: MemoryStore,
    readonly ctx: AdapterContext,
    private readonly holder: number,
  ) {}

  private enter(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    if (this.closed) throw new Error('adapter closed');
    this.store.check();
  }

  connect(): Promise<void> {
    return this.run('connect', () => {});
  }

  append(host: string, batch: Buffer): Promise<void> {
    return this.run('append', () => void this.store.push(host, batch));
  }

  async read(max: number, blockMs: number): Promise<InboxEntry[]> {
    this.enter('read');
    const inbox = this.store.inbox(this.ctx.host);
    if (this.pendingCursor !== undefined) {
      const pending = inbox.entries
        .slice(0, inbox.delivered)
        .filter((e) => inbox.pending.has(e.id));
      const page = pending.slice(this.pendingCursor, this.pendingCursor + max);
      if (page.length > 0) {
        this.pendingCursor += page.length;
        return page;
      }
      this.pendingCursor = undefined;
    }
    if (inbox.delivered >= inbox.entries.length && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          inbox.waiters.delete(done);
          this.wakeRead = undefined;
          resolve();
        };
        const timer = setTimeout(done, blockMs);
        inbox.waiters.add(done);
        this.wakeRead = done;
      });
      this.enter('read-wake');
    }
    const page = inbox.entries.slice(inbox.delivered, inbox.delivered + max);
    inbox.delivered += page.length;
    for (const e of page) inbox.pending.add(e.id);
    return page;
  }

  ack(ids: readonly string[]): Promise<void> {
    return this.run('ack', () => {
      const inbox = this.store.inbox(this.ctx.host);
      for (const id of ids) {
        inbox.pending.delete(id);
        inbox.acked.add(id);
      }
    });
  }

  publishHost(view: Buffer, ttlMs: number): Promise<void> {
    return this.run('publishHost', () => {
      this.store.hosts.set(this.ctx.host, { view: Buffer.from(view), until: Date.now() + ttlMs });
    });
  }

  readHosts(): Promise<Map<string, Buffer>> {
    return this.run('readHosts', () => {
      const now = Date.now();
      const views = new Map<string, Buffer>();
      for (const [host, { view, until }] of this.store.hosts)
        if (until > now) views.set(host, view);
      return views;
    });
  }

  withdrawHost(): Promise<void> {
    return this.run('withdrawHost', () => void this.store.hosts.delete(this.ctx.host));
  }

  lease(ttlMs: number): Promise<number | undefined> {
    return this.run('lease', () => {
      const now = Date.now();
      const lease = this.store.lease;
      if (lease !== undefined && lease.until > now && lease.holder !== this.holder)
        return undefined;
      if (lease !== undefined && lease.holder === this.holder && lease.until > now) {
        lease.until = now + ttlMs;
        return lease.epoch;
      }
      const epoch = Math.max((lease?.epoch ?? 0) + 1, now);
      this.store.lease = { holder: this.holder, until: now + ttlMs, epoch };
      return epoch;
    });
  }

  releaseLease(): Promise<void> {
    return this.run('releaseLease', () => {
      if (this.store.lease?.holder === this.holder) this.store.lease = undefined;
    });
  }

  close(): Promise<void> {
    this.closed = true;
    this.wakeRead?.();
    return Promise.resolve();
  }

  private run<T>(method: string, fn: () => T): Promise<T> {
    try {
      this.enter(method);
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
}
