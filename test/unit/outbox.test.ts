import { Outbox, type OutboxEntry } from '../../src/channel/peer/outbox.js';

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
  expect(lost?.mayHaveBeenRead).toBe(false);
  expect(box.pendingBytes).toBeLessThan(before);
  box.ack(2);
  expect(box.pendingBytes).toBe(0);
  // An entry settled while still queued is skipped, not sent.
  box.add(3, f(1));
  box.ack(3);
  expect(box.takeSendable()).toEqual([]);
});

test('a frame written to a hub that died, or that the hub says reached a target which left unconfirmed, may have been read; one never written, or after a handover, may not', () => {
  const box = new Outbox(1, 1_000_000);
  for (let s = 1; s <= 4; s++) box.add(s, f(10));
  expect(box.takeSendable()).toHaveLength(1); // a window of one: 2 to 4 stay queued
  box.rewind(true);
  expect(box.nack(1)).toEqual({ frame: f(10), mayHaveBeenRead: true });
  expect(box.takeSendable()).toHaveLength(1); // 2 goes to the next hub, which hands over
  box.rewind(false);
  expect(box.nack(2)).toEqual({ frame: f(10), mayHaveBeenRead: false });
  expect(box.takeSendable()).toHaveLength(1); // 3 goes to the next hub
  box.unconfirmed(3); // its target read it, perhaps, and died
  expect(box.nack(3)).toEqual({ frame: f(10), mayHaveBeenRead: true });
  expect(box.nack(4)).toEqual({ frame: f(10), mayHaveBeenRead: false });
});

test('closing for good: queued frames were not delivered, written ones may have been read, held ones stay with the hub unless it is ours', () => {
  const box = new Outbox(100, 1_000_000);
  for (let s = 1; s <= 4; s++) box.add(s, f(s));
  box.takeSendable(); // 1-4 written to the hub
  box.held(2);
  box.held(3);
  box.unconfirmed(3); // held again after its target left unconfirmed
  box.add(5, f(5)); // never written
  expect(box.takeAll(false)).toEqual([
    { frame: f(1), mayHaveBeenRead: true },
    { frame: f(4), mayHaveBeenRead: true },
    { frame: f(5), mayHaveBeenRead: false },
  ]);
  const own = new Outbox(100, 1_000_000);
  for (let s = 1; s <= 3; s++) own.add(s, f(s));
  own.takeSendable();
  own.held(1);
  own.held(2);
  own.unconfirmed(2);
  expect(own.takeAll(true)).toEqual([
    { frame: f(1), mayHaveBeenRead: false },
    { frame: f(2), mayHaveBeenRead: true },
    { frame: f(3), mayHaveBeenRead: true },
  ]);
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

describe('two paths: the hub and direct links', () => {
  /** Frames of 10 bytes for a target; the outbox reads the target from the header. */
  const to = (target: number) => {
    const b = Buffer.alloc(24);
    b.writeUInt16LE(target, 6);
    return b;
  };
  class Links {
    open = new Set<number>();
    sent: [number, number][] = [];
    entries = new Map<number, OutboxEntry[]>();
    canSend(t: number) {
      return this.open.has(t);
    }
    send(t: number, entry: OutboxEntry) {
      this.sent.push([t, entry.seq]);
      const list = this.entries.get(t) ?? [];
      list.push(entry);
      this.entries.set(t, list);
    }
  }
  const seqsOf = (box: Outbox, frames: Buffer[], all: Buffer[]) =>
    frames.map((f) => all.indexOf(f) + 1);

  test('a unicast takes an open link; a broadcast waits until the link confirmed what it carries', () => {
    const box = new Outbox(100, 1_000_000);
    const links = new Links();
    links.open.add(3);
    const all = [to(3), to(3), to(0xffff), to(3), to(4)];
    all.forEach((f, i) => box.add(i + 1, f));
    // 1 and 2 go direct; the broadcast 3 must not overtake them on the hub path.
    expect(box.takeSendable(links)).toEqual([]);
    expect(links.sent).toEqual([
      [3, 1],
      [3, 2],
    ]);
    expect(box.hasSendable).toBe(true);
    for (const e of links.entries.get(3)!) box.confirm(e);
    // Now the broadcast goes through the hub, and so must 4 (the hub has a frame for 3 unacked).
    const hub = box.takeSendable(links);
    expect(seqsOf(box, hub, all)).toEqual([3, 4, 5]);
    expect(links.sent).toHaveLength(2);
    box.ack(3);
    box.ack(5);
    all.push(to(3));
    box.add(6, all[5]!);
    // 4 is still on the hub path: 6 follows it there rather than overtake it on the link.
    expect(seqsOf(box, box.takeSendable(links), all)).toEqual([6]);
    box.ack(4);
    box.ack(6);
    box.add(7, to(3));
    expect(box.takeSendable(links)).toEqual([]);
    expect(links.sent.at(-1)).toEqual([3, 7]);
    expect(box.directSize).toBe(1);
  });

  test('a link that closes hands its unconfirmed entries to the hub, in order, before later ones', () => {
    const box = new Outbox(100, 1_000_000);
    const links = new Links();
    links.open.add(3);
    const all = [to(3), to(3), to(3), to(4), to(3)];
    all.forEach((f, i) => box.add(i + 1, f));
    box.takeSendable(links); // 1-3 direct, 4 via the hub, 5 direct
    expect(links.sent.map(([, s]) => s)).toEqual([1, 2, 3, 5]);
    box.confirm(links.entries.get(3)![0]!);
    links.open.clear();
    box.unroute(links.entries.get(3)!, true);
    const hub = box.takeSendable(links);
    expect(seqsOf(box, hub, all)).toEqual([2, 3, 5]);
    // Resent frames the hub then gives up on are reported as possibly read.
    expect(box.nack(2)?.mayHaveBeenRead).toBe(true);
  });

  test('a new hub gets what the old one had; entries on links stay with their links', () => {
    const box = new Outbox(100, 1_000_000);
    const links = new Links();
    links.open.add(3);
    const all = [to(3), to(4), to(5)];
    all.forEach((f, i) => box.add(i + 1, f));
    expect(seqsOf(box, box.takeSendable(links), all)).toEqual([2, 3]);
    box.rewind(true);
    expect(seqsOf(box, box.takeSendable(links), all)).toEqual([2, 3]);
    expect(box.ack(1)).toBe(false); // the hub cannot ack what it never carried
    expect(box.confirm(links.entries.get(3)![0]!)).toBe(true);
    expect(box.size).toBe(2);
  });

  test('while the hub is away only frames for links go, up to the first one for the hub', () => {
    const box = new Outbox(100, 1_000_000);
    const links = new Links();
    links.open.add(3);
    const all = [to(3), to(4), to(3)];
    all.forEach((f, i) => box.add(i + 1, f));
    expect(box.takeSendable(links, false)).toEqual([]);
    expect(links.sent).toEqual([[3, 1]]);
    expect(seqsOf(box, box.takeSendable(links, true), all)).toEqual([2]);
    expect(links.sent).toEqual([
      [3, 1],
      [3, 3],
    ]);
  });
});
