import { afterEach, beforeEach, jest } from '@jest/globals';
import { DeliveryRecord } from '../../src/channel/hub/delivery-record.js';
import { HoldQueues } from '../../src/channel/hub/hold-queues.js';
import { HubConnection } from '../../src/channel/hub/hub-connection.js';
import type { FrameDuplex } from '../../src/channel/io/frame-duplex.js';

/** The sender of every record: the hold queues never touch it, nor its pipe. */
const sender = new HubConnection({} as FrameDuplex, false, 'nonce');

/** A unicast record for `target` with a frame of `bytes` bytes; `seq` names it. */
function record(seq: number, bytes = 10, target = 7): DeliveryRecord {
  return new DeliveryRecord(sender, seq, Buffer.alloc(bytes, seq), target, false);
}

const seqs = (records: DeliveryRecord[]) => records.map((r) => r.seq);

let expired: [seq: number, target: number][];
let holds: HoldQueues;

beforeEach(() => {
  jest.useFakeTimers();
  expired = [];
  holds = new HoldQueues({
    graceMs: 1000,
    maxBytes: 100,
    onExpire: (r, target) => expired.push([r.seq, target]),
  });
});

afterEach(() => {
  holds.clear();
  jest.useRealTimers();
});

test('frames are released in the order they were held, once', () => {
  for (const seq of [1, 2, 3]) expect(holds.hold(7, record(seq))).toBe(true);
  holds.hold(8, record(4, 10, 8));
  expect(holds.size).toBe(4);
  expect(holds.targets()).toEqual([7, 8]);
  expect(seqs(holds.release(7))).toEqual([1, 2, 3]);
  expect(holds.release(7)).toEqual([]);
  expect(holds.targets()).toEqual([8]);
});

test("a departed peer's unread frames go ahead of those held since, in their own order", () => {
  holds.hold(7, record(10));
  holds.hold(7, record(11));
  // The hub puts unread frames back last to first, each at the front.
  holds.holdFront(7, record(2));
  holds.holdFront(7, record(1));
  expect(seqs(holds.release(7))).toEqual([1, 2, 10, 11]);
});

test('a held frame is copied out of the read it came in, once', () => {
  const r = record(1);
  const original = r.frame;
  holds.hold(7, r);
  expect(r.copied).toBe(true);
  expect(r.frame).not.toBe(original);
  expect(r.frame).toEqual(original);
  const copy = r.frame;
  holds.release(7);
  holds.hold(8, r);
  expect(r.frame).toBe(copy);
});

test('all ids together hold at most maxBytes; what leaves frees its bytes', () => {
  expect(holds.hold(7, record(1, 60))).toBe(true);
  expect(holds.hold(7, record(2, 41))).toBe(false);
  expect(holds.holdFront(7, record(3, 41))).toBe(false);
  expect(holds.hold(8, record(4, 41, 8))).toBe(false); // another id shares the same bytes
  expect(holds.hold(8, record(5, 40, 8))).toBe(true); // exactly full
  expect(holds.bytes).toBe(100);
  expect(holds.hold(9, record(6, 1, 9))).toBe(false);
  expect(holds.targets()).toEqual([7, 8]);
  expect(seqs(holds.remove(7, (r) => r.seq === 1))).toEqual([1]);
  expect(holds.bytes).toBe(40);
  expect(holds.hold(9, record(7, 60, 9))).toBe(true);
  expect(holds.hold(7, record(8, 1))).toBe(false);
  expect(seqs(holds.release(8))).toEqual([5]);
  expect(holds.hold(7, record(9, 40))).toBe(true);
  expect(holds.bytes).toBe(100);
});

test('600 ids of 1 KiB each under a 64 KiB cap: the first 64 are held, the rest refused, expiry frees them', () => {
  const big = new HoldQueues({ graceMs: 1000, maxBytes: 64 * 1024, onExpire: () => {} });
  let held = 0;
  for (let id = 1; id <= 600; id++) if (big.hold(id, record(id, 1024, id))) held++;
  expect(held).toBe(64);
  expect(big.bytes).toBe(64 * 1024);
  jest.advanceTimersByTime(1000);
  expect(big.bytes).toBe(0);
  expect(big.targets()).toEqual([]);
  big.clear();
});

test('remove takes the selected frames and keeps the rest in order', () => {
  for (const seq of [1, 2, 3, 4, 5]) holds.hold(7, record(seq));
  expect(seqs(holds.remove(7, (r) => r.seq % 2 === 0))).toEqual([2, 4]);
  expect(holds.remove(7, () => false)).toEqual([]);
  expect(seqs(holds.remove(8, () => true))).toEqual([]);
  expect(seqs(holds.release(7))).toEqual([1, 3, 5]);
});

test('removing everything held for an id forgets the id and its expiry', () => {
  holds.hold(7, record(1));
  holds.remove(7, () => true);
  expect(holds.targets()).toEqual([]);
  jest.advanceTimersByTime(2000);
  expect(expired).toEqual([]);
});

test('each frame expires graceMs after it was held, oldest first', () => {
  holds.hold(7, record(1));
  jest.advanceTimersByTime(400);
  holds.hold(7, record(2));
  jest.advanceTimersByTime(100);
  holds.hold(8, record(3, 10, 8));
  jest.advanceTimersByTime(499);
  expect(expired).toEqual([]);
  jest.advanceTimersByTime(1);
  expect(expired).toEqual([[1, 7]]);
  expect(holds.size).toBe(2);
  jest.advanceTimersByTime(400);
  expect(expired).toEqual([
    [1, 7],
    [2, 7],
  ]);
  jest.advanceTimersByTime(99);
  expect(expired).toHaveLength(2);
  jest.advanceTimersByTime(1);
  expect(expired[2]).toEqual([3, 8]);
  expect(holds.size).toBe(0);
  expect(holds.targets()).toEqual([]);
  // Expired frames gave their bytes back.
  expect(holds.hold(7, record(4, 100))).toBe(true);
});

test('a frame put back at the front expires by its own deadline', () => {
  holds.hold(7, record(10));
  jest.advanceTimersByTime(500);
  holds.holdFront(7, record(1));
  jest.advanceTimersByTime(500);
  // The front frame is not due yet, so nothing behind it expires either: order is kept.
  expect(expired).toEqual([]);
  jest.advanceTimersByTime(500);
  expect(expired).toEqual([
    [1, 7],
    [10, 7],
  ]);
});

test('clear forgets everything, and nothing expires afterwards', () => {
  holds.hold(7, record(1));
  holds.hold(8, record(2, 10, 8));
  holds.clear();
  expect(holds.size).toBe(0);
  jest.advanceTimersByTime(2000);
  expect(expired).toEqual([]);
});

test('while the successor of an id is starting, its frames outlive graceMs, up to startingMs more', () => {
  let starting = true;
  const kept: number[] = [];
  const q = new HoldQueues({
    graceMs: 1000,
    maxBytes: 1000,
    onExpire: (r) => kept.push(r.seq),
    successorStarting: (id) => id === 7 && starting,
    startingMs: 5000,
  });
  q.hold(7, record(1));
  q.hold(8, record(2, 10, 8));
  jest.advanceTimersByTime(1000);
  expect(kept).toEqual([2]); // id 8 has no successor starting
  jest.advanceTimersByTime(3000);
  expect(kept).toEqual([2]);
  expect(q.size).toBe(1);
  // The successor took another id (it waited too long): the frame expires at the next look.
  starting = false;
  jest.advanceTimersByTime(250);
  expect(kept).toEqual([2, 1]);

  starting = true;
  q.hold(7, record(3));
  jest.advanceTimersByTime(1000 + 5000);
  expect(kept).toEqual([2, 1, 3]); // never past graceMs + startingMs
  q.clear();
});
