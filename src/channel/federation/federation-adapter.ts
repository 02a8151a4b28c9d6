/**
 * What the bridge between hosts needs from a shared store. Redis Streams is the first
 * implementation (./redis/redis-adapter.ts); NATS JetStream or another durable log can follow
 * without touching the hub or the bridge.
 *
 * Every host has an inbox: a durable, ordered log that other hosts append batches to and that
 * only this host's bridge reads. An entry read and not acknowledged is read again by the next
 * bridge of the host (after a hub failover, a crash or a reconnect), so a batch may be read twice
 * but never lost; receivers drop the copies by the origin's incarnation and sequence.
 *
 * Batches, host views and everything else are opaque bytes to the adapter: authentication and
 * framing are the bridge's.
 */
export interface FederationAdapter {
  /**
   * Connects, and keeps reconnecting in the background after any loss. Resolves once the first
   * connection is usable; rejects only for what will not cure itself (bad options).
   */
  connect(): Promise<void>;

  /**
   * Appends one batch to `host`'s inbox. Resolves once the store has it (as durably as the store
   * is configured to keep it); rejects on failure, and the bridge appends the same batch again.
   * Calls for one host are made one at a time, so that batches keep their order.
   */
  append(host: string, batch: Buffer): Promise<void>;

  /**
   * Reads this host's inbox: first every entry read before and not acknowledged (after a
   * restart, a failover or a reconnect), in order, then new entries. Waits up to `blockMs` when
   * there is nothing; resolves with an empty array then. One call at a time.
   */
  read(max: number, blockMs: number): Promise<InboxEntry[]>;

  /** Acknowledges entries delivered on this host: they are never read again. */
  ack(ids: readonly string[]): Promise<void>;

  /** Publishes this host's view (its members), valid for `ttlMs` unless published again. */
  publishHost(view: Buffer, ttlMs: number): Promise<void>;

  /** Every host's view that has not expired, this host's included, by host name. */
  readHosts(): Promise<Map<string, Buffer>>;

  /** Removes this host's view at once (a clean shutdown of its last process). */
  withdrawHost(): Promise<void>;

  /**
   * Takes or renews the lease on the channel's leadership for this adapter (one holder token per
   * adapter instance), for `ttlMs` from the store's own clock. Resolves with the fencing epoch
   * while held: it only rises from one holder to the next, never below the wall clock in
   * milliseconds, and stays the same across renewals by the same holder. Resolves undefined when
   * another holder has it.
   */
  lease(ttlMs: number): Promise<number | undefined>;

  /** Gives the lease up if this adapter holds it. */
  releaseLease(): Promise<void>;

  /** Closes every connection; pending calls reject. */
  close(): Promise<void>;
}

/** One entry of a host's inbox. */
export interface InboxEntry {
  /** The store's id of the entry, passed back to ack(). */
  readonly id: string;
  readonly batch: Buffer;
}

/** What an adapter is made for: one channel, seen from one host. */
export interface AdapterContext {
  readonly channel: string;
  readonly host: string;
  /** Prefix of every key or subject the adapter uses (FederationOptions.prefix). */
  readonly prefix: string;
}
