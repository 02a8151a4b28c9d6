import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { ChannelClosedError } from '../../src/channel/errors.js';
import type { InboxEntry } from '../../src/channel/federation/federation-adapter.js';
import { RedisAdapter } from '../../src/channel/federation/redis/redis-adapter.js';
import {
  InboxTakenOverError,
  RedisStoreError,
} from '../../src/channel/federation/redis/redis-store-error.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { rejection } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';

const PREFIX = 'ipc';
let server: RedisServer;
let raw: Redis;
const adapters: RedisAdapter[] = [];
let channels = 0;

/** A channel name no other test uses, so that tests share the server but no keys. */
const freshChannel = (): string => `rt${++channels}`;

async function adapter(
  channel: string,
  host: string,
  redis: string | Record<string, unknown> = server.url,
): Promise<RedisAdapter> {
  const a = new RedisAdapter(redis, { channel, host, prefix: PREFIX });
  adapters.push(a);
  await a.connect();
  return a;
}

/** The client name of host A's inbox reader on `channel`. */
const readerName = (channel: string): string => `ipc-reader:${PREFIX}:${channel}:inbox:A`;

const batch = (i: number): Buffer => Buffer.from([0, 255, i, 10, 13]);
const texts = (entries: InboxEntry[]): number[] => entries.map((e) => e.batch[2]!);

/**
 * Reads until `count` entries came (each read waits up to 200 ms for more), through a
 * reconnect: a read rejects while the connection is not back.
 */
async function readAll(a: RedisAdapter, count: number): Promise<InboxEntry[]> {
  const got: InboxEntry[] = [];
  await until(
    async () => {
      got.push(...(await a.read(100, 200).catch(unreachable)));
      return got.length >= count;
    },
    20_000,
    `${count} entries`,
  );
  return got;
}

/** No entries for a read that failed because Redis is not reachable yet; other errors throw. */
function unreachable(e: Error): InboxEntry[] {
  if (/^Redis is unreachable/.test(e.message)) return [];
  throw e;
}

beforeAll(async () => {
  server = await startRedis();
  raw = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: () => 20,
  });
  raw.on('error', () => {});
  await raw.connect();
});

afterEach(async () => {
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});

afterAll(async () => {
  // quit() once connected: a disconnect() between reconnects leaves ioredis a 2 s timer.
  await until(() => raw.status === 'ready', 20_000, 'the test client to reconnect');
  await raw.quit();
  await server.stop();
});

describe('RedisAdapter inbox', () => {
  it('reads appended batches in order, byte for byte, and never again once acked', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    const b = await adapter(ch, 'B');
    for (let i = 1; i <= 5; i++) await b.append('A', batch(i));
    const first = await a.read(3, 100);
    expect(texts(first)).toEqual([1, 2, 3]);
    expect(first[0]!.batch).toEqual(batch(1));
    const rest = await a.read(10, 100);
    expect(texts(rest)).toEqual([4, 5]);
    await a.ack([...first, ...rest].map((e) => e.id));
    expect(await a.read(10, 50)).toEqual([]);
    // Trimmed up to the last delivered entry (kept: the group's position).
    const inbox = await raw.xrange(`${PREFIX}:${ch}:inbox:A`, '-', '+');
    expect(inbox.map(([id]) => id)).toEqual([rest[1]!.id]);
  });

  it('gives the entries a bridge read and did not ack to the next adapter of the host, first', async () => {
    const ch = freshChannel();
    const b = await adapter(ch, 'B');
    const a1 = await adapter(ch, 'A');
    for (let i = 1; i <= 4; i++) await b.append('A', batch(i));
    const read = await a1.read(10, 100);
    expect(texts(read)).toEqual([1, 2, 3, 4]);
    await a1.ack([read[0]!.id]);
    await a1.close();
    await b.append('A', batch(5));

    // The next adapter reads on from the first entry not acked, in order.
    const a2 = await adapter(ch, 'A');
    expect(texts(await a2.read(2, 100))).toEqual([2, 3]);
    expect(texts(await a2.read(10, 100))).toEqual([4, 5]);
    expect(await a2.read(10, 50)).toEqual([]);
  });

  it('trims acknowledged entries up to the oldest pending one', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    for (let i = 1; i <= 10; i++) await a.append('A', batch(i));
    const read = await a.read(10, 100);
    expect(read).toHaveLength(10);
    await a.ack(read.slice(0, 5).map((e) => e.id)); // the first ack trims
    const left = await raw.xrange(`${PREFIX}:${ch}:inbox:A`, '-', '+');
    expect(left.map(([id]) => id)).toEqual(read.slice(5).map((e) => e.id));
  });

  it('loses nothing across a Redis restart and a kill -9, and appends wait for Redis', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    // Its calls wait for Redis however long it takes to start (by default, 5 reconnects).
    const b = await adapter(ch, 'B', { port: server.port, maxRetriesPerRequest: null });
    for (let i = 1; i <= 3; i++) await b.append('A', batch(i));
    expect(texts(await a.read(1, 100))).toEqual([1]);

    await server.restart();
    // The entry read before the restart is pending: it comes again, before the others.
    const again = await readAll(a, 3);
    expect(texts(again)).toEqual([1, 2, 3]);
    await a.ack(again.map((e) => e.id));

    await server.kill();
    const reading = a.read(10, 10_000); // fails over to [] once Redis is back, then reads on
    const appended = b.append('A', batch(4)); // waits until Redis is back
    await server.start();
    await appended;
    expect(await reading).toEqual([]);
    expect(texts(await readAll(a, 1))).toEqual([4]);
  });

  it('reads its pending entries again, first, after its connection dropped', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    for (let i = 1; i <= 3; i++) await a.append('A', batch(i));
    expect(texts(await a.read(10, 100))).toEqual([1, 2, 3]); // their acks are "lost"
    const clients = String(await raw.call('CLIENT', 'LIST'));
    const reader = clients.split('\n').find((line) => line.includes(`name=${readerName(ch)} `));
    await raw.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(reader!)![1]!);
    await a.append('A', batch(4));
    expect(texts(await readAll(a, 4))).toEqual([1, 2, 3, 4]);
  });

  it('lets only the last adapter of a host to connect read its inbox', async () => {
    const ch = freshChannel();
    const old = await adapter(ch, 'A'); // a hub of host A that hangs...
    for (let i = 1; i <= 3; i++) await old.append('A', batch(i));
    const taken = await old.read(10, 100);
    expect(texts(taken)).toEqual([1, 2, 3]);
    await old.ack([taken[1]!.id]);
    // ...in the middle of a wait for new entries, while a new hub's adapter takes over.
    const waiting = old.read(10, 60_000);
    const a = await adapter(ch, 'A');
    await a.append('A', batch(4));
    const error = await rejection<InboxTakenOverError>(waiting);
    expect(error).toBeInstanceOf(InboxTakenOverError);
    expect(error.code).toBe('ERR_IPC_FEDERATION_INBOX_TAKEN_OVER');
    expect(await rejection(old.read(10, 100))).toBeInstanceOf(InboxTakenOverError);
    await old.ack([taken[0]!.id]); // too late: acks nothing
    // From the oldest entry the old one left pending, in order (2, acked, comes again).
    expect(texts(await readAll(a, 4))).toEqual([1, 2, 3, 4]);
  });

  it('recreates the consumer group when Redis lost it with the stream', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    await a.append('A', batch(1));
    await a.ack((await a.read(10, 100)).map((e) => e.id));
    await raw.del(`${PREFIX}:${ch}:inbox:A`); // as a restart without persistence would
    await a.append('A', batch(2)); // the stream comes back without the group
    expect(await a.read(10, 100)).toEqual([]); // NOGROUP: the group is made again
    expect(texts(await a.read(10, 100))).toEqual([2]);
  });
});

describe('RedisAdapter lease', () => {
  it('is held by one adapter at a time, with an epoch that rises on every takeover', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    const b = await adapter(ch, 'B');
    const before = Date.now();
    const e1 = await a.lease(10_000);
    expect(e1).toBeGreaterThanOrEqual(before);
    expect(await b.lease(10_000)).toBeUndefined();
    expect(await a.lease(10_000)).toBe(e1); // renewal: same epoch
    await b.releaseLease(); // not b's: nothing happens
    expect(await b.lease(10_000)).toBeUndefined();
    await a.releaseLease();
    const e2 = await b.lease(10_000);
    expect(e2).toBeGreaterThan(e1!);
    expect(await a.lease(10_000)).toBeUndefined();
    // A new adapter of the same host is a new holder.
    const b2 = await adapter(ch, 'B');
    expect(await b2.lease(10_000)).toBeUndefined();
  });

  it('expires after its ttl, and the next holder gets a higher epoch', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    const b = await adapter(ch, 'B');
    const e1 = await a.lease(100);
    expect(e1).toBeDefined();
    const e2 = await until(() => b.lease(10_000), 20_000, 'the lease to expire');
    expect(e2).toBeGreaterThan(e1!);
    expect(await a.lease(100)).toBeUndefined(); // a's renewal comes too late
  });

  it('never gives an epoch below the wall clock, even after the epoch key was lost', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    await raw.set(`${PREFIX}:${ch}:epoch`, '7');
    const before = Date.now();
    const e = await a.lease(10_000);
    expect(e).toBeGreaterThanOrEqual(before);
    expect(await raw.get(`${PREFIX}:${ch}:epoch`)).toBe(String(e));
  });
});

describe('RedisAdapter host views', () => {
  it('lists the views not expired, and drops withdrawn and expired ones', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    const b = await adapter(ch, 'B');
    await a.publishHost(Buffer.from('view-a'), 60_000);
    await b.publishHost(Buffer.from('view-b'), 60_000);
    const both = await a.readHosts();
    expect([...both.keys()].sort()).toEqual(['A', 'B']);
    expect(both.get('B')).toEqual(Buffer.from('view-b'));

    await b.publishHost(Buffer.from('view-b2'), 50);
    await until(async () => !(await a.readHosts()).has('B'), 20_000, 'B to expire');
    expect([...(await b.readHosts()).keys()]).toEqual(['A']);
    expect(await raw.zrange(`${PREFIX}:${ch}:hosts`, '0', '-1')).toEqual(['A']);

    await a.withdrawHost();
    expect((await b.readHosts()).size).toBe(0);
  });
});

describe('RedisAdapter connection', () => {
  it('authenticates with a password, and says what to fix when it is wrong or missing', async () => {
    const secured = await startRedis({ password: 'pass word' });
    try {
      const ch = freshChannel();
      const a = await adapter(ch, 'A', secured.url);
      await a.append('A', batch(1));
      expect(texts(await a.read(10, 100))).toEqual([1]);

      const wrong = new RedisAdapter(secured.url.replace('pass%20word', 'nope'), {
        channel: ch,
        host: 'B',
        prefix: PREFIX,
      });
      adapters.push(wrong);
      const error = await rejection(wrong.connect());
      expect(error).toBeInstanceOf(RedisStoreError);
      expect((error as RedisStoreError).code).toBe('ERR_IPC_FEDERATION_REDIS');
      expect(error.message).toMatch(/refused the federation's credentials.*password/);

      const none = new RedisAdapter(
        { host: '127.0.0.1', port: secured.port },
        { channel: ch, host: 'C', prefix: PREFIX },
      );
      adapters.push(none);
      expect(await rejection(none.connect())).toBeInstanceOf(RedisStoreError);
    } finally {
      await Promise.all(adapters.splice(0).map((x) => x.close()));
      await secured.stop();
    }
  });

  it('passes ioredis options through (db), and says what to fix for a database Redis lacks', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A', { host: '127.0.0.1', port: server.port, db: 3 });
    await a.append('A', batch(1));
    const db3 = new Redis({ port: server.port, db: 3, lazyConnect: true });
    await db3.connect();
    expect(await db3.xlen(`${PREFIX}:${ch}:inbox:A`)).toBe(1);
    await db3.quit();
    expect(await raw.exists(`${PREFIX}:${ch}:inbox:A`)).toBe(0);

    const error = await rejection(adapter(ch, 'B', { port: server.port, db: 99 }));
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error.message).toMatch(/no database 99/);
  });

  it('connects once Redis is up when it was not at first', async () => {
    const ch = freshChannel();
    await server.kill();
    const a = new RedisAdapter(server.url, { channel: ch, host: 'A', prefix: PREFIX });
    adapters.push(a);
    const connecting = a.connect();
    await server.start();
    await connecting;
    await a.append('A', batch(1));
    expect(texts(await readAll(a, 1))).toEqual([1]);
  });

  it('fails calls while Redis stays away, and works again once it is back', async () => {
    const ch = freshChannel();
    // ioredis options pass through: here, fail a call after one reconnect instead of five.
    const a = new RedisAdapter(
      { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 },
      { channel: ch, host: 'A', prefix: PREFIX },
    );
    adapters.push(a);
    await a.connect();
    await server.kill();
    const appendError = await rejection(a.append('A', batch(1)));
    expect(appendError).not.toBeInstanceOf(ChannelClosedError);
    expect(appendError.message).toMatch(/retr/i);
    expect((await rejection(a.read(10, 50))).message).toMatch(/^Redis is unreachable/);
    await server.start();
    await a.append('A', batch(2));
    expect(texts(await readAll(a, 1))).toEqual([2]);
  });

  it('rejects pending calls on close, even while Redis is away', async () => {
    const ch = freshChannel();
    const a = await adapter(ch, 'A');
    const blocked = a.read(10, 10_000);
    await server.kill();
    const appending = a.append('B', batch(1));
    await a.close();
    expect(await rejection(blocked)).toBeInstanceOf(ChannelClosedError);
    expect(await rejection(appending)).toBeInstanceOf(ChannelClosedError);
    expect(await rejection(a.lease(1000))).toBeInstanceOf(ChannelClosedError);
    await server.start();
  });
});
