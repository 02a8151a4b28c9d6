import { afterEach, beforeEach, jest } from '@jest/globals';
import { ConnectionState, HubConnection } from '../../src/channel/hub/hub-connection.js';
import { type ExpectedPeer, IdAllocator } from '../../src/channel/hub/id-allocator.js';
import type { FrameDuplex } from '../../src/channel/io/frame-duplex.js';
import { Log } from '../../src/channel/logger.js';
import type { ClaimKind } from '../../src/channel/wire/handshake.js';

/** A connection with no pipe behind it: the allocator reads only its fields. */
function conn(incarnation: number, pid = 1000 + incarnation): HubConnection {
  const c = new HubConnection({} as FrameDuplex, false, `nonce-${incarnation}`);
  c.incarnation = incarnation;
  c.pid = pid;
  return c;
}

/** An allocator whose outcomes are recorded, and whose processes live while their pid is in `alive`. */
class Harness {
  readonly alive = new Set<number>();
  readonly granted: [incarnation: number, id: number][] = [];
  readonly rejected: [incarnation: number, reason: string][] = [];
  readonly replaced: HubConnection[] = [];
  readonly dropped: number[] = [];
  readonly ids: IdAllocator;

  constructor(options: { expected?: ExpectedPeer[]; rejoinWindowMs?: number } = {}) {
    this.ids = new IdAllocator({
      expected: options.expected ?? [],
      graceMs: 1000,
      rejoinWindowMs: options.rejoinWindowMs ?? 0,
      log: new Log(undefined),
      isAlive: (pid) => this.alive.has(pid),
      onGrant: (c) => this.granted.push([c.incarnation, c.id]),
      onReject: (c, reject) => {
        this.rejected.push([c.incarnation, reject.reason]);
        c.state = ConnectionState.Left;
      },
      onReplaced: (stale) => {
        this.replaced.push(stale);
        this.close(stale);
      },
      onReservationDropped: (id) => this.dropped.push(id),
    });
  }

  claim(c: HubConnection, kind: ClaimKind, id = 0, waitMs = 500): HubConnection {
    this.ids.claim(c, kind, id, waitMs);
    return c;
  }

  /** What the hub does when a joined connection closes without a Leave. */
  close(c: HubConnection): void {
    c.state = ConnectionState.Closed;
    this.ids.stopWaiting(c);
    this.ids.vacate(c);
    this.ids.release(c.id, c);
  }
}

let h: Harness;

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  h.ids.stop();
  jest.useRealTimers();
});

test('claims of any id get the lowest free one, and a freed id is given again', () => {
  h = new Harness();
  const a = h.claim(conn(1), 'none');
  h.claim(conn(2), 'none');
  h.claim(conn(3), 'none');
  expect(h.granted).toEqual([
    [1, 1],
    [2, 2],
    [3, 3],
  ]);
  expect(a.state).toBe(ConnectionState.Joined);
  expect(h.ids.holders.get(1)).toBe(a);
  h.close(a);
  h.claim(conn(4), 'none');
  expect(h.granted[3]).toEqual([4, 1]);
});

test('an explicit claim gets its id, or is refused when the id is held or out of range', () => {
  h = new Harness();
  h.claim(conn(1), 'explicit', 5);
  h.claim(conn(2), 'explicit', 5);
  h.claim(conn(3), 'explicit', 0);
  h.claim(conn(4), 'explicit', 0xfffe);
  h.claim(conn(5), 'rejoin', 1.5);
  expect(h.granted).toEqual([[1, 5]]);
  expect(h.rejected).toEqual([
    [2, 'id-taken'],
    [3, 'invalid-id'],
    [4, 'invalid-id'],
    [5, 'invalid-id'],
  ]);
  // The lowest free id is still 1: an explicit id leaves no gap behind it.
  h.claim(conn(6), 'none');
  expect(h.granted[1]).toEqual([6, 1]);
});

test('the same process claiming its id again replaces its stale connection', () => {
  h = new Harness();
  const old = h.claim(conn(7), 'rejoin', 3);
  const again = h.claim(conn(7), 'rejoin', 3);
  expect(h.replaced).toEqual([old]);
  expect(h.granted).toEqual([
    [7, 3],
    [7, 3],
  ]);
  expect(h.ids.holders.get(3)).toBe(again);
});

test('an id whose holder said Leave stays taken until its connection closes', () => {
  h = new Harness();
  const a = h.claim(conn(1), 'none');
  h.ids.vacate(a);
  h.ids.markLeaving(1);
  h.claim(conn(2), 'explicit', 1);
  h.claim(conn(3), 'none');
  expect(h.rejected).toEqual([[2, 'id-taken']]);
  expect(h.granted[1]).toEqual([3, 2]);
  h.ids.release(1);
  h.claim(conn(4), 'explicit', 1);
  expect(h.granted[2]).toEqual([4, 1]);
});

test('a free preferred id is granted at once', () => {
  h = new Harness();
  h.claim(conn(1), 'preferred', 4);
  expect(h.granted).toEqual([[1, 4]]);
});

test('a taken preferred id is waited for, and granted when its holder goes', () => {
  h = new Harness();
  const holder = h.claim(conn(1), 'explicit', 2);
  const waiter = h.claim(conn(2), 'preferred', 2, 500);
  expect(waiter.state).toBe(ConnectionState.Waiting);
  expect(waiter.wantedId).toBe(2);
  expect(h.ids.isWanted(2)).toBe(true);
  expect(h.ids.isWanted(2, waiter)).toBe(false);
  jest.advanceTimersByTime(300);
  h.close(holder);
  expect(h.granted).toEqual([
    [1, 2],
    [2, 2],
  ]);
  expect(waiter.state).toBe(ConnectionState.Joined);
  expect(waiter.wantedId).toBe(0);
  // Its wait is over: the timer no longer gives it another id.
  jest.advanceTimersByTime(1000);
  expect(h.granted).toHaveLength(2);
});

test('a preferred id still taken after waitMs: the waiter gets the lowest free id', () => {
  h = new Harness();
  h.claim(conn(1), 'none');
  h.claim(conn(2), 'none');
  const waiter = h.claim(conn(3), 'preferred', 1, 500);
  jest.advanceTimersByTime(499);
  expect(h.granted).toHaveLength(2);
  jest.advanceTimersByTime(1);
  expect(h.granted[2]).toEqual([3, 3]);
  expect(waiter.id).toBe(3);
  expect(h.ids.isWanted(1)).toBe(false);
});

test('the lowest free id skips an id that another connection waits for', () => {
  // Id 1 is kept for a survivor, so a newcomer who prefers it waits; the survivor dies.
  h = new Harness({ expected: [{ id: 1, pid: 501, incarnation: 51 }] });
  h.alive.add(501);
  const waiter = h.claim(conn(2), 'preferred', 1, 500);
  expect(waiter.state).toBe(ConnectionState.Waiting);
  h.alive.delete(501);
  h.claim(conn(3), 'none');
  expect(h.dropped).toEqual([1]);
  expect(h.granted).toEqual([[3, 2]]);
  // When its wait ends, the waiter takes the id it wanted, now free.
  jest.advanceTimersByTime(500);
  expect(h.granted[1]).toEqual([2, 1]);
});

test('ids of survivors expected back are reserved while they live', () => {
  h = new Harness({
    expected: [
      { id: 1, pid: 501, incarnation: 51 },
      { id: 3, pid: 503, incarnation: 53 },
    ],
  });
  h.alive.add(501);
  h.alive.add(503);
  h.claim(conn(10), 'none');
  h.claim(conn(11), 'explicit', 3);
  h.claim(conn(53), 'rejoin', 3);
  expect(h.granted).toEqual([
    [10, 2],
    [53, 3],
  ]);
  expect(h.rejected).toEqual([[11, 'id-taken']]);
  expect([...h.ids.reservations.keys()]).toEqual([1]);
  // The survivor of id 1 dies: the next check drops its reservation, and the id is free.
  h.alive.delete(501);
  jest.advanceTimersByTime(200);
  expect(h.dropped).toEqual([1]);
  h.claim(conn(12), 'none');
  expect(h.granted[2]).toEqual([12, 1]);
});

test('a claim finds a dead survivor at once, without waiting for the check', () => {
  h = new Harness({ expected: [{ id: 1, pid: 501, incarnation: 51 }] });
  h.claim(conn(10), 'explicit', 1);
  expect(h.dropped).toEqual([1]);
  expect(h.granted).toEqual([[10, 1]]);
});

test('reservations end after graceMs even for survivors that live', () => {
  h = new Harness({ expected: [{ id: 1, pid: 501, incarnation: 51 }] });
  h.alive.add(501);
  jest.advanceTimersByTime(800);
  expect(h.dropped).toEqual([]);
  jest.advanceTimersByTime(200);
  expect(h.dropped).toEqual([1]);
  expect(h.ids.reservations.size).toBe(0);
});

test('a rejoin yields a reservation made for another incarnation of its id', () => {
  h = new Harness({ expected: [{ id: 2, pid: 502, incarnation: 52 }] });
  h.alive.add(502);
  h.claim(conn(60), 'rejoin', 2);
  expect(h.granted).toEqual([[60, 2]]);
  expect(h.dropped).toEqual([]);
});

test('a rejoining peer names survivors a new hub did not know: their ids are kept', () => {
  h = new Harness();
  h.alive.add(504);
  h.ids.learnExpected([
    { id: 4, pid: 504, incarnation: 54 },
    { id: 5, pid: 505, incarnation: 55 }, // dead
    { id: 0, pid: 504, incarnation: 56 }, // not an id
    'junk',
  ]);
  expect([...h.ids.reservations.values()]).toEqual([{ id: 4, pid: 504, incarnation: 54 }]);
  for (let i = 0; i < 4; i++) h.claim(conn(70 + i), 'none');
  expect(h.granted.map(([, id]) => id)).toEqual([1, 2, 3, 5]);
  // Once graceMs are over, nobody is learnt any more.
  jest.advanceTimersByTime(1000);
  h.ids.learnExpected([{ id: 9, pid: 504, incarnation: 59 }]);
  expect(h.ids.reservations.size).toBe(0);
});

test('during the rejoin window rejoiners are served first, then newcomers in order', () => {
  h = new Harness({ rejoinWindowMs: 300 });
  const first = h.claim(conn(1), 'none');
  h.claim(conn(2), 'preferred', 1);
  const gone = h.claim(conn(3), 'none');
  h.claim(conn(4), 'none');
  h.claim(conn(5), 'rejoin', 1);
  h.claim(conn(6), 'explicit', 2);
  expect(h.granted).toEqual([
    [5, 1],
    [6, 2],
  ]);
  expect(first.state).toBe(ConnectionState.Greeting);
  gone.state = ConnectionState.Closed;
  jest.advanceTimersByTime(300);
  expect(h.granted.slice(2)).toEqual([
    [1, 3],
    [4, 4],
  ]);
  // The newcomer that preferred id 1 waits for it, as outside the window.
  expect(h.ids.isWanted(1)).toBe(true);
});

test('the id of a live process whose connection closed is kept for it for graceMs: others get other ids, it gets its own back', () => {
  h = new Harness();
  const stalled = h.claim(conn(1), 'none');
  h.claim(conn(2), 'none');
  h.alive.add(stalled.pid);
  h.close(stalled);
  // A newcomer skips it; an explicit claim of it is refused; the same process rejoins.
  h.claim(conn(3), 'none');
  h.claim(conn(4), 'explicit', 1);
  const back = h.claim(conn(1), 'rejoin', 1);
  expect(h.granted).toEqual([
    [1, 1],
    [2, 2],
    [3, 3],
    [1, 1],
  ]);
  expect(h.rejected).toEqual([[4, 'id-taken']]);
  // Once its process is gone, the id is free to anyone.
  h.alive.delete(back.pid);
  h.close(back);
  h.claim(conn(5), 'none');
  expect(h.granted.at(-1)).toEqual([5, 1]);
});

test('a kept id is free to anyone once graceMs has passed', () => {
  h = new Harness();
  const stalled = h.claim(conn(1), 'none');
  h.alive.add(stalled.pid);
  h.close(stalled);
  jest.advanceTimersByTime(999);
  h.claim(conn(2), 'none');
  jest.advanceTimersByTime(1);
  h.claim(conn(3), 'none');
  expect(h.granted).toEqual([
    [1, 1],
    [2, 2],
    [3, 1],
  ]);
});

test('a successor waiting for the id of a live process whose connection broke waits until that process has left', () => {
  h = new Harness();
  const old = h.claim(conn(1), 'preferred', 1);
  h.alive.add(old.pid);
  const next = h.claim(conn(2), 'preferred', 1, 5000);
  expect(h.ids.isWanted(1)).toBe(true);
  // The old process deposed a silent hub, say: its connection closes, and it comes back.
  h.close(old);
  expect(h.granted).toEqual([[1, 1]]);
  const back = h.claim(conn(1), 'rejoin', 1);
  expect(back.id).toBe(1);
  // It retires and leaves (the hub sees Leave, then the connection close): the successor's turn.
  back.state = ConnectionState.Closed;
  h.ids.vacate(back);
  h.ids.release(1);
  expect(h.granted).toEqual([
    [1, 1],
    [1, 1],
    [2, 1],
  ]);
  expect(next.id).toBe(1);
});

test('the id of a broken connection goes to the waiting successor once its process is seen dead', () => {
  h = new Harness();
  const old = h.claim(conn(1), 'preferred', 1);
  h.alive.add(old.pid);
  const next = h.claim(conn(2), 'preferred', 1, 5000);
  h.close(old);
  jest.advanceTimersByTime(600);
  expect(next.state).toBe(ConnectionState.Waiting);
  h.alive.delete(old.pid);
  jest.advanceTimersByTime(200);
  expect(next.id).toBe(1);
  expect(h.granted.at(-1)).toEqual([2, 1]);
});
