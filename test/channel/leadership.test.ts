/**
 * Leadership of channels in this process: the hub leads once survivors could have rejoined, at
 * an epoch that only rises, and steps down before anything could make another process lead.
 */
import { unlinkSync } from 'node:fs';
import { RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'lead', closeTimeoutMs: 500 });

test('a hub with no history leads only after survivors could rejoin; connect() resolves as a follower', async () => {
  const a = box.channel();
  const events: [string, number][] = [];
  a.on('leader', (epoch) => events.push(['leader', epoch]));
  a.on('follower', (epoch) => events.push(['follower', epoch]));
  const startedAt = Date.now();
  await a.connect();
  expect(a.isHub).toBe(true);
  expect(a.isLeader).toBe(false);
  // A channel started from nothing counts from the clock (ms), not from 1.
  expect(a.epoch).toBeGreaterThanOrEqual(startedAt);
  expect(a.epoch).toBeLessThanOrEqual(Date.now());
  await until(() => a.isLeader, undefined, 'the settle time');
  expect(events).toEqual([['leader', a.epoch]]);
});

test('a channel started again after every process stopped leads at a higher epoch than before (a fencing store keeps accepting it)', async () => {
  const first = box.channel();
  await first.connect();
  await until(() => first.isLeader, undefined, 'the first run to lead');
  const before = first.epoch;
  await first.close();

  const again = box.channel();
  await again.connect();
  await until(() => again.isLeader, undefined, 'the second run to lead');
  expect(again.epoch).toBeGreaterThan(before);
});

test("a peer that has seen a higher epoch raises the hub's: it is told the new one, and so is the leader", async () => {
  const a = box.channel();
  await a.connect();
  const first = a.epoch;
  const seen = first + 40;
  const raised = new Promise<number>((resolve) => {
    a.on('leader', (epoch) => {
      if (epoch > first) resolve(epoch);
    });
  });
  await until(() => a.isLeader, undefined, 'the leader');

  // A raw peer claiming to have seen 40 epochs more (a survivor of hubs this process never knew).
  const raw = await RawPeer.open('lead', box.dir);
  try {
    await raw.hello();
    raw.join({ incarnation: 1234, epoch: seen });
    expect((await raw.welcome()).epoch).toBe(seen + 1);
    expect(await raised).toBe(seen + 1);
    expect(a.epoch).toBe(seen + 1);
    expect(a.isLeader).toBe(true);
  } finally {
    await raw.close();
  }
});

test('retiring steps down at once, before the hub is handed over; the successor leads at a higher epoch', async () => {
  const a = box.channel({ id: 1 });
  const b = box.channel({ id: 2 });
  const order: string[] = [];
  a.on('follower', (epoch) => order.push(`a follower ${epoch}`));
  b.on('leader', (epoch) => order.push(`b leader ${epoch}`));
  await a.connect();
  await b.connect();
  await until(() => a.isLeader, undefined, 'a to lead');
  const first = a.epoch;

  void a.retire();
  expect(a.isLeader).toBe(false);
  expect(a.isHub).toBe(true);
  expect(order).toEqual([`a follower ${first}`]);
  await a.close();
  await until(() => b.isLeader, undefined, 'b to lead');
  expect(order).toEqual([`a follower ${first}`, `b leader ${first + 1}`]);
  expect(b.epoch).toBe(first + 1);
});

test('a hub whose socket file was removed does not lead until it has published it again', async () => {
  const a = box.channel();
  const follower: number[] = [];
  a.on('follower', (epoch) => follower.push(epoch));
  await a.connect();
  await until(() => a.isLeader, undefined, 'the leader');
  unlinkSync(a.endpoint);
  // Another process could bind a hub now: this one must not act as leader meanwhile.
  expect(a.isLeader).toBe(false);
  // The watchdog publishes it again; the process never stopped hosting the hub.
  await until(() => a.isLeader, undefined, 'the socket to be published again');
  expect(follower).toEqual([]);
});
