import type { TargetSpec } from '../../src/index.js';
import {
  type HostPeer,
  type HostPeerCounts,
  type HostPeerReceived,
  Hosts,
  barrier,
  expectStream,
  targetOf,
} from '../helpers/hosts.js';
import { until } from '../helpers/processes.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';

/**
 * Delivery across two simulated hosts on a real Redis: exactly once and in per-sender order,
 * for remote unicasts and broadcasts, across kill -9 of either host's hub and across a Redis
 * crash; `to('host')` never leaves its host, and local traffic flows while Redis is down.
 */
let redis: RedisServer;
let hosts: Hosts;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(() => {
  hosts = new Hosts({ redis: redis.url });
});
afterEach(async () => {
  await hosts.close();
});

/** Every (sender, receiver) pair of distinct processes. */
const pairs = (peers: HostPeer[]): [HostPeer, HostPeer][] =>
  peers.flatMap((s) => peers.filter((r) => r !== s).map((r): [HostPeer, HostPeer] => [s, r]));

/**
 * Stops every sender's spray once all it sent is confirmed, then checks that every receiver
 * holds exactly 0..n-1 of each stream meant for it: unicasts from each sender to it, and each
 * sender's broadcasts to 'all' (itself included).
 */
async function expectSprays(peers: HostPeer[]): Promise<void> {
  const sent = new Map<HostPeer, Record<string, number>>();
  for (const p of peers) {
    const r = await p.proc.call<{ sent: Record<string, number>; pendingBytes: number }>(
      'stopSpray',
      { waitMs: 30_000 },
      60_000,
    );
    expect(r.pendingBytes).toBe(0);
    sent.set(p, r.sent);
  }
  for (const [s, r] of pairs(peers)) {
    await barrier(s, r);
    await expectStream(r, s, targetOf(r, s), sent.get(s)![String(targetOf(r, s))]!);
  }
  for (const s of peers) {
    for (const r of peers) await expectStream(r, s, 'all', sent.get(s)!.all!);
  }
}

/** Sprays from each of `peers` to every other of them and to 'all'. */
async function sprayAmong(peers: HostPeer[]): Promise<void> {
  for (const s of peers) {
    const targets: TargetSpec[] = peers.filter((r) => r !== s).map((r) => targetOf(r, s));
    await s.proc.call('spray', { targets: [...targets, 'all'] });
  }
}

/** Resolves once `receiver` has `more` further numbers from other hosts than it has now. */
async function remoteProgress(receiver: HostPeer, more: number): Promise<void> {
  const count = async () => (await receiver.proc.call<HostPeerCounts>('counts')).remoteDeliveries;
  const from = await count();
  await until(async () => (await count()) >= from + more, 30_000, 'cross-host traffic');
}

test('remote unicasts, broadcasts to all and to the host arrive exactly once, in order', async () => {
  const peers = await hosts.startAll({ A: 2, B: 2 });
  const states = await hosts.settled();
  expect(states.map((s) => [s.host, s.id, s.peers])).toEqual([
    ['A', 1, [1, 2, 'B/1', 'B/2']],
    ['A', 2, [1, 2, 'B/1', 'B/2']],
    ['B', 1, [1, 2, 'A/1', 'A/2']],
    ['B', 2, [1, 2, 'A/1', 'A/2']],
  ]);
  const [a1, , b1] = peers as [HostPeer, HostPeer, HostPeer, HostPeer];
  expect(await a1.proc.call('peerInfo', { id: 'B/1' })).toEqual({
    id: 'B/1',
    pid: b1.proc.pid,
    meta: null,
    retiring: false,
    host: 'B',
  });

  const N = 300;
  // 'host' before 'all' from each sender: had 'host' crossed to the other host, it would
  // arrive there ahead of 'all', which takes the same way.
  for (const s of peers) await s.proc.call('stream', { to: 'host', count: 100 });
  for (const [s, r] of pairs(peers)) {
    await s.proc.call('stream', { to: targetOf(r, s), count: N });
  }
  for (const s of peers) await s.proc.call('stream', { to: 'all', count: 100 });
  for (const [s, r] of pairs(peers)) {
    await barrier(s, r);
    await expectStream(r, s, targetOf(r, s), N);
  }
  for (const s of peers) {
    for (const r of peers) {
      await expectStream(r, s, 'all', 100);
      if (r.host === s.host) await expectStream(r, s, 'host', 100);
    }
  }
  for (const r of peers) {
    const got = await r.proc.call<HostPeerReceived>('received');
    const crossed = Object.keys(got.streams).filter(
      (key) => key.endsWith('|host') && key.includes('/'),
    );
    expect(crossed).toEqual([]);
    expect(got.errors).toEqual([]);
  }
});

test("to('<own host>/id') is to(id): the receiver sees a local sender", async () => {
  const [a1, a2] = (await hosts.startAll({ A: 2, B: 1 })) as [HostPeer, HostPeer, HostPeer];
  await hosts.settled();
  await a1.proc.call('stream', { to: 'A/2', count: 50 });
  await barrier(a1, a2);
  await expectStream(a2, a1, 'A/2', 50);
  // Its sender is named 1, as a peer of this host is: nothing came as 'A/1'.
  const got = await a2.proc.call<HostPeerReceived>('received');
  expect(Object.keys(got.streams)).toEqual(['1|A/2']);
});

test('kill -9 of the hub on host A, then on host B, under cross-host traffic: lost 0, duplicated 0', async () => {
  await hosts.startAll({ A: 3, B: 3 });
  await hosts.settled();
  const hubA = await hosts.hub('A');
  const hubB = await hosts.hub('B');
  // The hubs' processes die with their sends: the survivors are the senders and receivers.
  const survivors = hosts.peers().filter((p) => p !== hubA && p !== hubB);
  await sprayAmong(survivors);
  const watcherA = survivors.find((p) => p.host === 'A')!;
  const watcherB = survivors.find((p) => p.host === 'B')!;

  await remoteProgress(watcherB, 200);
  await hosts.kill(hubA);
  await hosts.hub('A');
  await remoteProgress(watcherB, 200);
  await hosts.kill(hubB);
  await hosts.hub('B');
  await remoteProgress(watcherA, 200);

  await expectSprays(survivors);
  await hosts.settled();
});

test('a Redis crash under traffic: local traffic flows while it is down, then lost 0, duplicated 0', async () => {
  const peers = await hosts.startAll({ A: 2, B: 2 });
  await hosts.settled();
  await sprayAmong(peers);
  const [, a2, b1] = peers as [HostPeer, HostPeer, HostPeer, HostPeer];
  await remoteProgress(b1, 200);

  await redis.kill();
  const local = async () => (await a2.proc.call<HostPeerCounts>('counts')).localDeliveries;
  const before = await local();
  // Local deliveries go on while Redis is down: the condition is met before it starts again.
  await until(async () => (await local()) >= before + 500, 30_000, 'local traffic without Redis');
  await redis.start();

  await remoteProgress(b1, 200);
  await expectSprays(peers);
});
