import { Proc, killAll, sleep, startMany, tempDir, until } from '../helpers/processes.js';

interface State {
  pid: number;
  id: number;
  isHub: boolean;
  connected: boolean;
  peers: number[];
  hubId: number;
  pendingBytes: number;
}
interface Received {
  numbers: Record<string, number[]>;
  errors: Record<string, unknown>[];
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Waits until every live process is joined to one hub and lists exactly the live ids. */
async function settled(procs: Proc[]): Promise<State[]> {
  return until<State[] | undefined>(
    async () => {
      const states = await Promise.all(procs.map((p) => p.call<State>('state')));
      const ids = states.map((s) => s.id).sort((a, b) => a - b);
      const hubs = states.filter((s) => s.isHub);
      const ok =
        hubs.length === 1 &&
        states.every(
          (s) => s.connected && s.hubId === hubs[0]!.id && s.peers.join() === ids.join(),
        );
      return ok ? states : undefined;
    },
    15_000,
    'the channel to settle on one hub',
  ) as Promise<State[]>;
}

test('kill -9 of the hub, four times under all-to-all traffic: every message between live processes arrives exactly once, in order', async () => {
  const n = 8;
  const procs = await startMany(n, 'peer.js', (i) => ({
    PEER_OPTIONS: JSON.stringify({ name: 'chaos', dir: dir.path, id: i + 1, graceMs: 1500 }),
  }));
  await Promise.all(procs.map((p) => p.call('connect')));
  await settled(procs);
  const ids = range(n).map((i) => i + 1);
  await Promise.all(
    procs.map((p, i) => p.call('spray', { targets: ids.filter((t) => t !== i + 1), perTick: 4 })),
  );

  const alive = new Set(procs);
  const killedIds = new Set<number>();
  const hubs: number[] = [];
  for (let round = 0; round < 4; round++) {
    await sleep(400);
    const states = await settled([...alive]);
    const hubState = states.find((s) => s.isHub)!;
    const hub = [...alive].find((p) => p.pid === hubState.pid)!;
    hubs.push(hubState.id);
    await hub.kill('SIGKILL');
    alive.delete(hub);
    killedIds.add(hubState.id);
  }
  const final = await settled([...alive]);
  await sleep(400);

  // Stop sending, then wait until every survivor has had everything confirmed (frames to the
  // dead are given up after graceMs).
  const sent = new Map<number, Record<string, number>>();
  for (const p of alive) {
    const st = final.find((s) => s.pid === p.pid)!;
    sent.set(st.id, await p.call<Record<string, number>>('stopSpray'));
  }
  await until(
    async () =>
      (await Promise.all([...alive].map((p) => p.call<State>('state')))).every(
        (s) => s.pendingBytes === 0,
      ),
    15_000,
    'every outbox to empty',
  );

  expect(new Set(hubs).size).toBe(4);
  const survivors = final.map((s) => s.id).sort((a, b) => a - b);
  expect(survivors).toEqual(ids.filter((id) => !killedIds.has(id)));

  let checkedPairs = 0;
  let delivered = 0;
  for (const p of alive) {
    const me = final.find((s) => s.pid === p.pid)!.id;
    const got = await p.call<Received>('received');
    // Nothing was reported undeliverable except messages to processes that died.
    for (const e of got.errors) {
      expect(e.code).toBe('ERR_IPC_UNDELIVERABLE');
      expect(killedIds.has(e.target as number)).toBe(true);
    }
    for (const sender of ids) {
      if (sender === me) continue;
      const list = got.numbers[String(sender)] ?? [];
      if (killedIds.has(sender)) {
        // A sender that died: what arrived is a gapless, duplicate-free prefix.
        expect(list).toEqual(range(list.length));
      } else {
        // Both alive throughout: everything accepted arrived exactly once, in order.
        const count = sent.get(sender)![String(me)]!;
        expect(list.length).toBe(count);
        expect(list).toEqual(range(count));
        checkedPairs++;
        delivered += count;
      }
    }
  }
  expect(checkedPairs).toBe(4 * 3);
  expect(delivered).toBeGreaterThan(2000);
}, 120_000);

test('a request-like stream to a non-hub peer survives a hub kill with no loss and no duplicate', async () => {
  const procs = await startMany(4, 'peer.js', (i) => ({
    PEER_OPTIONS: JSON.stringify({ name: 'chaos2', dir: dir.path, id: i + 1 }),
  }));
  // Connect the future hub first so the roles are known.
  await procs[0]!.call('connect');
  await Promise.all(procs.slice(1).map((p) => p.call('connect')));
  const states = await settled(procs);
  expect(states.find((s) => s.isHub)!.id).toBe(1);

  const [, b, c, d] = procs as [Proc, Proc, Proc, Proc];
  const streaming = Promise.all([
    b.call('stream', { to: 3, count: 6000, paceEvery: 20 }),
    c.call('stream', { to: 4, count: 6000, paceEvery: 20 }),
    d.call('stream', { to: 2, count: 6000, paceEvery: 20 }),
  ]);
  // Kill once each stream is under way but far from done.
  const before = await until(
    async () => {
      const counts = await c.call<Record<string, number>>('counts');
      return (counts['2'] ?? 0) >= 500 ? counts['2'] : undefined;
    },
    10_000,
    'the stream to start',
  );
  await procs[0]!.kill('SIGKILL');
  await streaming;
  expect(before).toBeLessThan(6000);
  await c.waitEvent((e) => e.ev === 'disconnect');
  await until(
    async () => {
      const counts = await Promise.all(
        [c, d, b].map((p) => p.call<Record<string, number>>('counts')),
      );
      return counts[0]!['2'] === 6000 && counts[1]!['3'] === 6000 && counts[2]!['4'] === 6000;
    },
    20_000,
    'all 18000 messages',
  );
  await sleep(200);
  expect((await c.call<Received>('received')).numbers['2']).toEqual(range(6000));
  expect((await d.call<Received>('received')).numbers['3']).toEqual(range(6000));
  expect((await b.call<Received>('received')).numbers['4']).toEqual(range(6000));
  const after = await settled([b, c, d]);
  expect(after.filter((s) => s.isHub)).toHaveLength(1);
  expect(after.map((s) => s.peers)).toEqual([
    [2, 3, 4],
    [2, 3, 4],
    [2, 3, 4],
  ]);
}, 60_000);
