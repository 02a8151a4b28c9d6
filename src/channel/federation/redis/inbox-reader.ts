import type { Redis } from 'ioredis';
import type { InboxEntry } from '../federation-adapter.js';
import { isConnectionError } from './redis-connection.js';
import { INBOX_GROUP } from './redis-keys.js';

/**
 * Reads one host's inbox through the consumer group, on a connection of its own: XREADGROUP
 * with BLOCK holds its connection until entries come or the block ends, and every other
 * command on that connection would wait behind it (appends, acks, lease renewals).
 *
 * After each (re)connect it reads this consumer's pending entries first (from id 0, page by
 * page, until none is left), and only then new ones ('>'). An entry whose reply was lost with
 * the connection is pending, so it is read again, and before anything newer: the inbox's order
 * holds for the receivers' dedup.
 */
export class InboxReader {
  /** The id after which the pending entries are read, or undefined once they all were. */
  private pendingAfter: string | undefined = '0';
  private closedError: Error | undefined;
  /** The connection's last error, to say why Redis is unreachable. */
  private lastError: unknown;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly consumer: string,
    /** This reader's client name, the same for every reader of this inbox. */
    private readonly name: string,
  ) {
    redis.on('error', (e: Error) => (this.lastError = e));
    redis.on('ready', () => {
      this.pendingAfter = '0';
      for (const wake of [...this.wakers]) wake();
    });
  }

  /** Creates the consumer group (and the stream) unless it exists, reading from the start. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.call('XGROUP', 'CREATE', this.key, INBOX_GROUP, '0', 'MKSTREAM');
    } catch (e) {
      if (!(e instanceof Error && e.message.startsWith('BUSYGROUP'))) throw e;
    }
  }

  /**
   * Ends the connections of earlier readers of this inbox (another process of this host that
   * hosted the hub, now stopped or hung). A blocked XREADGROUP of theirs stays registered in
   * Redis and would take the next entries; this reader scans the pending ones only at connect,
   * so those would sit pending, unread, until the host's next bridge. Where an ACL denies
   * CLIENT LIST or KILL, nothing is ended.
   */
  async endEarlierReaders(admin: Redis): Promise<void> {
    try {
      const own = String(await this.redis.call('CLIENT', 'ID'));
      const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal'))
        .split('\n')
        .map(clientFields);
      const db = clients.find((c) => c.get('id') === own)?.get('db');
      for (const c of clients) {
        if (c.get('name') !== this.name || c.get('id') === own || c.get('db') !== db) continue;
        // It may be gone already ('No such client'): that is what was wanted.
        await admin.call('CLIENT', 'KILL', 'ID', c.get('id')!).catch((e: unknown) => {
          if (isConnectionError(e)) throw e;
        });
      }
    } catch (e) {
      if (isConnectionError(e)) throw e;
    }
  }

  /**
   * See FederationAdapter.read(). After a connection loss it resolves [] once reconnected, or
   * rejects if Redis is still unreachable `blockMs` later (the bridge reports it and retries).
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
      if (e instanceof Error && e.message.startsWith('NOGROUP')) {
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

  /** Makes every read, waiting or not, reject with `reason`. */
  close(reason: Error): void {
    this.closedError = reason;
    for (const wake of [...this.wakers]) wake();
  }

  private async readGroup(
    max: number,
    blockMs: number,
    after: string,
  ): Promise<{ id: string; batch: Buffer | null }[]> {
    const block = blockMs > 0 ? ['BLOCK', Math.ceil(blockMs)] : [];
    const reply = await this.redis.callBuffer(
      'XREADGROUP',
      'GROUP',
      INBOX_GROUP,
      this.consumer,
      'COUNT',
      max,
      ...block,
      'STREAMS',
      this.key,
      after,
    );
    return parseEntries(reply);
  }

  /**
   * Entries deleted from the stream while pending come back without a body: nothing can deliver
   * them, so they are acknowledged here and left out.
   */
  private async dropDeleted(
    entries: { id: string; batch: Buffer | null }[],
  ): Promise<InboxEntry[]> {
    const kept: InboxEntry[] = [];
    const deleted: string[] = [];
    for (const e of entries) {
      if (e.batch === null) deleted.push(e.id);
      else kept.push({ id: e.id, batch: e.batch });
    }
    if (deleted.length > 0) await this.redis.call('XACK', this.key, INBOX_GROUP, ...deleted);
    return kept;
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

/** The fields of one line of CLIENT LIST ('id=7 addr=... name=... db=0 ...'). */
function clientFields(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const pair of line.trim().split(' ')) {
    const eq = pair.indexOf('=');
    if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return fields;
}

/**
 * The entries of an XREADGROUP reply on one stream: RESP2 gives [[stream, entries]], RESP3 (in
 * ioredis's legacy mapping) [stream, entries]; no entries is null. Each entry is
 * [id, [field, value]], or [id, null] when it was deleted.
 */
function parseEntries(reply: unknown): { id: string; batch: Buffer | null }[] {
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
