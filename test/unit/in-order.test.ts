import { InOrder, isPromiseLike } from '../../src/nest/protocol/in-order.js';
import { nextTickThrows } from '../helpers/next-tick-throws.js';

/** What the callbacks saw, in the order they saw it. */
type Seen = Array<['ok', unknown] | ['fail', unknown]>;

/** A promise with its settle functions outside, to decide when an async result is ready. */
function later<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued promise reaction run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder(seen: Seen) {
  return {
    deliver: (value: unknown) => void seen.push(['ok', value]),
    fail: (error: unknown) => void seen.push(['fail', error]),
  };
}

test('a synchronous result is handed on before run() returns, with no promise in between', () => {
  const order = new InOrder();
  const seen: Seen = [];
  const { deliver, fail } = recorder(seen);
  order.run(() => 1, deliver, fail);
  expect(seen).toEqual([['ok', 1]]);
  const boom = new Error('boom');
  order.run(
    () => {
      throw boom;
    },
    deliver,
    fail,
  );
  expect(seen).toEqual([
    ['ok', 1],
    ['fail', boom],
  ]);
  expect(order.idle).toBe(true);
});

test('results leave in the order they came in, whichever finishes first', async () => {
  const order = new InOrder();
  const seen: Seen = [];
  const { deliver, fail } = recorder(seen);
  const first = later<string>();
  const second = later<string>();
  const rejected = later<string>();
  const thrown = new Error('thrown while queued');
  const refused = new Error('rejected');

  order.run(() => first.promise, deliver, fail);
  expect(order.idle).toBe(false);
  order.run(() => second.promise, deliver, fail);
  order.run(() => 'sync, behind two async ones', deliver, fail);
  order.run(
    () => {
      throw thrown;
    },
    deliver,
    fail,
  );
  order.run(() => rejected.promise, deliver, fail);
  order.run(() => 'last', deliver, fail);

  second.resolve('second');
  rejected.reject(refused);
  await settle();
  expect(seen).toEqual([]); // everything waits for the first
  expect(order.idle).toBe(false);

  first.resolve('first');
  await settle();
  expect(seen).toEqual([
    ['ok', 'first'],
    ['ok', 'second'],
    ['ok', 'sync, behind two async ones'],
    ['fail', thrown],
    ['fail', refused],
    ['ok', 'last'],
  ]);
  expect(order.idle).toBe(true);

  order.run(() => 'direct again', deliver, fail);
  expect(seen.at(-1)).toEqual(['ok', 'direct again']);
});

test('a throwing callback surfaces on the next tick and the queue keeps moving', async () => {
  const order = new InOrder();
  const seen: Seen = [];
  const { deliver, fail } = recorder(seen);
  const bug = new Error('a bug in the callback');
  const surfaced = await nextTickThrows(async () => {
    order.run(
      () => Promise.resolve(1),
      () => {
        throw bug;
      },
      fail,
    );
    order.run(() => 2, deliver, fail);
    await settle();
  });
  expect(surfaced).toEqual([bug]);
  expect(seen).toEqual([['ok', 2]]);
  expect(order.idle).toBe(true);
});

test('a rejection waiting its turn is never reported as unhandled', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const order = new InOrder();
    const seen: Seen = [];
    const { deliver, fail } = recorder(seen);
    const first = later<number>();
    const refused = new Error('refused early');
    order.run(() => first.promise, deliver, fail);
    order.run(() => Promise.reject(refused), deliver, fail);
    await settle();
    await settle();
    first.resolve(1);
    await settle();
    expect(seen).toEqual([
      ['ok', 1],
      ['fail', refused],
    ]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  expect(unhandled).toEqual([]);
});

test('isPromiseLike knows thenables from values', () => {
  expect(isPromiseLike(Promise.resolve(1))).toBe(true);
  expect(isPromiseLike({ then: () => undefined })).toBe(true);
  expect(isPromiseLike({ then: 1 })).toBe(false);
  expect(isPromiseLike(null)).toBe(false);
  expect(isPromiseLike(undefined)).toBe(false);
  expect(isPromiseLike(() => undefined)).toBe(false);
  expect(isPromiseLike('then')).toBe(false);
});
