/**
 * The compat entry point's surface, in one process (each Channel a peer over a real socket):
 * ipchannel's calls and events, the argument lists kept whole, reserved names escaped, the
 * library's own events kept out, errors that never crash, and a graceful disconnect().
 */
import { chmodSync } from 'node:fs';
import { jest } from '@jest/globals';
import { Channel as NativeChannel } from '../../src/channel/channel.js';
import {
  ChannelClosedError,
  InvalidEventNameError,
  InvalidTargetError,
  type IpcChannelError,
  UndeliverableError,
} from '../../src/channel/errors.js';
import { RESERVED_EVENTS } from '../../src/channel/peer/event-name-encoder.js';
import { OWN_EVENTS, wireName } from '../../src/compat/event-names.js';
import { Channel } from '../../src/compat/channel.js';
import type { ChannelOptions } from '../../src/channel/channel-options.js';
import { tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';
import { nextTickThrows } from '../helpers/next-tick-throws.js';

let dir: ReturnType<typeof tempDir>;
let open: Channel[] = [];
let natives: NativeChannel[] = [];
let n = 0;
let name = '';

beforeEach(() => {
  dir = tempDir();
  name = `compat-${process.pid}-${++n}`;
});

afterEach(async () => {
  for (const ch of open) ch.disconnect();
  await Promise.all([
    // Those not closed yet still listen to their native channel's 'close'.
    ...open.map((ch) => (ch.native.listenerCount('close') > 0 ? closed(ch) : undefined)),
    ...natives.map((ch) => ch.close()),
  ]);
  open = [];
  natives = [];
  dir.remove();
});

/** A compat channel of this test's channel; it joins on its own. */
function make(options: ChannelOptions = {}): Channel {
  const ch = new Channel({ name, dir: dir.path, ...options });
  open.push(ch);
  return ch;
}

function native(options: ChannelOptions = {}): NativeChannel {
  const ch = new NativeChannel({ name, dir: dir.path, ...options });
  natives.push(ch);
  return ch;
}

const joined = (ch: Channel) =>
  ch.connected ? Promise.resolve() : new Promise<void>((r) => ch.once('connect', () => r()));
const closed = (ch: Channel) => new Promise<void>((r) => ch.once('disconnect', () => r()));

/** Two joined channels, `a` first (it hosts the hub). */
async function pair(options: ChannelOptions = {}): Promise<[Channel, Channel]> {
  const a = make(options);
  await joined(a);
  const b = make(options);
  await joined(b);
  return [a, b];
}

test('not joined at first; joins on its own; connect fires once, without arguments', async () => {
  const a = make();
  const connects: unknown[][] = [];
  a.on('connect', (...args: unknown[]) => connects.push(args));
  expect(a.pid).toBeUndefined();
  expect(a.connected).toBe(false);
  await joined(a);
  expect(a.pid).toBe(1);
  expect(a.connected).toBe(true);
  expect(connects).toEqual([[]]);
  const b = make();
  await joined(b);
  expect(b.pid).toBe(2);
  expect(a.native.peers).toEqual([1, 2]);
});

test('several data arguments arrive as several arguments, in the order sent, whatever the shape', async () => {
  const [a, b] = await pair();
  const got: unknown[][] = [];
  b.on('message', (sender, ...data) => got.push([sender, 'message', ...data]));
  b.on('custom-event', (sender, ...data) => got.push([sender, 'custom-event', ...data]));
  const to = a.to(2);
  expect(to.send()).toBe(true);
  to.send('one');
  to.send('one', 2, { three: [3] });
  to.send(undefined);
  to.emit('custom-event');
  to.emit('custom-event', 'x', null, 7);
  to.emit('message', 'via', 'emit');
  to.send(null);
  await until(() => got.length === 8, 10_000, 'eight messages');
  expect(got).toEqual([
    [1, 'message'],
    [1, 'message', 'one'],
    [1, 'message', 'one', 2, { three: [3] }],
    [1, 'message', null],
    [1, 'custom-event'],
    [1, 'custom-event', 'x', null, 7],
    [1, 'message', 'via', 'emit'],
    [1, 'message', null],
  ]);
});

test("to('all') reaches every peer, this one included; to('others') all but this one", async () => {
  const [a, b] = await pair();
  const got: string[] = [];
  a.on('message', (sender, msg) => got.push(`a<-${sender}:${msg}`));
  b.on('message', (sender, msg) => got.push(`b<-${sender}:${msg}`));
  b.to('all').send('all');
  b.to('others').send('others');
  await until(() => got.length === 3, 10_000, 'three messages');
  expect(got.sort()).toEqual(['a<-2:all', 'a<-2:others', 'b<-2:all']);
});

test('sends made before joining are queued and carry the real sender id', async () => {
  const a = make();
  await joined(a);
  const got: unknown[][] = [];
  a.on('message', (sender, ...data) => got.push([sender, ...data]));
  const b = make();
  expect(b.pid).toBeUndefined();
  b.to(1).send('early', 1);
  await until(() => got.length === 1, 10_000, 'the early message');
  expect(got).toEqual([[2, 'early', 1]]);
});

test('user events named like the channel reserved ones travel escaped and arrive as sent', async () => {
  const [a, b] = await pair();
  const names = [
    ...[...RESERVED_EVENTS].filter((e) => !OWN_EVENTS.has(e) && e !== 'message'),
    '@ipchannel/join',
    '@ipchannel/message',
    '@ipchannel/',
    '@nest-like/name',
  ];
  const got: unknown[][] = [];
  for (const e of names) b.on(e, (sender, ...data) => got.push([e, sender, ...data]));
  for (const e of names) a.to(2).emit(e, e, 1);
  await until(() => got.length === names.length, 10_000, 'every event');
  expect(got).toEqual(names.map((e) => [e, 1, e, 1]));
});

test("the names this channel emits itself cannot be emitted; the escape covers the channel's reserved names", async () => {
  const a = make();
  for (const e of ['connect', 'disconnect', 'error', 'newListener', 'removeListener', '']) {
    expect(thrown(() => a.to('all').emit(e, 1))).toBeInstanceOf(InvalidEventNameError);
  }
  // Every name the channel refuses is either refused here or sent escaped, so none is lost.
  for (const e of RESERVED_EVENTS) {
    if (OWN_EVENTS.has(e)) expect(thrown(() => wireName(e))).toBeInstanceOf(InvalidEventNameError);
    else expect(wireName(e)).toBe(`@ipchannel/${e}`);
  }
  expect(wireName('custom-event')).toBe('custom-event');
  expect(wireName('@ipchannel/x')).toBe('@ipchannel/@ipchannel/x');
});

test("the library's own events never reach the user's listeners", async () => {
  const [a, b] = await pair();
  const heard: string[] = [];
  const own = ['join', 'leave', 'hub', 'meta', 'retiring', 'leader', 'follower', 'drain', 'close'];
  for (const e of own) b.on(e, () => heard.push(e));
  const nativeHeard: string[] = [];
  b.native.on('join', (id) => nativeHeard.push(`join ${id}`));
  b.native.on('leave', (id) => nativeHeard.push(`leave ${id}`));
  const c = make();
  await joined(c);
  c.native.setMeta({ role: 'c' });
  c.disconnect();
  await closed(c);
  await until(() => nativeHeard.length === 2, 10_000, 'join and leave');
  a.to(2).send('after');
  await new Promise<void>((r) => b.once('message', () => r()));
  expect(nativeHeard).toEqual(['join 3', 'leave 3']);
  expect(heard).toEqual([]);
});

test('a native Channel and a compat one talk: one value is a message, events keep their names', async () => {
  const n1 = native();
  await n1.connect();
  const c = make();
  await joined(c);
  const atNative: unknown[][] = [];
  n1.on('message', (sender, msg) => atNative.push([sender, 'message', msg]));
  n1.on('price', (sender, ...args) => atNative.push([sender, 'price', ...args]));
  const atCompat: unknown[][] = [];
  c.on('message', (sender, ...data) => atCompat.push([sender, 'message', ...data]));
  c.on('price', (sender, ...args) => atCompat.push([sender, 'price', ...args]));
  c.to(1).send({ hello: 1 });
  c.to(1).emit('price', 'A-1', 1299);
  n1.to(2).send('from native');
  n1.to(2).emit('price', 'B-2', 450);
  await until(() => atNative.length === 2 && atCompat.length === 2, 10_000, 'both ways');
  expect(atNative).toEqual([
    [2, 'message', { hello: 1 }],
    [2, 'price', 'A-1', 1299],
  ]);
  expect(atCompat).toEqual([
    [1, 'message', 'from native'],
    [1, 'price', 'B-2', 450],
  ]);
});

test('a bad target throws at once; a message to an absent id is reported, not dropped', async () => {
  const a = make({ graceMs: 200 });
  await joined(a);
  for (const target of [0, -1, 1.5, 70000, 'foo', null]) {
    expect(thrown(() => a.to(target as never))).toBeInstanceOf(InvalidTargetError);
  }
  const errors: IpcChannelError[] = [];
  a.on('error', (e) => errors.push(e));
  a.to(9).send('nobody', 'home');
  await until(() => errors.length === 1, 10_000, 'the error');
  expect(errors[0]).toBeInstanceOf(UndeliverableError);
  expect(errors[0]).toMatchObject({
    target: 9,
    reason: 'grace-expired',
    event: '@ipchannel/message',
    data: ['nobody', 'home'],
  });
});

test("without an 'error' listener an error is a process warning, not a crash; listeners come and go", async () => {
  const a = make({ graceMs: 100 });
  await joined(a);
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    a.to(9).send('lost');
    await until(() => warn.mock.calls.length === 1, 10_000, 'the warning');
    expect(warn.mock.calls[0]![1]).toMatchObject({ code: 'ERR_IPC_UNDELIVERABLE' });
  } finally {
    warn.mockRestore();
  }

  const once = new Promise<IpcChannelError>((r) => a.once('error', r));
  expect(a.native.listenerCount('error')).toBe(1);
  a.to(9).send('heard');
  expect((await once).code).toBe('ERR_IPC_UNDELIVERABLE');
  expect(a.native.listenerCount('error')).toBe(0);

  const listener = () => undefined;
  a.prependListener('error', listener);
  a.on('error', listener);
  expect(a.native.listenerCount('error')).toBe(1);
  a.off('error', listener);
  expect(a.native.listenerCount('error')).toBe(1);
  a.removeAllListeners();
  expect(a.native.listenerCount('error')).toBe(0);
  // Listeners added after removeAllListeners() still hear what arrives.
  const b = make();
  await joined(b);
  const got = new Promise<unknown[]>((r) => a.on('late', (...args) => r(args)));
  b.to(1).emit('late', 'still');
  expect(await got).toEqual([2, 'still']);
});

test('disconnect() returns at once, delivers what was sent, then emits disconnect once', async () => {
  const [a, b] = await pair();
  let count = 0;
  b.on('message', () => count++);
  const disconnects: unknown[][] = [];
  a.on('disconnect', (...args: unknown[]) => disconnects.push(args));
  const errors: unknown[] = [];
  a.on('error', (e) => errors.push(e));
  for (let i = 0; i < 1000; i++) a.to(2).send(i, 'x');
  expect(a.disconnect()).toBeUndefined();
  expect(a.connected).toBe(false);
  a.disconnect();
  await closed(a);
  expect(disconnects).toEqual([[]]);
  await until(() => count === 1000, 10_000, 'every message');
  // The hub moved to b, which stays joined under its id.
  await until(() => b.native.isHub && b.connected, 10_000, 'b to host the hub');
  expect(b.pid).toBe(2);
  expect(errors).toEqual([]);
});

test('a failover is not a disconnect: ids stay, connect does not fire again, nothing is lost', async () => {
  const [a, b] = await pair();
  const c = make();
  await joined(c);
  const events: string[] = [];
  for (const ch of [b, c]) {
    ch.on('connect', () => events.push(`connect ${ch.pid}`));
    ch.on('disconnect', () => events.push(`disconnect ${ch.pid}`));
  }
  const got: number[] = [];
  c.on('message', (_sender, i) => got.push(i));
  for (let i = 0; i < 500; i++) b.to(3).send(i);
  a.disconnect(); // the hub leaves: b or c takes over
  for (let i = 500; i < 1000; i++) b.to(3).send(i);
  await until(() => got.length === 1000, 10_000, 'every message');
  expect(got).toEqual([...Array(1000).keys()]);
  expect([b.pid, c.pid]).toEqual([2, 3]);
  expect(events).toEqual([]);
  expect(b.native.isHub || c.native.isHub).toBe(true);
});

test('disconnect() before joining closes quietly: no error, disconnect emitted', async () => {
  const a = make();
  const errors: unknown[] = [];
  a.on('error', (e) => errors.push(e));
  a.disconnect();
  await closed(a);
  expect(a.connected).toBe(false);
  expect(errors).toEqual([]);
});

test('a channel that cannot join reports why and what it queued, then emits disconnect; sends then throw', async () => {
  chmodSync(dir.path, 0o755); // not private: the channel refuses it
  const a = make();
  const events: string[] = [];
  a.on('error', (e) => events.push(`error ${e.code}`));
  a.on('disconnect', () => events.push('disconnect'));
  a.to(1).send('queued');
  await closed(a);
  // Why, then the queued message's verdict, then the end.
  expect(events).toEqual(['error ERR_IPC_UNSAFE_DIR', 'error ERR_IPC_UNDELIVERABLE', 'disconnect']);
  expect(a.connected).toBe(false);
  expect(thrown(() => a.to(1).send('late'))).toBeInstanceOf(ChannelClosedError);
});

test("a 'connect' handler that throws surfaces as an uncaught exception, and the channel still works", async () => {
  const a = make();
  await joined(a);
  const b = make();
  const bJoined = joined(b); // first: listeners after one that throws are not called
  const boom = new Error('boom');
  b.on('connect', () => {
    throw boom;
  });
  // What is thrown on a later tick, caught here instead of by Jest.
  const surfaced = await nextTickThrows(async (thrown) => {
    await bJoined;
    await until(() => thrown.length > 0, 5_000, 'the exception');
  });
  expect(surfaced).toEqual([boom]);
  const got = new Promise<unknown[]>((r) => b.on('message', (...args) => r(args)));
  a.to(2).send('still here');
  expect(await got).toEqual([1, 'still here']);
  expect(a.native.peers).toEqual([1, 2]);
});
