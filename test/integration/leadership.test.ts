/**
 * Leadership: the process hosting the hub leads. Exactly one live peer leads once the channel
 * has settled, a new one leads after the leader dies, and the epoch rises with every change.
 */
import type { Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import { Channel } from '../../src/index.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import {
  FrameType,
  OFF_TYPE,
  PROTOCOL_VERSION,
  jsonFrame,
  readJson,
} from '../../src/channel/wire/frame.js';
import {
  type ChildEvent,
  Proc,
  killAll,
  openHubSocket,
  startMany,
  tempDir,
  until,
} from '../helpers/processes.js';

interface State {
  pid: number;
  id: number;
  isHub: boolean;
  isLeader: boolean;
  epoch: number;
  peers: number[];
  hubId: number;
  connected: boolean;
}

let dir: ReturnType<typeof tempDir>;
const channels: Channel[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  await Promise.all(channels.splice(0).map((c) => c.close()));
  dir.remove();
});

const opts = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'lead', dir: dir.path, ...extra });

const states = (procs: Proc[]) => Promise.all(procs.map((p) => p.call<State>('state')));
/** Waits until one of `procs` leads and all three are connected to its hub. */
const untilOneLeader = (procs: Proc[]) =>
  until(
    async () => {
      const now = await states(procs);
      const leader = now.find((s) => s.isLeader);
      return (
        leader !== undefined &&
        now.every((s) => s.connected && s.hubId === leader.id && s.peers.length === 3)
      );
    },
    10_000,
    'a new leader, and every remaining peer joined to its hub',
  );
const leadership = (p: Proc): ChildEvent[] =>
  p.events.filter((e) => e.ev === 'leader' || e.ev === 'follower');

function channel(extra: Record<string, unknown> = {}): Channel {
  const ch = new Channel({ name: 'lead', dir: dir.path, closeTimeoutMs: 500, ...extra });
  channels.push(ch);
  return ch;
}

/** Four peers, ids 1..4, peer 1 first (so it hosts the hub); waits until one leads. */
async function fourPeers(): Promise<Proc[]> {
  const procs = await startMany(4, 'peer.js', (i) => ({ PEER_OPTIONS: opts({ id: i + 1 }) }));
  await procs[0]!.call('connect');
  await Promise.all(procs.slice(1).map((p) => p.call('connect')));
  await until(async () => (await states(procs)).some((s) => s.isLeader), 10_000, 'a leader');
  return procs;
}

test('four peers: exactly the hub leads, everyone sees its epoch (the clock, as the channel is new); kill -9 the leader: exactly one survivor leads, one epoch up', async () => {
  const startedAt = Date.now();
  const procs = await fourPeers();
  const before = await states(procs);
  expect(before.map((s) => s.isLeader)).toEqual([true, false, false, false]);
  expect(before.map((s) => s.isHub)).toEqual([true, false, false, false]);
  const first = before[0]!.epoch;
  expect(first).toBeGreaterThanOrEqual(startedAt);
  expect(first).toBeLessThanOrEqual(Date.now());
  expect(before.map((s) => s.epoch)).toEqual([first, first, first, first]);
  expect(leadership(procs[0]!).map((e) => [e.ev, e.epoch, e.isLeader])).toEqual([
    ['leader', first, true],
  ]);
  for (const p of procs.slice(1)) expect(leadership(p)).toEqual([]);

  await procs[0]!.kill('SIGKILL');
  const survivors = procs.slice(1);
  await untilOneLeader(survivors);
  const after = await states(survivors);
  const leaders = after.filter((s) => s.isLeader);
  expect(leaders).toHaveLength(1);
  expect(leaders[0]!.isHub).toBe(true);
  expect(after.filter((s) => s.isHub)).toHaveLength(1);
  expect(after.map((s) => s.epoch)).toEqual([first + 1, first + 1, first + 1]);
  for (const [i, p] of survivors.entries()) {
    expect(leadership(p).map((e) => [e.ev, e.epoch])).toEqual(
      after[i]!.isLeader ? [['leader', first + 1]] : [],
    );
  }
});

test('graceful close: the leader steps down before its successor leads; the epoch rises', async () => {
  const procs = await fourPeers();
  const [old, ...rest] = procs as [Proc, Proc, Proc, Proc];
  const first = (await old.call<State>('state')).epoch;
  const closed = await old.call<State>('close');
  expect(closed.isLeader).toBe(false);

  // The hub is handed to peer 2, unless (on a loaded machine) another one binds first.
  await untilOneLeader(rest);
  const after = await states(rest);
  expect(after.filter((s) => s.isLeader).map((s) => [s.id, s.isHub])).toEqual([
    [after[0]!.hubId, true],
  ]);
  expect(after.map((s) => s.epoch)).toEqual([first + 1, first + 1, first + 1]);
  const stepDown = leadership(old);
  expect(stepDown.map((e) => [e.ev, e.epoch])).toEqual([
    ['leader', first],
    ['follower', first],
  ]);
  const takeOver = leadership(rest.find((_, i) => after[i]!.isLeader)!);
  expect(takeOver.map((e) => [e.ev, e.epoch])).toEqual([['leader', first + 1]]);
  // One clock on one machine: the old leader had stopped believing it before the new one did.
  expect(stepDown[1]!.at as number).toBeLessThanOrEqual(takeOver[0]!.at as number);
});

test('a hub with no history leads only after survivors could rejoin; connect() resolves as a follower', async () => {
  const a = channel();
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
  await until(() => a.isLeader, 5000, 'the settle time');
  expect(events).toEqual([['leader', a.epoch]]);
});

test('a channel started again after every process stopped leads at a higher epoch than before (a fencing store keeps accepting it)', async () => {
  const first = channel();
  await first.connect();
  await until(() => first.isLeader, 5000, 'the first run to lead');
  const before = first.epoch;
  await first.close();

  const again = channel();
  await again.connect();
  await until(() => again.isLeader, 5000, 'the second run to lead');
  expect(again.epoch).toBeGreaterThan(before);
});

test("a peer that has seen a higher epoch raises the hub's: it is told the new one, and so is the leader", async () => {
  const a = channel();
  await a.connect();
  const first = a.epoch;
  const seen = first + 40;
  const raised = new Promise<number>((resolve) => {
    a.on('leader', (epoch) => {
      if (epoch > first) resolve(epoch);
    });
  });
  await until(() => a.isLeader, 5000, 'the leader');

  // A raw peer claiming to have seen 40 epochs more (a survivor of hubs this process never knew).
  // Opened as a peer opens it (past the token proof when the suite runs on tcp).
  const socket: Socket = await openHubSocket('lead', dir.path);
  const decoder = new FrameDecoder(1 << 20);
  const welcome = new Promise<Record<string, unknown>>((resolve) => {
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame[OFF_TYPE] === FrameType.HubHello) {
          socket.write(
            jsonFrame(FrameType.Join, {
              protocol: PROTOCOL_VERSION,
              name: 'lead',
              codec: 'json',
              incarnation: 1234,
              pid: process.pid,
              claim: 0,
              kind: 'none',
              meta: null,
              nonce: 'n',
              epoch: seen,
            }),
          );
        } else if (frame[OFF_TYPE] === FrameType.Welcome) {
          resolve(readJson(frame));
        }
      }
    });
  });
  try {
    expect((await welcome).epoch).toBe(seen + 1);
    expect(await raised).toBe(seen + 1);
    expect(a.epoch).toBe(seen + 1);
    expect(a.isLeader).toBe(true);
  } finally {
    socket.destroy();
  }
});

test('retiring steps down at once, before the hub is handed over; the successor leads at a higher epoch', async () => {
  const a = channel({ id: 1 });
  const b = channel({ id: 2 });
  const order: string[] = [];
  a.on('follower', (epoch) => order.push(`a follower ${epoch}`));
  b.on('leader', (epoch) => order.push(`b leader ${epoch}`));
  await a.connect();
  await b.connect();
  await until(() => a.isLeader, 5000, 'a to lead');
  const first = a.epoch;

  void a.retire();
  expect(a.isLeader).toBe(false);
  expect(a.isHub).toBe(true);
  expect(order).toEqual([`a follower ${first}`]);
  await a.close();
  await until(() => b.isLeader, 5000, 'b to lead');
  expect(order).toEqual([`a follower ${first}`, `b leader ${first + 1}`]);
  expect(b.epoch).toBe(first + 1);
});

test('a hub whose socket file was removed does not lead until it has published it again', async () => {
  const a = channel();
  const follower: number[] = [];
  a.on('follower', (epoch) => follower.push(epoch));
  await a.connect();
  await until(() => a.isLeader, 5000, 'the leader');
  unlinkSync(a.endpoint);
  // Another process could bind a hub now: this one must not act as leader meanwhile.
  expect(a.isLeader).toBe(false);
  // The watchdog publishes it again (within a second); it never stopped hosting the hub.
  await until(() => a.isLeader, 5000, 'the socket to be published again');
  expect(follower).toEqual([]);
});
