import type { InboxEntry } from '../federation-adapter.js';
import { isConnectionError } from './redis-connection.js';
import { INBOX_GROUP } from './redis-keys.js';
import type { ScriptedRedis } from './redis-scripts.js';
import { InboxTakenOverError } from './redis-store-error.js';

/** An entry as read: no batch when it was deleted from the stream while pending. */
interface ReadEntry {
  readonly id: string;
  readonly batch: Buffer | null;
}

/**
 * Reads one host's inbox through the consumer group, on a connection of its own: a blocking
 * XREAD holds its connection until entries come or the block ends, and every other command on
 * that connection would wait behind it (appends, acks, lease renewals).
 *
 * After each (re)connect it reads this consumer's pending entries first (from id 0, page by
 * page, until none is left), and only then new ones ('>'). An entry whose reply was lost with
 * the connection is pending, so it is read again, and before anything newer: the inbox's order
 * holds for the receivers' dedup.
 *
 * The group is read by a script that first checks this reader still owns the inbox (see
 * takeOver()); the wait for new entries is a plain XREAD, which takes nothing, so a hung reader
 * that wakes up later can take no entry from the one that replaced it.
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
    /** This adapter's token, stored as the inbox's reader by takeOver(). */
    private readonly token: string,
  ) {
    redis.on('error', (e: Error) => (this.lastError = e));
    redis.on('ready', () => {
      this.pendingAfter = '0';
      for (const wake of [...this.wakers]) wake();
    });
  }

  /**
   * Makes this reader the inbox's only one (an earlier reader of the host, a hub that hung, can
   * no longer read or acknowledge), creating the group (and stream) if need be. Called once, at
   * connect; the pending entries are read after it, so none an earlier reader took is missed.
   */
  async takeOver(): Promise<void> {
    await this.ensureGroup();
    await this.redis.call('SET', this.keys.reader, this.token);
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
        const pending = await this.readGroup(max, this.pendingAfter);
        if (pending.entries.length > 0) {
          this.pendingAfter = pending.entries[pending.entries.length - 1]!.id;
          return await this.dropDeleted(pending.entries);
        }
        this.pendingAfter = undefined;
      }
      let fresh = await this.readGroup(max, '>');
      if (fresh.entries.length === 0 && blockMs > 0) {
        const block = Math.ceil(blockMs);
        await this.redis.call(
          'XREAD',
          'COUNT',
          1,
          'BLOCK',
          block,
          'STREAMS',
          this.keys.inbox,
          fresh.last,
        );
        fresh = await this.readGroup(max, '>');
      }
      return await this.dropDeleted(fresh.entries);
    } catch (e) {
      this.throwIfClosed();
      if (isFenced(e)) throw new InboxTakenOverError(this.host);
      if (e instanceof Error && e.message.includes('NOGROUP')) {
        // Redis lost the group (a restart without persistence, a FLUSHALL): what is in the
        // stream now was never delivered here, so it is all read again from the start.
        await this.ensureGroup();
        this.pendingAfter = '0';
        return [];
      }
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

  /** Creates the consumer group (and the stream) unless it exists, reading from the start. */
  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.call('XGROUP', 'CREATE', this.keys.inbox, INBOX_GROUP, '0', 'MKSTREAM');
    } catch (e) {
      if (!(e instanceof Error && e.message.startsWith('BUSYGROUP'))) throw e;
    }
  }

  /** One read through the group after `after` ('>': new entries), and the stream's last id. */
  private async readGroup(
    max: number,
    after: string,
  ): Promise<{ entries: ReadEntry[]; last: string }> {
    const { inbox, reader } = this.keys;
    const reply = await this.redis.ipcReadInboxBuffer(
      inbox,
      reader,
      this.token,
      INBOX_GROUP,
      this.host,
      max,
      after,
    );
    const [last, entries] = reply as [Buffer, unknown[]];
    return { entries: parseEntries(entries), last: last.length > 0 ? last.toString() : '0-0' };
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
    if (deleted.length > 0) {
      const { inbox, reader } = this.keys;
      await this.redis.ipcAckInbox(inbox, reader, this.token, INBOX_GROUP, ...deleted);
    }
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

/** True for the FENCED error of the inbox scripts: another adapter took the inbox over. */
export function isFenced(e: unknown): boolean {
  return e instanceof Error && !isConnectionError(e) && e.message.includes('FENCED');
}

/** The entries of an inbox read: each [id, [field, value]], or [id, null] once deleted. */
function parseEntries(entries: unknown[]): ReadEntry[] {
  return entries.map((entry) => {
    const [id, fields] = entry as [Buffer, Buffer[] | null];
    const batch = Array.isArray(fields) && fields.length >= 2 ? fields[1]! : null;
    return { id: id.toString(), batch };
  });
}
