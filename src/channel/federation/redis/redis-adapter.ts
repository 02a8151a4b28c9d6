import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ChannelClosedError } from '../../errors.js';
import type { AdapterContext, FederationAdapter, InboxEntry } from '../federation-adapter.js';
import { InboxReader } from './inbox-reader.js';
import { checkVersion, createConnection, untilReady } from './redis-connection.js';
import { type RedisKeys, redisKeys } from './redis-keys.js';
import { type ScriptedRedis, withScripts } from './redis-scripts.js';
import { RedisStoreError } from './redis-store-error.js';

/** Ids acknowledged per XACK at most. */
const ACK_CHUNK = 1000;
/** Acknowledged entries are trimmed from the inbox after this many acks... */
const TRIM_EVERY_ACKS = 256;
/** ...or this long after the last trim, whichever comes first. */
const TRIM_EVERY_MS = 2000;

/**
 * The federation's store on Redis (6.2+) through ioredis, the default when
 * `federation.redis` is set.
 *
 * - Each host's inbox is a stream, `${prefix}:${channel}:inbox:${host}`, read through the
 *   consumer group of the adapter reading it (`bridge:<token>`, named in `…:reader:${host}`),
 *   by the consumer named after the host. The next adapter of the host replaces that group
 *   with its own, starting where the old one left entries read and not acked, so those are read
 *   again; a former reader (its hub hung, then woke) has no group left to take entries from.
 *   Acknowledged entries are trimmed.
 * - Host views are strings with a TTL (`…:host:${host}`), listed by a sorted set (`…:hosts`)
 *   scored by expiry, so that listing them needs no SCAN.
 * - The lease is `…:leader` (a token per adapter, with a TTL) and its fencing epoch `…:epoch`,
 *   both changed by Lua scripts only.
 *
 * Two connections: one for commands, one for the blocking read of the inbox (see InboxReader).
 * A call in flight when the connection drops is resent once Redis is back; calls made while it
 * is away fail after a few reconnects (see createConnection), and the bridge retries them.
 * close() rejects whatever still waits.
 */
export class RedisAdapter implements FederationAdapter {
  private readonly keys: RedisKeys;
  private readonly commands: ScriptedRedis;
  private readonly readerConnection: ScriptedRedis;
  private readonly reader: InboxReader;
  /** Identifies this adapter as the lease's holder and as its inbox's reader. */
  private readonly token = randomBytes(16).toString('hex');
  private closed: Error | undefined;
  /** Rejecters of the calls in flight, so that close() ends them even while Redis is away. */
  private readonly inFlight = new Set<(e: Error) => void>();
  private acksSinceTrim = 0;
  private lastTrim = 0;

  /**
   * @param redis an ioredis URL ('redis://', 'rediss://' for TLS) or ioredis options (host,
   *   port, username, password, tls, db...), passed through.
   * @param ctx the channel and host this adapter serves, and the prefix of its keys.
   */
  constructor(
    redis: string | Record<string, unknown>,
    private readonly ctx: AdapterContext,
  ) {
    this.keys = redisKeys(ctx);
    const inbox = this.keys.inbox(ctx.host);
    // Client names (CLIENT LIST) show which inbox is whose; they may hold no spaces.
    const name = inbox.replace(/[^\x21-\x24\x26-\x7e]/g, (c) => encodeURIComponent(c));
    this.commands = withScripts(createConnection(redis, 'commands', `ipc-commands:${name}`));
    this.readerConnection = withScripts(createConnection(redis, 'reader', `ipc-reader:${name}`));
    const readerKeys = { inbox, reader: this.keys.inboxReader(ctx.host) };
    const group = `bridge:${this.token}`;
    this.reader = new InboxReader(this.readerConnection, readerKeys, ctx.host, group);
    // Connection errors are retried; these listeners keep ioredis from printing each one.
    this.commands.on('error', () => {});
    this.readerConnection.on('error', () => {});
  }

  async connect(): Promise<void> {
    const closed = (): Error | undefined => this.closed;
    try {
      await Promise.all([
        untilReady(this.commands, closed),
        untilReady(this.readerConnection, closed),
      ]);
      await this.run(() => checkVersion(this.commands));
      await this.run(() => this.reader.takeOver());
    } catch (e) {
      // Neither connection keeps retrying what will not work; connect() may be called again.
      if (e instanceof RedisStoreError)
        await Promise.all([ended(this.commands), ended(this.readerConnection)]);
      throw e;
    }
  }

  async append(host: string, batch: Buffer): Promise<void> {
    await this.run(() => this.commands.call('XADD', this.keys.inbox(host), '*', 'b', batch));
  }

  read(max: number, blockMs: number): Promise<InboxEntry[]> {
    return this.run(() => this.reader.read(max, blockMs));
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const inbox = this.keys.inbox(this.ctx.host);
    const group = this.reader.group;
    // An adapter whose inbox was taken over acks into a group that no longer is: a no-op, and
    // the new reader reads those entries again.
    for (let i = 0; i < ids.length; i += ACK_CHUNK) {
      const chunk = ids.slice(i, i + ACK_CHUNK);
      await this.run(() => this.commands.call('XACK', inbox, group, ...chunk));
    }
    this.acksSinceTrim += ids.length;
    const now = Date.now();
    if (this.acksSinceTrim < TRIM_EVERY_ACKS && now - this.lastTrim < TRIM_EVERY_MS) return;
    this.acksSinceTrim = 0;
    this.lastTrim = now;
    // Trimming only saves space: a failure leaves it for the next time.
    await this.run(() => this.commands.ipcTrimInbox(inbox, group)).catch(() => {});
  }

  async publishHost(view: Buffer, ttlMs: number): Promise<void> {
    const { hostView, hosts } = this.keys;
    const ttl = Math.max(1, Math.ceil(ttlMs));
    await this.run(() =>
      this.commands.ipcPublishHost(hostView(this.ctx.host), hosts, view, ttl, this.ctx.host),
    );
  }

  async readHosts(): Promise<Map<string, Buffer>> {
    const names = (await this.run(() => this.commands.ipcListHosts(this.keys.hosts))) as (
      string | Buffer
    )[];
    const views = new Map<string, Buffer>();
    if (names.length === 0) return views;
    const hosts = names.map(String);
    const values = await this.run(() =>
      this.commands.mgetBuffer(...hosts.map((h) => this.keys.hostView(h))),
    );
    hosts.forEach((host, i) => {
      const view = values[i];
      if (view !== null && view !== undefined) views.set(host, view);
    });
    return views;
  }

  async withdrawHost(): Promise<void> {
    await this.run(() =>
      this.commands
        .multi()
        .del(this.keys.hostView(this.ctx.host))
        .zrem(this.keys.hosts, this.ctx.host)
        .exec(),
    );
  }

  async lease(ttlMs: number): Promise<number | undefined> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const { leader, epoch } = this.keys;
    const held = await this.run(() =>
      this.commands.ipcLease(leader, epoch, this.token, ttl, Date.now()),
    );
    return held === null || held === undefined ? undefined : Number(held);
  }

  async releaseLease(): Promise<void> {
    await this.run(() => this.commands.ipcRelease(this.keys.leader, this.token));
  }

  async close(): Promise<void> {
    if (this.closed !== undefined) return;
    const closed = new ChannelClosedError(
      'use the Redis federation store',
      'this adapter is closed. The bridge makes a new one when it starts again.',
    );
    this.closed = closed;
    this.reader.close(closed);
    for (const reject of [...this.inFlight]) reject(closed);
    this.inFlight.clear();
    await Promise.all([ended(this.commands), ended(this.readerConnection)]);
  }

  /** Runs a call unless closed, and makes close() reject it if it is still waiting then. */
  private run<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error): void => {
        this.inFlight.delete(fail);
        reject(e);
      };
      this.inFlight.add(fail);
      Promise.resolve()
        .then(call)
        .then(
          (value) => {
            this.inFlight.delete(fail);
            resolve(value);
          },
          (e: unknown) => fail(e instanceof Error ? e : new Error(String(e))),
        );
    });
  }
}

/**
 * Disconnects `redis` at once (nothing it still waits for is worth waiting for), until its
 * socket is closed. Between reconnects it has none, and disconnect() only cancels the next one.
 */
function ended(redis: Redis): Promise<void> {
  const live = ['connecting', 'connect', 'ready'].includes(redis.status);
  if (!live) forgetClosedSocket(redis);
  const gone = live
    ? new Promise<void>((resolve) => redis.once('end', () => resolve()))
    : undefined;
  redis.disconnect();
  return gone ?? Promise.resolve();
}

/**
 * ioredis's disconnect() ends its last socket and arms a timer (2 s) to destroy it should it not
 * close; a socket already closed never does, and the timer would hold the process that long
 * after close(). So a socket that is already destroyed is forgotten first.
 */
function forgetClosedSocket(redis: Redis): void {
  const connector = (redis as unknown as { connector?: { stream?: { destroyed?: boolean } } })
    .connector;
  if (connector?.stream?.destroyed === true) connector.stream = undefined;
}
