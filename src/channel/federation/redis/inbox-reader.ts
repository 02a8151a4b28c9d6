import type { InboxEntry } from '../federation-adapter.js';
import { isConnectionError } from './redis-connection.js';
import type { ScriptedRedis } from './redis-scripts.js';
import { InboxTakenOverError } from './redis-store-error.js';

/** An entry as read: no batch when it was deleted from the stream while pending. */
interface ReadEntry {
  readonly id: string;
  readonly batch: Buffer | null;
}

/**
 * Reads one host's inbox through a consumer group of its own, on a connection of its own:
 * XREADGROUP with BLOCK holds its connection until entries come or the block ends, and every
 * other command on that connection would wait behind it (appends, acks, lease renewals).
 *
 * After each (re)connect it reads its pending entries first (from id 0, page by page, until
 * none is left), and only then new ones ('>'). An entry whose reply was lost with the
 * connection is pending, so it is read again, and before anything newer: the inbox's order
 * holds for the receivers' dedup.
 *
 * Each adapter reads through its own group, which replaces the previous reader's at connect
 * (see the ipcClaimInbox script): a hub of this host that hung in the middle of a read, and
 * wakes up after another took over, finds its group gone and can take nothing more.
 */
export class InboxReader {
  /** The id after which the pending entries are read, or undefined once they all were. */
  private pendingAfter: string | undefined = '0';
  private closedError: Error | undefined;
  /** The connection's last error, to say why Redis is unreachable. */
  private lastError: unknown;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: { readonly inbox: string; readonly reader: string },
    /** The host: the consumer's name in the group. */
    private readonly host: string,
    /** This adapter's own consumer group. */
    readonly group: string,
  ) {
    redis.on('error', (e: Error) => (this.lastError = e));
    redis.on('ready', () => {
      this.pendingAfter = '0';
      for (const wake of [...this.wakers]) wake();
    });
  }

  /**
   * Makes this adapter's group the inbox's, replacing an earlier reader's (whose pending
   * entries it reads again). Called once, at connect.
   */
  async takeOver(): Promise<void> {
    await this.redis.ipcClaimInbox(this.keys.inbox, this.keys.reader, this.group, 'take');
    this.pendingAfter = '0';
  }

  /**
   * See FederationAdapter.read(). After a connection loss it resolves [] once reconnected, or
   * rejects if Redis is still unreachable `blockMs` later (the bridge reports it and retries).
   * Rejects with InboxTakenOverError once another adapter took the inbox over.
   */
  async read(max: number, blockMs: number): Promise<InboxEntry[]> {
    this.throwIfClosed();
    if (this.redis.status !== 'ready') return this.afterReconnect(blockMs);
    try {
      if (this.pendingAfter !== undefined) {
        const pending = await this.readGroup(max, 0, this.pendingAfter);
        if (pending.length > 0) {
          this.pendingAfter = pending[pending.length - 1]!.id;
          return await this.dropDeleted(pending);
        }
        this.pendingAfter = undefined;
      }
      return await this.dropDeleted(await this.readGroup(max, blockMs, '>'));
    } catch (e) {
      this.throwIfClosed();
      if (e instanceof Error && e.message.includes('NOGROUP')) return this.recover();
      if (!isConnectionError(e)) throw e;
      this.pendingAfter = '0';
      this.lastError = e;
      return this.afterReconnect(blockMs);
    }
  }

  /** Makes every read, waiting or not, reject with `reason`. */
  close(reason: Error): void {
    this.closedError = reason;
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * The group is gone: another adapter took the inbox over (InboxTakenOverError), or Redis lost
   * it (a restart without persistence, a FLUSHALL, the stream deleted); then what is in the
   * stream now was never delivered here, and the group is made again to read it all.
   */
  private async recover(): Promise<InboxEntry[]> {
    try {
      await this.redis.ipcClaimInbox(this.keys.inbox, this.keys.reader, this.group, 'keep');
    } catch (e) {
      if (e instanceof Error && !isConnectionError(e) && e.message.includes('FENCED'))
        throw new InboxTakenOverError(this.host);
      throw e;
    }
    this.pendingAfter = '0';
    return [];
  }

  private async readGroup(max: number, blockMs: number, after: string): Promise<ReadEntry[]> {
    const block = blockMs > 0 ? ['BLOCK', Math.ceil(blockMs)] : [];
    const reply = await this.redis.callBuffer(
      'XREADGROUP',
      'GROUP',
      this.group,
      this.host,
      'COUNT',
      max,
      ...block,
      'STREAMS',
      this.keys.inbox,
      after,
    );
    return parseEntries(reply);
  }

  /**
   * Entries deleted from the stream while pending come back without a body: nothing can deliver
   * them, so they are acknowledged here and left out.
   */
  private async dropDeleted(entries: ReadEntry[]): Promise<InboxEntry[]> {
    const kept: InboxEntry[] = [];
    const deleted: string[] = [];
    for (const e of entries) {
      if (e.batch === null) deleted.push(e.id);
      else kept.push({ id: e.id, batch: e.batch });
    }
    if (deleted.length > 0) await this.redis.call('XACK', this.keys.inbox, this.group, ...deleted);
    return kept;
  }

  /** [] once the connection is ready again within `blockMs`; rejects if it is not by then. */
  private async afterReconnect(blockMs: number): Promise<InboxEntry[]> {
    await this.readyOrAfter(blockMs);
    this.throwIfClosed();
    if (this.redis.status === 'ready') return [];
    const cause = this.lastError;
    throw new Error(
      `Redis is unreachable (${cause instanceof Error ? cause.message : 'reconnecting'}); reading this host's inbox resumes when it is back.`,
      { cause },
    );
  }

  /** Waits until the connection is ready again, the reader is closed, or `ms` have passed. */
  private readyOrAfter(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(ms, 10));
      this.wakers.add(wake);
    });
  }

  private throwIfClosed(): void {
    if (this.closedError !== undefined) throw this.closedError;
  }
}

/**
 * The entries of an XREADGROUP reply on one stream: RESP2 gives [[stream, entries]], RESP3 (in
 * ioredis's legacy mapping) [stream, entries]; no entries is null. Each entry is
 * [id, [field, value]], or [id, null] when it was deleted.
 */
function parseEntries(reply: unknown): ReadEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const stream = (Array.isArray(reply[0]) ? reply[0] : reply) as unknown[];
  const entries = stream[1];
  if (!Array.isArray(entries)) return [];
  return entries.map((entry) => {
    const [id, fields] = entry as [Buffer, Buffer[] | null];
    const batch = Array.isArray(fields) && fields.length >= 2 ? fields[1]! : null;
    return { id: id.toString(), batch };
  });
}
