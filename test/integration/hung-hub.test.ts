import { type PeerState, received, settled } from '../helpers/peer-fixture.js';
import type { Proc } from '../helpers/processes.js';
import { startMany } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

// Short heartbeats, so a stopped hub is deposed within a second or so; graceMs well above the
// time the hub stays stopped, so what is held for its peer waits for it.
const box = sandbox({
  name: 'hung-hub',
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 1000,
  graceMs: 15_000,
});

const counts = (p: Proc) => p.call<Record<string, number>>('counts');

/** Waits until each of `procs` has received `more` numbers from each of `from` since the call. */
async function flowing(procs: Proc[], ids: number[], more = 100): Promise<void> {
  const start = await Promise.all(procs.map(counts));
  await until(
    async () => {
      const now = await Promise.all(procs.map(counts));
      return now.every((got, i) =>
        ids.every(
          (id) => id === idOf.get(procs[i]!) || (got[id] ?? 0) >= (start[i]![id] ?? 0) + more,
        ),
      );
    },
    30_000,
    'traffic between every two of them',
  );
}
const idOf = new Map<Proc, number>();

test('a SIGSTOPped hub is deposed and replaced; woken, it routes nothing stale, steps down and its peer rejoins; nothing is lost or duplicated', async () => {
  // The first one hosts the hub, and logs, so the test sees it learn that it was deposed.
  const procs = await startMany(3, 'peer.js', (i) => ({
    ...box.peerEnv({ id: i + 1 }),
    ...(i === 0 ? { PEER_LOG: '1' } : {}),
  }));
  procs.forEach((p, i) => idOf.set(p, i + 1));
  const [hub, b, c] = procs as [Proc, Proc, Proc];
  await hub.call('connect');
  await Promise.all([b.call('connect'), c.call('connect')]);
  const before = await settled(procs);
  expect(before.find((s) => s.isHub)!.id).toBe(1);
  const oldEpoch = before[0]!.epoch;

  const ids = [1, 2, 3];
  await Promise.all(
    procs.map((p, i) => p.call('spray', { targets: ids.filter((t) => t !== i + 1), perTick: 4 })),
  );
  await flowing(procs, ids);

  hub.child.kill('SIGSTOP');
  // The others stop hearing from it, depose it and elect one of themselves; their traffic to
  // each other flows again while it is still stopped (and what they send it is held).
  const deposed = (await until(
    async () => {
      const states = await Promise.all([b, c].map((p) => p.call<PeerState>('state')));
      const newHub = states.find((s) => s.isHub);
      return newHub !== undefined && states.every((s) => s.connected && s.hubId === newHub.id)
        ? states
        : undefined;
    },
    30_000,
    'a new hub among the running peers',
  ))!;
  expect(deposed.every((s) => s.epoch > oldEpoch)).toBe(true);
  await flowing([b, c], [2, 3]);
  for (const p of [b, c]) {
    expect(p.events.some((e) => e.ev === 'disconnect')).toBe(true);
    // Each of them deposed the silent hub once, and its metrics say so.
    expect((await p.call<{ heartbeatsMissed: number }>('stats')).heartbeatsMissed).toBe(1);
  }

  hub.child.kill('SIGCONT');
  await hub.waitStderr('this hub was deposed while its process was not running');
  const after = await settled(procs);
  const woken = after.find((s) => s.pid === hub.pid)!;
  expect(woken).toMatchObject({ id: 1, isHub: false, isLeader: false });
  expect(woken.hubId).toBe(deposed.find((s) => s.isHub)!.id);
  expect(woken.epoch).toBeGreaterThan(oldEpoch);
  await flowing(procs, ids);

  const sent = new Map<number, Record<string, number>>();
  for (const p of procs) sent.set(idOf.get(p)!, await p.call<Record<string, number>>('stopSpray'));
  await until(
    async () =>
      (await Promise.all(procs.map((p) => p.call<PeerState>('state')))).every(
        (s) => s.pendingBytes === 0,
      ),
    30_000,
    'every outbox to empty',
  );
  // Every message between the three, the woken hub's own process included, arrived exactly
  // once and in order: nothing the stopped hub held was routed when it woke.
  for (const p of procs) {
    const me = idOf.get(p)!;
    const got = await received(p);
    expect(got.errors).toEqual([]);
    for (const sender of ids) {
      if (sender === me) continue;
      expect([me, sender, got.numbers[String(sender)]]).toEqual([
        me,
        sender,
        range(0, sent.get(sender)![String(me)]!),
      ]);
    }
  }
}, 120_000);
