import { Bridge, BridgeState, resolveFederation } from '../../src/channel/federation/bridge.js';
import { FederationStoreError } from '../../src/channel/federation/federation-errors.js';
import type { Hub } from '../../src/channel/hub/hub.js';
import type { IpcChannelError } from '../../src/channel/errors.js';
import { Log } from '../../src/channel/logger.js';
import { readFederated, writeFederated } from '../../src/channel/wire/federated.js';
import {
  BRIDGE_ID,
  FrameFlag,
  FrameType,
  OFF_FLAGS,
  OFF_SENDER,
  TARGET_ALL,
  readTarget,
} from '../../src/channel/wire/frame.js';
import { MemoryStore } from '../helpers/memory-adapter.js';
import { until } from '../helpers/wait.js';
import { WirePeer, eventFrame, makeHub, readEvent } from '../helpers/wire-peer.js';

const CHANNEL = 'fed';

interface TestHost {
  hub: Hub;
  peer: WirePeer;
  bridge: Bridge;
  errors: IpcChannelError[];
  warnings: string[];
  close(): Promise<void>;
}

const open: TestHost[] = [];

afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

async function startHost(store: MemoryStore, host: string, secret?: string): Promise<TestHost> {
  const warnings: string[] = [];
  const errors: IpcChannelError[] = [];
  const log = new Log({ log() {}, error() {}, warn: (m: string) => warnings.push(m) });
  const hub = makeHub(CHANNEL);
  const peer = new WirePeer(hub.attachLocal(), CHANNEL);
  const federation = resolveFederation(
    { host, adapter: store.factory, leaseMs: 1000, hostTimeoutMs: 1000 },
    CHANNEL,
  )!;
  const bridge = new Bridge(hub.attachBridge(), {
    channel: CHANNEL,
    host,
    secret,
    federation,
    heartbeatIntervalMs: 100,
    maxFrameBytes: 1024 * 1024,
    log,
    onLease: () => {},
    onError: (e) => errors.push(e),
  });
  bridge.start();
  await peer.joined();
  const h: TestHost = {
    hub,
    peer,
    bridge,
    errors,
    warnings,
    async close() {
      await bridge.close();
      await hub.close();
    },
  };
  open.push(h);
  return h;
}

/** The hosts views a peer was sent by its bridge, last first. */
function hostsViews(peer: WirePeer): { host: string; members: { id: number }[] }[][] {
  return peer
    .ofType(FrameType.Event)
    .filter((f) => f.readUInt16LE(OFF_SENDER) === BRIDGE_ID)
    .map((f) => readEvent(f).args[0] as { host: string; members: { id: number }[] }[])
    .reverse();
}

/** Starts hosts A and B and waits until each knows the other. */
async function twoHosts(store: MemoryStore, secret?: string): Promise<[TestHost, TestHost]> {
  const a = await startHost(store, 'A', secret);
  const b = await startHost(store, 'B', secret);
  for (const [h, other] of [
    [a, 'B'],
    [b, 'A'],
  ] as const) {
    await until(() => hostsViews(h.peer)[0]?.some((v) => v.host === other), 5000, 'hosts view');
  }
  return [a, b];
}

/** A peer's Federated frame for peer `id` of `host`. */
function toRemote(host: string, id: number, event: string, args: unknown[]): Buffer {
  return writeFederated(
    { target: BRIDGE_ID, flags: 0, incarnation: 0, seq: 0 },
    { host, peer: id, incarnation: 0, seq: 0 },
    eventFrame(0, event, args),
  );
}

function federatedEvents(peer: WirePeer): { origin: string; event: string; args: unknown[] }[] {
  return peer.ofType(FrameType.Federated).map((f) => {
    const fed = readFederated(f);
    return { origin: `${fed.host}/${fed.peer}`, ...readEvent(fed.inner) };
  });
}

test('a frame for a peer of another host is acked once stored, delivered with its origin, and the entry acked after delivery', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  expect(hostsViews(b.peer)[0]).toEqual([
    {
      host: 'A',
      at: expect.any(Number),
      members: [{ id: a.peer.id, pid: process.pid, meta: { peer: true }, retiring: false }],
    },
  ]);
  const seq = a.peer.write(toRemote('B', b.peer.id, 'hi', [1, 'x']));
  await until(() => a.peer.acked.has(seq), 5000, 'ack');
  expect(store.appended.filter((e) => e.host === 'B')).toHaveLength(1);
  await until(() => b.peer.ofType(FrameType.Federated).length === 1, 5000, 'delivery');
  const frame = b.peer.ofType(FrameType.Federated)[0]!;
  expect(readTarget(frame)).toBe(b.peer.id);
  expect(frame.readUInt16LE(OFF_SENDER)).toBe(BRIDGE_ID);
  const fed = readFederated(frame);
  expect([fed.host, fed.peer, fed.incarnation, fed.seq]).toEqual([
    'A',
    a.peer.id,
    a.peer.incarnation,
    seq,
  ]);
  expect(readEvent(fed.inner)).toEqual({ event: 'hi', args: [1, 'x'] });
  await until(() => store.unacked('B') === 0, 5000, 'inbox entry acked');
  expect(a.peer.nacked.size).toBe(0);
  // The bridge is no member: never listed, never announced.
  expect(a.peer.welcome!.peers.map((p) => p.id)).toEqual([a.peer.id]);
  expect(a.peer.control.filter((f) => f[4] === FrameType.PeerJoin)).toHaveLength(0);
});

test('a member joining one host reaches the view of the other host, and the newcomer gets the view', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  const second = new WirePeer(a.hub.attachLocal(), CHANNEL);
  await second.joined();
  await until(() => hostsViews(b.peer)[0]?.[0]?.members.length === 2, 5000, 'two members of A');
  expect(hostsViews(b.peer)[0]![0]!.members.map((m) => m.id)).toEqual([a.peer.id, second.id]);
  await until(() => hostsViews(second)[0]?.[0]?.host === 'B', 5000, "the newcomer's view");
  expect(hostsViews(second)[0]!.map((v) => v.members.map((m) => m.id))).toEqual([[b.peer.id]]);
});

test('frames for other hosts wait for the bridge of a starting hub, and are nacked if none comes', async () => {
  const hub = makeHub(CHANNEL, undefined, { graceMs: 300 });
  const peer = new WirePeer(hub.attachLocal(), CHANNEL);
  await peer.joined();
  const waited = peer.write(toRemote('B', 1, 'waits', []));
  await until(() => peer.control.some((f) => f[4] === FrameType.Held), 5000, 'held');
  await until(() => peer.nacked.has(waited), 5000, 'nacked');
  expect(peer.nacked.get(waited)).toBe('grace-expired');
  const store = new MemoryStore();
  const delivered = peer.write(toRemote('B', 1, 'delivered', []));
  await until(() => peer.control.filter((f) => f[4] === FrameType.Held).length === 2, 5000, 'held');
  const bridge = new Bridge(hub.attachBridge(), {
    channel: CHANNEL,
    host: 'A',
    secret: undefined,
    federation: resolveFederation({ host: 'A', adapter: store.factory }, CHANNEL)!,
    heartbeatIntervalMs: 100,
    maxFrameBytes: 1024 * 1024,
    log: new Log(undefined),
    onLease: () => {},
    onError: () => {},
  });
  // Started after the hub greeted it (as a hub link does once its own peer joined).
  await new Promise((resolve) => setImmediate(resolve));
  bridge.start();
  open.push({
    close: async () => {
      await bridge.close();
      await hub.close();
    },
  } as TestHost);
  await until(() => peer.acked.has(delivered), 5000, 'stored once the bridge joined');
  expect(store.appended.map((e) => e.host)).toEqual(['B']);
  expect(peer.acked.has(waited)).toBe(false);
});

test('a federated hub holds broadcasts for its bridge until it joins, and the bridge forwards them once it knows the hosts', async () => {
  const store = new MemoryStore();
  const b = await startHost(store, 'B');
  const hub = makeHub(CHANNEL, undefined, { federated: true });
  const peer = new WirePeer(hub.attachLocal(), CHANNEL);
  await peer.joined();
  const early = peer.emit(TARGET_ALL, 'early', [1]);
  await until(() => peer.control.some((f) => f[4] === FrameType.Held), 5000, 'held');
  const bridge = new Bridge(hub.attachBridge(), {
    channel: CHANNEL,
    host: 'A',
    secret: undefined,
    federation: resolveFederation({ host: 'A', adapter: store.factory }, CHANNEL)!,
    heartbeatIntervalMs: 100,
    maxFrameBytes: 1024 * 1024,
    log: new Log(undefined),
    onLease: () => {},
    onError: () => {},
  });
  bridge.start();
  open.push({
    close: async () => {
      await bridge.close();
      await hub.close();
    },
  } as TestHost);
  await until(() => peer.acked.has(early), 5000, 'stored');
  await until(() => federatedEvents(b.peer).length === 1, 5000, 'delivered on B');
  expect(federatedEvents(b.peer)).toEqual([{ origin: `A/${peer.id}`, event: 'early', args: [1] }]);
});

test('broadcasts cross to the other hosts as ALL unless HostOnly; nothing comes back to its host', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  const local = a.peer.emit(TARGET_ALL, 'local', [1], FrameFlag.HostOnly);
  const everywhere = a.peer.emit(TARGET_ALL, 'everywhere', [2]);
  const marker = a.peer.write(toRemote('B', b.peer.id, 'marker', []));
  await until(() => federatedEvents(b.peer).length === 2, 5000, 'broadcast and marker');
  expect(federatedEvents(b.peer).map((e) => [e.origin, e.event])).toEqual([
    [`A/${a.peer.id}`, 'everywhere'],
    [`A/${a.peer.id}`, 'marker'],
  ]);
  const broadcast = b.peer.ofType(FrameType.Federated)[0]!;
  expect(readTarget(broadcast)).toBe(TARGET_ALL);
  expect(broadcast[OFF_FLAGS]! & FrameFlag.HostOnly).toBe(FrameFlag.HostOnly);
  await until(() => [local, everywhere, marker].every((s) => a.peer.acked.has(s)), 5000, 'acks');
  expect(store.appended.map((e) => e.host)).toEqual(['B', 'B']);
  // The sender's own host got both broadcasts once, from the sender, and nothing from B.
  expect(
    a.peer.ofType(FrameType.Event).filter((f) => f.readUInt16LE(OFF_SENDER) !== BRIDGE_ID),
  ).toHaveLength(2);
  expect(a.peer.ofType(FrameType.Federated)).toHaveLength(0);
});

test('one append per host is in flight; what arrives meanwhile goes in the next batch, in order', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  const seqs: number[] = [];
  for (let i = 0; i < 50; i++) seqs.push(a.peer.write(toRemote('B', b.peer.id, 'n', [i])));
  await until(() => seqs.every((s) => a.peer.acked.has(s)), 5000, 'acks');
  expect(store.appended.filter((e) => e.host === 'B')).toHaveLength(2);
  await until(() => federatedEvents(b.peer).length === 50, 5000, 'deliveries');
  expect(federatedEvents(b.peer).map((e) => e.args[0])).toEqual([...Array(50).keys()]);
});

test('while the store is down the sender is not acked; once it is back, the frame arrives once', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  store.down = true;
  const seq = a.peer.write(toRemote('B', b.peer.id, 'late', []));
  await until(() => store.calls('A', 'append') >= 3, 5000, 'retried appends');
  expect(a.peer.acked.has(seq)).toBe(false);
  expect(a.errors.length).toBeGreaterThanOrEqual(1);
  expect(a.errors.every((e) => e instanceof FederationStoreError)).toBe(true);
  store.down = false;
  await until(() => a.peer.acked.has(seq), 5000, 'ack after the outage');
  await until(() => federatedEvents(b.peer).length === 1, 5000, 'delivery after the outage');
  await until(() => store.unacked('B') === 0, 5000, 'inbox entry acked');
  expect(federatedEvents(b.peer).map((e) => e.event)).toEqual(['late']);
  expect(store.appended.filter((e) => e.host === 'B')).toHaveLength(1);
});

test('an entry read and not acked is read again by the next bridge of the host', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  // B's peer is gone: B's hub holds the frame for its id, so the entry stays unacknowledged.
  b.peer.close();
  const seq = a.peer.write(toRemote('B', 1, 'again', []));
  await until(() => a.peer.acked.has(seq), 5000, 'stored');
  await until(() => store.inbox('B').pending.size === 1, 5000, 'read by B');
  await b.bridge.close();
  expect(store.unacked('B')).toBe(1);
  const b2 = await startHost(store, 'B');
  expect(b2.peer.id).toBe(1);
  await until(() => federatedEvents(b2.peer).length === 1, 5000, 'delivered by the next bridge');
  expect(federatedEvents(b2.peer)[0]!.event).toBe('again');
  await until(() => store.unacked('B') === 0, 5000, 'acked');
  // A new bridge says nothing of other hosts before it has read them: no empty view first.
  await until(() => hostsViews(b2.peer).length > 0, 5000, 'a hosts view');
  expect(
    hostsViews(b2.peer)
      .at(-1)!
      .map((v) => v.host),
  ).toEqual(['A']);
});

test('with a secret, a forged inbox entry is dropped, acked and logged; real ones still pass', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store, 'sesame');
  store.push('B', toRemote('B', b.peer.id, 'forged', []));
  const seq = a.peer.write(toRemote('B', b.peer.id, 'real', []));
  await until(() => a.peer.acked.has(seq), 5000, 'ack');
  await until(() => federatedEvents(b.peer).length === 1 && store.unacked('B') === 0, 5000, 'real');
  expect(federatedEvents(b.peer).map((e) => e.event)).toEqual(['real']);
  expect(b.warnings.filter((w) => w.includes("does not carry this channel's secret"))).toHaveLength(
    1,
  );
});

test('exactly one bridge leads; when it closes, the other takes the lease with a higher epoch', async () => {
  const store = new MemoryStore();
  const [a, b] = await twoHosts(store);
  await until(() => a.bridge.leading || b.bridge.leading, 5000, 'a leader');
  const [leader, follower] = a.bridge.leading ? [a, b] : [b, a];
  expect(follower.bridge.leading).toBe(false);
  const epoch = leader.bridge.leaseEpoch;
  expect(epoch).toBeGreaterThan(0);
  await leader.bridge.close();
  expect(leader.bridge.state).toBe(BridgeState.Closed);
  await until(() => follower.bridge.leading, 5000, 'the other host leads');
  expect(follower.bridge.leaseEpoch).toBeGreaterThan(epoch);
  // Nobody but the hub's own peer was on the closed bridge's host: its members leave at once,
  // and the host goes when that empty view expires.
  const gone = leader === a ? 'A' : 'B';
  await until(() => hostsViews(follower.peer)[0]?.[0]?.members.length === 0, 5000, 'emptied');
  expect(hostsViews(follower.peer)[0]!.map((v) => v.host)).toEqual([gone]);
  await until(() => hostsViews(follower.peer)[0]?.length === 0, 5000, 'the host gone');
});

test('a peer that sends a Federated frame to another peer is faulted; nothing reaches a peer', async () => {
  const store = new MemoryStore();
  const a = await startHost(store, 'A');
  const frame = writeFederated(
    { target: a.peer.id, flags: 0, incarnation: 0, seq: 0 },
    { host: 'X', peer: 1, incarnation: 0, seq: 0 },
    eventFrame(0, 'spoof', []),
  );
  a.peer.write(frame);
  await until(() => a.peer.control.some((f) => f[4] === FrameType.Fault), 5000, 'fault');
  expect(a.peer.ofType(FrameType.Federated)).toHaveLength(0);
});
