import { RedisAdapter } from '../../src/channel/federation/redis/redis-adapter.js';
import {
  type HostPeer,
  type HostPeerReceived,
  type HostPeerState,
  Hosts,
} from '../helpers/hosts.js';
import { until } from '../helpers/processes.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { forgedBatch } from './forged-batch.js';

/**
 * Membership, leadership and authentication across two simulated hosts on a real Redis: a host
 * that vanishes is dropped after hostTimeoutMs and requests to it fail typed; one leader among
 * all hosts, moving to the other host when the leading one dies; a Redis client without the
 * secret cannot inject frames.
 */
let redis: RedisServer;
let hosts: Hosts | undefined;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await hosts?.close();
  hosts = undefined;
});

const states = (peers: HostPeer[]) =>
  Promise.all(peers.map((p) => p.proc.call<HostPeerState>('state')));

test('a host that vanishes: its peers leave after hostTimeoutMs, a request to it fails typed', async () => {
  hosts = new Hosts({ redis: redis.url });
  const [a1, a2, b1, b2] = (await hosts.startAll({ A: 2, B: 2 }, { nest: true })) as HostPeer[];
  await hosts.settled();

  // Requests cross hosts both ways and name their responder.
  const echo = await a1!.proc.call<number>('request', { to: 'B/2', pattern: 'echo', data: 7 });
  expect(await a1!.proc.call('requestResult', { n: echo })).toEqual({
    ok: true,
    value: { data: 7, by: b2!.proc.pid },
  });
  const back = await b1!.proc.call<number>('request', { to: 'A/2', pattern: 'echo', data: 8 });
  expect(await b1!.proc.call('requestResult', { n: back })).toEqual({
    ok: true,
    value: { data: 8, by: a2!.proc.pid },
  });

  const pending = await a1!.proc.call<number>('request', { to: 'B/2', pattern: 'hang', data: 9 });
  await Promise.all([hosts.kill(b1!), hosts.kill(b2!)]);

  for (const a of [a1!, a2!]) {
    for (const id of ['B/1', 'B/2']) {
      await a.proc.waitEvent((e) => e.ev === 'leave' && e.id === id, 30_000);
    }
  }
  expect(await a1!.proc.call('requestResult', { n: pending }, 30_000)).toMatchObject({
    ok: false,
    name: 'PeerLeftError',
    code: 'ERR_IPC_PEER_LEFT',
  });
  expect((await states([a1!, a2!])).map((s) => [s.peers, s.hosts])).toEqual([
    [[1, 2], ['A']],
    [[1, 2], ['A']],
  ]);
});

test('one leader across hosts; it moves to the other host when the leading host dies, epoch rising', async () => {
  hosts = new Hosts({ redis: redis.url });
  const peers = await hosts.startAll({ A: 2, B: 2 });
  await hosts.settled();
  const leaders = async (among: HostPeer[]) => (await states(among)).filter((s) => s.isLeader);
  const first = (await until(
    async () => {
      const l = await leaders(peers);
      return l.length === 1 ? l[0] : undefined;
    },
    30_000,
    'one leader',
  ))!;
  // The leader hosts its host's hub: the bridge holds the lease.
  expect(first.isHub).toBe(true);
  expect(first.epoch).toBeGreaterThan(0);

  const dead = first.host;
  await Promise.all(hosts.peers(dead).map((p) => hosts!.kill(p)));
  const survivors = hosts.peers();
  const next = (await until(
    async () => {
      const l = await leaders(survivors);
      return l.length === 1 ? l[0] : undefined;
    },
    30_000,
    'a leader on the other host',
  ))!;
  expect(next.host).not.toBe(dead);
  expect(next.isHub).toBe(true);
  expect(next.epoch).toBeGreaterThan(first.epoch);
  // Its process told its listeners, with the new epoch.
  const hub = survivors.find((p) => p.proc.pid === next.pid)!;
  await hub.proc.waitEvent((e) => e.ev === 'leader' && e.epoch === next.epoch);
});

test('a Redis client without the secret cannot inject: a forged batch is dropped and logged', async () => {
  const secret = 'federation-test-secret';
  hosts = new Hosts({ redis: redis.url, secret });
  const [a1, b1] = (await hosts.startAll({ A: 1, B: 1 })) as HostPeer[];
  await hosts.settled();
  const incarnation = 0x1234;

  const mallory = new RedisAdapter(redis.url, {
    channel: hosts.channel,
    host: 'mallory',
    prefix: 'ipc',
  });
  await mallory.connect();
  try {
    const forge = (label: string, seq: number, key?: string) =>
      forgedBatch({
        channel: hosts!.channel,
        target: 1,
        from: { host: 'A', id: 1, incarnation, seq },
        args: [label, 0],
        ...(key === undefined ? {} : { secret: key }),
      });
    await mallory.append('B', forge('unsigned', 1));
    await mallory.append('B', forge('wrong-secret', 2, 'not-the-secret'));
    // The same batch signed with the secret gets through: the forgeries above failed only for
    // want of it. Read after them from the same inbox, it also proves they were read.
    await mallory.append('B', forge('signed', 3, secret));
  } finally {
    await mallory.close();
  }

  await until(
    async () =>
      (await b1!.proc.call<HostPeerReceived>('received')).streams['A/1|signed'] !== undefined,
    30_000,
    'the signed batch',
  );
  const got = await b1!.proc.call<HostPeerReceived>('received');
  expect(got.streams).toEqual({ 'A/1|signed': [0] });
  const warnings = await b1!.proc.call<string[]>('warnings');
  // Warned once (a flood of forgeries must not flood the log).
  expect(warnings.filter((w) => /authenticat|HMAC|secret/i.test(w))).toHaveLength(1);
  expect(a1!.proc.alive).toBe(true);
});
