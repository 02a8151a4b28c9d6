import { Dedup } from '../../src/channel/peer/dedup.js';
import { Membership } from '../../src/channel/peer/membership.js';

const rec = (id: number, incarnation: number, pid = process.pid) => ({
  id,
  incarnation,
  pid,
  meta: null,
});

test('a failover does not look like leaving: known peers stay, presumed, until seen again', () => {
  const m = new Membership();
  m.applySnapshot([rec(1, 11), rec(2, 22), rec(3, 33)]);
  expect(m.presumeAll(2)).toEqual([]); // all alive (our own pid)
  expect(m.ids()).toEqual([1, 2, 3]);
  expect(m.presumedAlive().map((p) => p.id)).toEqual([1, 3]);
  const change = m.applySnapshot([rec(2, 22), rec(3, 33)]);
  expect(change).toEqual({ left: [], joined: [] });
  expect(m.expirePresumed().map((p) => p.id)).toEqual([1]);
  expect(m.ids()).toEqual([2, 3]);
});

test('peers whose process is dead leave at once on failover', () => {
  const m = new Membership();
  m.applySnapshot([rec(1, 11, 2 ** 22 + 12345), rec(2, 22)]);
  expect(m.presumeAll(2).map((p) => p.id)).toEqual([1]);
  expect(m.ids()).toEqual([2]);
});

test('the same id with a new incarnation is a restart: the old one leaves, the new one joins', () => {
  const m = new Membership();
  m.applySnapshot([rec(1, 11)]);
  const change = m.applyJoin(rec(1, 99));
  expect(change.left.map((p) => p.incarnation)).toEqual([11]);
  expect(change.joined.map((p) => p.incarnation)).toEqual([99]);
  expect(m.applyLeave(1, 11)).toBeUndefined(); // stale leave of the old process
  expect(m.applyLeave(1, 99)?.id).toBe(1);
});

test('dedup drops copies per incarnation; a restarted sender starts a new stream', () => {
  const d = new Dedup();
  expect([1, 2, 3].map((s) => d.accept(7, s))).toEqual([true, true, true]);
  expect([2, 3, 4].map((s) => d.accept(7, s))).toEqual([false, false, true]);
  expect(d.accept(8, 1)).toBe(true);
  expect(d.accept(7, 4)).toBe(false);
});
