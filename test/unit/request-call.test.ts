import { jest } from '@jest/globals';
import type { ReadPacket, WritePacket } from '@nestjs/microservices';
import { ChannelClosedError } from '../../src/channel/errors.js';
import {
  RequestCall,
  type RequestLedger,
  type RequestPipes,
} from '../../src/nest/client/request-call.js';
import {
  PeerLeftError,
  PeerUnavailableError,
  RequestTimeoutError,
} from '../../src/nest/ipc.errors.js';
import { InOrder } from '../../src/nest/protocol/in-order.js';
import type { PendingRequest } from '../../src/nest/shared/pending-requests.js';

type Packet = ReadPacket & { id: string };

/** Records what a request does to the process's requests in flight, in order. */
class FakeLedger implements RequestLedger {
  readonly calls: unknown[][] = [];
  hubId: number | undefined = 1;
  read = false;
  sendError: Error | undefined;

  send(target: number, id: string, raw: unknown, serialized: boolean, request: PendingRequest) {
    this.calls.push(['send', target, id, raw, serialized]);
    if (this.sendError !== undefined) throw this.sendError;
    request.seq = 7;
  }
  cancel(id: string) {
    this.calls.push(['cancel', id]);
  }
  wasRead(id: string) {
    this.calls.push(['wasRead', id]);
    return this.read;
  }
  settle(id: string) {
    this.calls.push(['settle', id]);
  }
  /** The wait a request asked for last: the test calls `back` or `expired` itself. */
  waiting: { back: () => void; expired: () => void; stopped: boolean } | undefined;
  whenBack(
    request: PendingRequest,
    back: () => void,
    expired: () => void,
    now = true,
    timed = false,
  ) {
    this.calls.push(['whenBack', request.target, now, timed]);
    const waiting = { back, expired, stopped: false };
    this.waiting = waiting;
    return () => {
      waiting.stopped = true;
    };
  }
}

interface Setup {
  call: RequestCall;
  ledger: FakeLedger;
  /** The packets the client's observer mapping received. */
  seen: WritePacket[];
  packet: Packet;
  pipes: RequestPipes;
}

const owner = {};

function setup(
  options: Partial<RequestPipes> & { closed?: boolean; mayWait?: boolean } = {},
  id = 'r.1',
): Setup {
  const { closed = false, mayWait = false, ...overrides } = options;
  const pipes: RequestPipes = {
    owner,
    customSerializer: false,
    customDeserializer: false,
    outgoing: new InOrder(),
    incoming: new InOrder(),
    timeoutMs: undefined,
    waitForRestart: false,
    serialize: (packet) => ({ serialized: packet }),
    deserialize: (raw) => raw as WritePacket,
    closedError: () => (closed ? new ChannelClosedError('send', 'closed.') : undefined),
    ...overrides,
  };
  const ledger = new FakeLedger();
  const seen: WritePacket[] = [];
  const call = new RequestCall(pipes, ledger, 3, 'sum', id, (p) => void seen.push(p), mayWait);
  return { call, ledger, seen, pipes, packet: { id, pattern: 'sum', data: [1, 2] } };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => {
  jest.useRealTimers();
});

test('a request goes out at once as the packet, and one final response settles it', () => {
  const { call, ledger, seen, packet } = setup();
  expect(call.seq).toBe(-1);
  expect(call.owner).toBe(owner);
  call.start(packet);
  expect(ledger.calls).toEqual([['send', 3, 'r.1', packet, false]]);
  expect(call.seq).toBe(7);

  call.onResponse({ response: 3, isDisposed: true });
  expect(seen).toEqual([{ response: 3, isDisposed: true }]);
  expect(ledger.calls.at(-1)).toEqual(['settle', 'r.1']);

  call.onResponse({ response: 4, isDisposed: true });
  call.onFailure(new Error('too late'));
  call.unsubscribe();
  expect(seen).toHaveLength(1);
  expect(ledger.calls).toHaveLength(2); // no second settle, no cancel
});

test('a stream stays open until its last packet; an error packet ends it too', () => {
  const streamed = setup();
  streamed.call.start(streamed.packet);
  streamed.call.onResponse({ response: 1 });
  streamed.call.onResponse({ response: 2 });
  expect(streamed.ledger.calls).toHaveLength(1);
  streamed.call.onResponse({ isDisposed: true });
  expect(streamed.seen).toEqual([{ response: 1 }, { response: 2 }, { isDisposed: true }]);
  expect(streamed.ledger.calls.at(-1)).toEqual(['settle', 'r.1']);

  const failed = setup();
  failed.call.start(failed.packet);
  failed.call.onResponse({ err: 'no handler' });
  failed.call.onResponse({ response: 5 });
  expect(failed.seen).toEqual([{ err: 'no handler' }]);
  expect(failed.ledger.calls.at(-1)).toEqual(['settle', 'r.1']);
});

test('a failure settles the request once and reaches the caller as an error packet', () => {
  const { call, ledger, seen, packet } = setup();
  call.start(packet);
  const gone = new Error('peer left');
  call.onFailure(gone);
  call.onFailure(new Error('again'));
  expect(seen).toEqual([{ err: gone, isDisposed: true }]);
  expect(ledger.calls).toEqual([
    ['send', 3, 'r.1', packet, false],
    ['settle', 'r.1'],
  ]);
});

test('unsubscribing before the response cancels it at the responder, once', () => {
  const { call, ledger, seen, packet } = setup();
  call.start(packet);
  call.unsubscribe();
  call.unsubscribe();
  call.onResponse({ response: 3, isDisposed: true });
  expect(seen).toEqual([]);
  expect(ledger.calls).toEqual([
    ['send', 3, 'r.1', packet, false],
    ['cancel', 'r.1'],
  ]);
});

test('a client closed before the request went out fails it without sending', () => {
  const { call, ledger, seen, packet } = setup({ closed: true });
  call.start(packet);
  expect(ledger.calls).toEqual([['settle', 'r.1']]);
  expect(seen).toHaveLength(1);
  expect(seen[0].err).toBeInstanceOf(ChannelClosedError);
  expect(seen[0].isDisposed).toBe(true);
});

test('a send the channel refuses fails the request with that error', () => {
  const { call, ledger, seen, packet } = setup();
  const refused = new Error('does not encode');
  ledger.sendError = refused;
  call.start(packet);
  expect(seen).toEqual([{ err: refused, isDisposed: true }]);
  expect(ledger.calls).toEqual([
    ['send', 3, 'r.1', packet, false],
    ['settle', 'r.1'],
  ]);
});

test('a custom serializer sees the packet and its output goes out marked serialized', () => {
  const { call, ledger, packet } = setup({ customSerializer: true });
  call.start(packet);
  expect(ledger.calls).toEqual([['send', 3, 'r.1', { serialized: packet }, true]]);
});

test('an async serializer sends in order, and not at all once the caller has left', async () => {
  const outgoing = new InOrder();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = async (packet: Packet) => {
    await gate;
    return { serialized: packet.id };
  };
  const quick = async (packet: Packet) => ({ serialized: packet.id });
  const first = setup({ customSerializer: true, outgoing, serialize: slow }, 'r.1');
  const second = setup({ customSerializer: true, outgoing, serialize: quick }, 'r.2');
  const left = setup({ customSerializer: true, outgoing, serialize: slow }, 'r.3');
  const sent: string[] = [];
  for (const { ledger } of [first, second, left]) {
    const send = ledger.send.bind(ledger);
    ledger.send = (target, id, raw, serialized, request) => {
      sent.push(id);
      send(target, id, raw, serialized, request);
    };
  }
  first.call.start(first.packet);
  second.call.start(second.packet);
  left.call.start(left.packet);
  left.call.unsubscribe();
  await settle();
  expect(sent).toEqual([]); // the second is ready, but waits for the first
  release();
  await settle();
  expect(sent).toEqual(['r.1', 'r.2']);
  expect(first.ledger.calls).toEqual([['send', 3, 'r.1', { serialized: 'r.1' }, true]]);
  expect(second.ledger.calls).toEqual([['send', 3, 'r.2', { serialized: 'r.2' }, true]]);
  expect(left.ledger.calls).toEqual([['cancel', 'r.3']]);
});

test('a serializer that throws fails the request without sending it', () => {
  const broken = new Error('cannot serialize');
  const { call, ledger, seen, packet } = setup({
    customSerializer: true,
    serialize: () => {
      throw broken;
    },
  });
  call.start(packet);
  expect(seen).toEqual([{ err: broken, isDisposed: true }]);
  expect(ledger.calls).toEqual([['settle', 'r.1']]);
});

test('a custom deserializer turns each response into a packet, in order', async () => {
  const deserialize = async (raw: unknown) => ({ response: `decoded ${String(raw)}` });
  const { call, seen, packet } = setup({ customDeserializer: true, deserialize });
  call.start(packet);
  call.onResponse('a');
  call.onResponse('b');
  expect(seen).toEqual([]);
  await settle();
  expect(seen).toEqual([{ response: 'decoded a' }, { response: 'decoded b' }]);
});

test('a deserializer that fails fails the request', async () => {
  const broken = new Error('cannot deserialize');
  const { call, ledger, seen, packet } = setup({
    customDeserializer: true,
    deserialize: () => Promise.reject(broken),
  });
  call.start(packet);
  call.onResponse('x');
  await settle();
  expect(seen).toEqual([{ err: broken, isDisposed: true }]);
  expect(ledger.calls.at(-1)).toEqual(['settle', 'r.1']);
});

test('no response within the timeout: the responder is told to stop and the caller learns where it stuck', () => {
  jest.useFakeTimers();
  for (const read of [false, true]) {
    const { call, ledger, seen, packet } = setup({ timeoutMs: 100 });
    ledger.read = read;
    ledger.hubId = 1;
    call.start(packet);
    jest.advanceTimersByTime(99);
    expect(seen).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(ledger.calls).toEqual([
      ['send', 3, 'r.1', packet, false],
      ['wasRead', 'r.1'],
      ['cancel', 'r.1'],
      ['settle', 'r.1'],
    ]);
    expect(seen).toHaveLength(1);
    const err = seen[0].err as RequestTimeoutError;
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect([err.peer, err.pattern, err.ms, err.read]).toEqual([3, 'sum', 100, read]);
    expect(err.message).toContain("the hub's process, peer 1");
    expect(seen[0].isDisposed).toBe(true);
  }
});

test('a response in time clears the timeout', () => {
  jest.useFakeTimers();
  const { call, ledger, seen, packet } = setup({ timeoutMs: 100 });
  call.start(packet);
  call.onResponse({ response: 3, isDisposed: true });
  expect(jest.getTimerCount()).toBe(0);
  jest.advanceTimersByTime(1000);
  expect(seen).toEqual([{ response: 3, isDisposed: true }]);
  expect(ledger.calls).toEqual([
    ['send', 3, 'r.1', packet, false],
    ['settle', 'r.1'],
  ]);
});

test('a request that failed while being sent starts no timer', () => {
  jest.useFakeTimers();
  const { call, packet } = setup({ timeoutMs: 100, closed: true });
  call.start(packet);
  expect(jest.getTimerCount()).toBe(0);
});

const restarting = () =>
  new PeerUnavailableError(3, 'sum', false, { kind: 'restarting', leftMsAgo: 5 });

test('with waitForRestart, a request refused by a restarting peer goes again, as it was, once the peer is back', () => {
  const { call, ledger, seen, packet } = setup({ waitForRestart: true, mayWait: true });
  call.start(packet);
  call.onFailure(restarting());
  expect(seen).toEqual([]);
  ledger.waiting!.back();
  call.onFailure(restarting()); // refused again: this time only a new join counts
  ledger.waiting!.back();
  call.onResponse({ response: 3, isDisposed: true });
  expect(seen).toEqual([{ response: 3, isDisposed: true }]);
  expect(ledger.calls).toEqual([
    ['send', 3, 'r.1', packet, false],
    ['whenBack', 3, true, false],
    ['send', 3, 'r.1', packet, false],
    ['whenBack', 3, false, false],
    ['send', 3, 'r.1', packet, false],
    ['settle', 'r.1'],
  ]);
});

test('only a request that provably did not run waits: a left peer, an unknown id, or no opt-in fail at once', () => {
  const cases: [Error, Partial<RequestPipes> & { mayWait?: boolean }][] = [
    [new PeerLeftError(3, 'sum'), { waitForRestart: true, mayWait: true }],
    [
      new PeerUnavailableError(3, 'sum', false, { kind: 'unknown' }),
      { waitForRestart: true, mayWait: true },
    ],
    [restarting(), { waitForRestart: false, mayWait: true }],
    [restarting(), { waitForRestart: true, mayWait: false }],
  ];
  for (const [error, options] of cases) {
    const { call, ledger, seen, packet } = setup(options);
    call.start(packet);
    call.onFailure(error);
    expect(seen).toEqual([{ err: error, isDisposed: true }]);
    expect(ledger.calls).toEqual([
      ['send', 3, 'r.1', packet, false],
      ['settle', 'r.1'],
    ]);
  }
});

test('a peer not back in time fails the request with the refusal; a timeout while waiting says it waited', () => {
  const late = setup({ waitForRestart: true, mayWait: true });
  late.call.start(late.packet);
  const refusal = restarting();
  late.call.onFailure(refusal);
  late.ledger.waiting!.expired();
  expect(late.seen).toEqual([{ err: refusal, isDisposed: true }]);

  jest.useFakeTimers();
  const timed = setup({ waitForRestart: true, mayWait: true, timeoutMs: 100 });
  timed.call.start(timed.packet);
  timed.call.onFailure(restarting());
  // Its own timeout ends the wait, not the restart window.
  expect(timed.ledger.calls.at(-1)).toEqual(['whenBack', 3, true, true]);
  jest.advanceTimersByTime(100);
  expect(timed.ledger.waiting!.stopped).toBe(true);
  const err = timed.seen[0].err as RequestTimeoutError;
  expect(err).toBeInstanceOf(RequestTimeoutError);
  expect([err.peer, err.read, err.waitedForRestart]).toEqual([3, false, true]);
  expect(err.message).toBe(
    "Peer 3 did not come back within 100 ms: 'sum' waited for its restart and was not sent to any process. Retry later, or raise the client's 'timeout' option if restarts take longer.",
  );
});
