/**
 * Leadership across processes: the process hosting the hub leads. Exactly one live peer leads
 * once the channel has settled, a new one leads after the leader dies or leaves, and the epoch
 * rises with every change.
 */
import type { PeerState } from '../helpers/peer-fixture.js';
import { type ChildEvent, Proc, startMany } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'lead' });

const states = (procs: Proc[]) => Promise.all(procs.map((p) => p.call<PeerState>('state')));
/** Waits until one of `procs` leads, with every one of them joined to its hub. */
const untilOneLeader = (procs: Proc[]) =>
  until(
    async () => {
      const now = await states(procs);
      const leader = now.find((s) => s.isLeader);
      return (
        leader !== undefined &&
        now.every((s) => s.connected && s.hubId === leader.id && s.peers.length === procs.length)
      );
    },
    undefined,
    'a leader, and every peer joined to its hub',
  );
const leadership = (p: Proc): ChildEvent[] =>
  p.events.filter((e) => e.ev === 'leader' || e.ev === 'follower');

/** Four peers, ids 1..4, peer 1 first (so it hosts the hub); waits until one leads. */
async function fourPeers(): Promise<Proc[]> {
  const procs = await startMany(4, 'peer.js', (i) => box.peerEnv({ id: i + 1 }));
  await procs[0]!.call('connect');
  await Promise.all(procs.slice(1).map((p) => p.call('connect')));
  await untilOneLeader(procs);
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
  const first = (await old.call<PeerState>('state')).epoch;
  const closed = await old.call<PeerState>('close');
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
