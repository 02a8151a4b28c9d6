import { jest } from '@jest/globals';
import {
  type Channel,
  ChannelClosedError,
  DeliveryUncertainError,
  type IpcChannelError,
  TooManyArgumentsError,
  UndeliverableError,
} from '../../src/index.js';
import { sandbox } from '../helpers/sandbox.js';
import { rejection, thrown } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'confirm' });

/** Two joined channels of this process; `b` records what it reads, in order. */
async function pair(options = {}) {
  const a = box.channel({ id: 1, ...options });
  const b = box.channel({ id: 2, ...options });
  await a.connect();
  await b.connect();
  const read: unknown[] = [];
  b.on('message', (_sender, message) => read.push(message));
  b.on('n', (_sender, n) => read.push(n));
  return { a, b, read };
}

/** Collects a channel's 'error' events. */
function errorsOf(ch: Channel): IpcChannelError[] {
  const errors: IpcChannelError[] = [];
  ch.on('error', (e) => errors.push(e));
  return errors;
}

test('sendConfirmed and emitConfirmed resolve once the target has read the message', async () => {
  const { a, read } = await pair();
  await a.to(2).sendConfirmed({ order: 1 });
  expect(read).toEqual([{ order: 1 }]);
  await a.to(2).emitConfirmed('n', 2);
  expect(read).toEqual([{ order: 1 }, 2]);
  // To every peer, this one included: resolved once both read it.
  const own: unknown[] = [];
  a.on('n', (_sender, n) => own.push(n));
  await a.to('all').emitConfirmed('n', 3);
  expect(read).toEqual([{ order: 1 }, 2, 3]);
  expect(own).toEqual([3]);
  expect(a.pendingBytes).toBe(0);
});

test('allConfirmed() resolves once everything sent before it was read, not what is sent after', async () => {
  const { a, read } = await pair();
  for (let i = 0; i < 1000; i++) a.to(2).emit('n', i);
  const all = a.allConfirmed();
  a.to(2).emit('n', 'later');
  await all;
  expect(read.slice(0, 1000)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  // Nothing unconfirmed: at once.
  await a.allConfirmed();
  expect(read).toHaveLength(1001);
  await expect(a.allConfirmed()).resolves.toBeUndefined();
});

test('an undeliverable message rejects its own promise with UndeliverableError, and reaches no error listener', async () => {
  const { a } = await pair({ graceMs: 200 });
  const errors = errorsOf(a);
  const noHold = await rejection<UndeliverableError>(
    a.to(9, { hold: false }).sendConfirmed({ order: 7 }),
  );
  expect(noHold).toBeInstanceOf(UndeliverableError);
  expect([noHold.target, noHold.event, noHold.data]).toEqual([9, 'message', { order: 7 }]);
  const held = await rejection<UndeliverableError>(a.to(9).emitConfirmed('n', 8));
  expect(held).toBeInstanceOf(UndeliverableError);
  expect([held.target, held.reason, held.event, held.data]).toEqual([9, 'grace-expired', 'n', [8]]);
  expect(errors).toEqual([]);
});

test('allConfirmed() rejects with the first failure among its messages, which is reported as usual too', async () => {
  const { a, read } = await pair({ graceMs: 200 });
  const errors = errorsOf(a);
  a.to(2).send('ok 1');
  a.to(9).send('lost');
  a.to(2).send('ok 2');
  const failure = await rejection<UndeliverableError>(a.allConfirmed());
  expect(failure).toBeInstanceOf(UndeliverableError);
  expect(failure.data).toBe('lost');
  expect(errors).toEqual([failure]);
  expect(read).toEqual(['ok 1', 'ok 2']);
});

test('send and sendConfirmed with more than one message refuse it with TooManyArgumentsError; nothing is queued', async () => {
  const ch = box.channel();
  const send = ch.to(1).send as (...args: unknown[]) => boolean;
  const err = thrown<TooManyArgumentsError>(() => send.call(ch.to(1), 'a', 'b'));
  expect(err).toBeInstanceOf(TooManyArgumentsError);
  expect(err.code).toBe('ERR_IPC_TOO_MANY_ARGUMENTS');
  expect(err.message).toBe(
    'send() takes one message but was given 2 arguments, and would send only the first. Send one value that holds them all (an array or an object), or use emit(event, ...args) to send several arguments.',
  );
  const confirmed = ch.to(1).sendConfirmed as (...args: unknown[]) => Promise<void>;
  const rejected = await rejection(confirmed.call(ch.to(1), 'a', 'b', 'c'));
  expect(rejected).toBeInstanceOf(TooManyArgumentsError);
  expect((rejected as Error).message).toContain(
    'sendConfirmed() takes one message but was given 3',
  );
  expect(ch.pendingBytes).toBe(0);
  // What send would throw, the confirmed forms reject with.
  expect(await rejection(ch.to(1).emitConfirmed('error', 1))).toHaveProperty(
    'code',
    'ERR_IPC_INVALID_EVENT',
  );
});

test('close() fails what is still awaited: queued messages with their verdict, held ones with ChannelClosedError', async () => {
  const queued = box.channel();
  const promise = queued.to(2).sendConfirmed('never sent');
  queued.on('error', () => {});
  await queued.close();
  const verdict = await rejection(promise);
  expect(verdict).toBeInstanceOf(UndeliverableError);
  expect(verdict).not.toBeInstanceOf(DeliveryUncertainError);

  const { a, b } = await pair({ graceMs: 10_000 });
  const held = b.to(7).sendConfirmed('held by the hub');
  await until(() => b.pendingBytes > 0 && a.peers.length === 2);
  await b.close(); // the hub (a) keeps it for id 7; b will never learn its fate
  const closed = await rejection(held);
  expect(closed).toBeInstanceOf(ChannelClosedError);
  expect((closed as Error).message).toContain('held it for a peer id nobody held');
});

describe('a channel with sends queued and no connect()', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  test('says so once, 5 s after the first send, through its logger', () => {
    jest.useFakeTimers();
    const warnings: string[] = [];
    const logger = { log() {}, error() {}, warn: (m: string) => warnings.push(m) };
    const ch = box.channel({ name: 'forgotten', logger });
    ch.to(1).send('a');
    jest.advanceTimersByTime(3000);
    ch.to('all').emit('n', 1);
    jest.advanceTimersByTime(1999);
    expect(warnings).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(warnings).toEqual([
      "Channel 'forgotten' has 2 messages queued, and connect() was not called 5 s after the first. Nothing is sent before it: call (and await) channel.connect(), or close() the channel.",
    ]);
    ch.to(1).send('b');
    jest.advanceTimersByTime(60_000);
    expect(warnings).toHaveLength(1);
  });

  test('without a logger, as a process warning; not at all once closed', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    // Jest gives each test file its own `process`: the warning is caught where it is emitted.
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const ch = box.channel({ name: 'forgotten' });
      ch.to(1).send('a');
      const closed = box.channel({ name: 'closed-in-time' });
      closed.to(1).send('a');
      closed.on('error', () => {});
      await closed.close();
      jest.advanceTimersByTime(5000);
      expect(emitWarning.mock.calls).toEqual([
        [
          "Channel 'forgotten' has 1 message queued, and connect() was not called 5 s after the first. Nothing is sent before it: call (and await) channel.connect(), or close() the channel.",
          { type: 'IpcChannelWarning', code: 'IPC_NOT_CONNECTED' },
        ],
      ]);
    } finally {
      emitWarning.mockRestore();
    }
  });
});
