import { Outbox } from '../../src/channel/outbox.js';

const f = (n: number) => Buffer.alloc(n);

test('frames go out in order, at most a window at a time, and acks open the window again', () => {
  const box = new Outbox(3, 1_000_000);
  for (let s = 1; s <= 5; s++) box.add(s, f(10));
  expect(box.takeSendable()).toHaveLength(3);
  expect(box.hasSendable).toBe(false);
  expect(box.ack(2)).toBe(true);
  expect(box.ack(2)).toBe(false);
  expect(box.takeSendable()).toHaveLength(1);
  box.held(1); // held frames leave the window but stay unconfirmed
  expect(box.takeSendable()).toHaveLength(1);
  expect(box.size).toBe(4);
});

test('the byte window limits in-flight bytes', () => {
  const box = new Outbox(100, 25);
  for (let s = 1; s <= 4; s++) box.add(s, f(10));
  expect(box.takeSendable()).toHaveLength(3); // 10, 20, 30: stops after crossing 25
});

test('rewind writes every unconfirmed frame again in sequence order, acked ones excepted', () => {
  const box = new Outbox(100, 1_000_000);
  const frames = [1, 2, 3, 4, 5].map((s) => {
    const b = f(s);
    box.add(s, b);
    return b;
  });
  box.takeSendable();
  box.ack(2);
  box.held(4);
  box.rewind(true);
  expect(box.takeSendable()).toEqual([frames[0], frames[2], frames[3], frames[4]]);
});

test('pendingBytes counts every unconfirmed frame; nack hands the frame back', () => {
  const box = new Outbox(100, 1_000_000);
  box.add(1, f(100));
  box.add(2, f(50));
  const before = box.pendingBytes;
  expect(before).toBeGreaterThan(150);
  const lost = box.nack(1);
  expect(lost?.frame.length).toBe(100);
  expect(lost?.resent).toBe(false);
  expect(box.pendingBytes).toBeLessThan(before);
  box.ack(2);
  expect(box.pendingBytes).toBe(0);
  // An entry settled while still queued is skipped, not sent.
  box.add(3, f(1));
  box.ack(3);
  expect(box.takeSendable()).toEqual([]);
});

test('a frame written to a hub that died is nacked as resent; one never written, or after a handover, is not', () => {
  const box = new Outbox(1, 1_000_000);
  box.add(1, f(10));
  box.add(2, f(10));
  box.add(3, f(10));
  expect(box.takeSendable()).toHaveLength(1); // a window of one: 2 and 3 stay queued
  box.rewind(true);
  expect(box.nack(1)).toEqual({ frame: f(10), resent: true });
  expect(box.takeSendable()).toHaveLength(1); // 2 goes to the next hub, which hands over
  box.rewind(false);
  expect(box.nack(2)).toEqual({ frame: f(10), resent: false });
  expect(box.nack(3)).toEqual({ frame: f(10), resent: false });
});

test('an old frame still unconfirmed while thousands after it settle: lookups, rewind and counts stay exact', () => {
  const box = new Outbox(100_000, 1 << 30);
  const total = 20_000;
  for (let s = 1; s <= total; s++) box.add(s, f(1));
  expect(box.takeSendable()).toHaveLength(total);
  // Frame 1 waits (a slow reader); every other odd frame is acked, in a scattered order.
  const acked = new Set<number>();
  for (let s = total - 1; s >= 3; s -= 2) {
    expect(box.ack(s)).toBe(true);
    acked.add(s);
  }
  box.held(2);
  for (let s = 4; s <= total; s += 4) {
    expect(box.nack(s)?.frame).toHaveLength(1);
    acked.add(s);
  }
  expect(box.ack(3)).toBe(false);
  expect(box.has(1)).toBe(true);
  expect(box.has(3)).toBe(false);
  expect(box.has(6)).toBe(true);
  expect(box.size).toBe(total - acked.size);
  expect(box.pendingBytes).toBe((total - acked.size) * (1 + 96));
  box.rewind(true);
  const again = box.takeSendable();
  expect(again).toHaveLength(total - acked.size);
  for (let s = 1; s <= total; s++) expect(box.has(s)).toBe(!acked.has(s));
  for (let s = 1; s <= total; s++) if (!acked.has(s)) expect(box.ack(s)).toBe(true);
  expect(box.size).toBe(0);
  expect(box.pendingBytes).toBe(0);
  expect(box.unheldCount).toBe(0);
});
