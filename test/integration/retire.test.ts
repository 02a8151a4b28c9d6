import { Proc, killAll, sleep, startMany, tempDir, until } from '../helpers/processes.js';

interface State {
  id: number;
  peers: number[];
}
interface Received {
  numbers: Record<string, number[]>;
  errors: { code: string; reason?: string; target?: number; event?: string }[];
  messages: [number, unknown][];
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});
const env = (extra: Record<string, unknown>) => ({
  PEER_OPTIONS: JSON.stringify({ name: 'drain', dir: dir.path, graceMs: 10_000, ...extra }),
});
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
/** How many numbers `p` has received from peer 2. */
const countFrom2 = async (p: Proc) => (await p.call<Record<string, number>>('counts'))['2'] ?? 0;

/** Peers 1 (the hub), 2 (a sender) and 3 (the one that will drain), joined in that order. */
async function hubSenderAndOld(): Promise<[Proc, Proc, Proc]> {
  const procs = (await startMany(3, 'peer.js', (i) => env({ id: i + 1 }))) as [Proc, Proc, Proc];
  for (const p of procs) await p.call('connect');
  return procs;
}

test('a retiring peer gets nothing new; the next holder of its id gets the rest: exactly once, in order', async () => {
  const [, sender, old] = await hubSenderAndOld();
  const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 50 });
  await until(async () => (await countFrom2(old)) > 2000, 10_000);

  await old.call('retire');
  await sender.waitEvent((e) => e.ev === 'retiring' && e.id === 3);
  expect(await sender.call('peerInfo', { id: 3 })).toMatchObject({ id: 3, retiring: true });
  const atRetire = await countFrom2(old);
  await sleep(200);
  // Drained: nothing more arrives, though the sender keeps sending to id 3.
  expect(await countFrom2(old)).toBe(atRetire);
  expect(atRetire).toBeLessThan(20_000);
  await old.call('close');

  const next = await Proc.start('peer.js', env({ id: 3 }));
  expect((await next.call<State>('connect')).id).toBe(3);
  await streaming;
  await until(async () => (await countFrom2(next)) === 20_000 - atRetire, 15_000);
  const before = (await old.call<Received>('received')).numbers['2']!;
  const after = (await next.call<Received>('received')).numbers['2']!;
  expect(before).toEqual(range(0, atRetire));
  expect(after).toEqual(range(atRetire, 20_000 - atRetire));
  expect((await sender.call<Received>('received')).errors).toEqual([]);
});

test('broadcasts too: what a retiring peer no longer reads goes to the next holder of its id (a reload loses no broadcast)', async () => {
  const [hub, sender, old] = await hubSenderAndOld();
  const streaming = sender.call('stream', { to: 'others', count: 10_000, paceEvery: 25 });
  await until(async () => (await countFrom2(old)) > 1000, 10_000);
  await old.call('retire');
  const atRetire = await countFrom2(old);
  await old.call('close');
  await sleep(100); // broadcasts routed while id 3 has no holder at all
  const next = await Proc.start('peer.js', env({ id: 3 }));
  expect((await next.call<State>('connect')).id).toBe(3);
  await streaming;
  await until(async () => (await countFrom2(next)) === 10_000 - atRetire, 15_000);
  await until(async () => (await countFrom2(hub)) === 10_000, 5000);
  await sleep(200); // a duplicate, if there were one, would have come by now
  expect((await old.call<Received>('received')).numbers['2']).toEqual(range(0, atRetire));
  expect((await next.call<Received>('received')).numbers['2']).toEqual(
    range(atRetire, 10_000 - atRetire),
  );
  expect((await hub.call<Received>('received')).numbers['2']).toEqual(range(0, 10_000));
  expect((await sender.call<Received>('received')).errors).toEqual([]);
});

test('a request-style message (hold: false) to a retiring peer is refused at once with reason peer-retiring', async () => {
  const [hub, p2] = (await startMany(2, 'peer.js', (i) => env({ id: i + 1 }))) as [Proc, Proc];
  await hub.call('connect');
  await p2.call('connect');
  await p2.call('retire');
  await hub.waitEvent((e) => e.ev === 'retiring' && e.id === 2);
  await hub.call('sendNoHold', { to: 2, message: 'req' });
  const err = await hub.waitEvent((e) => e.ev === 'error');
  expect(err).toMatchObject({ code: 'ERR_IPC_UNDELIVERABLE', reason: 'peer-retiring', target: 2 });
  expect((err as unknown as { message: string }).message).toContain('shutting down');
  // A retiring peer still sends (it answers what it received before retiring).
  await p2.call('send', { to: 1, message: 'still talking' });
  await until(
    async () => (await hub.call<{ messages: unknown[] }>('received')).messages.length === 1,
    5000,
  );
});

test('a peer retiring when the hub dies stays retiring at the next hub: what waits for its id goes to its successor', async () => {
  const [hub, sender, old] = (await startMany(3, 'peer.js', (i) => env({ id: [1, 3, 2][i] }))) as [
    Proc,
    Proc,
    Proc,
  ];
  await hub.call('connect');
  await sender.call('connect');
  await old.call('connect');
  const streaming = sender.call('stream', { to: 2, count: 12_000, paceEvery: 40 });
  await until(
    async () => ((await old.call<Record<string, number>>('counts'))['3'] ?? 0) > 1000,
    10_000,
  );
  await old.call('retire');
  const retiredAt = (await old.call<Record<string, number>>('counts'))['3']!;
  // An answer to the retiring process still reaches it, in the middle of the sender's stream;
  // the next hub must not take it as a sign that the held numbers before it were read too.
  await sender.call('sendToProcess', { to: 2, message: 'answer' });
  await until(async () => (await old.call<Received>('received')).messages.length === 1, 5000);
  await hub.kill('SIGKILL');
  // The retiring peer rejoins the new hub, still retiring: nothing more reaches it.
  await old.waitEvent(
    (e) => e.ev === 'connect' && e.id === 2 && e !== old.events.find((x) => x.ev === 'connect'),
  );
  await sleep(300);
  expect((await old.call<Record<string, number>>('counts'))['3']).toBe(retiredAt);
  await old.call('close');
  const next = await Proc.start('peer.js', env({ id: 2 }));
  expect((await next.call<State>('connect')).id).toBe(2);
  await streaming;
  let seen: number | undefined;
  await until(
    async () =>
      (seen = (await next.call<Record<string, number>>('counts'))['3']) === 12_000 - retiredAt,
    15_000,
    `the successor to get the rest (${12_000 - retiredAt} after ${retiredAt})`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; it got ${seen}`);
  });
  expect((await old.call<Received>('received')).numbers['3']).toEqual(range(0, retiredAt));
  expect((await old.call<Received>('received')).messages).toEqual([[3, 'answer']]);
  expect((await next.call<Received>('received')).numbers['3']).toEqual(
    range(retiredAt, 12_000 - retiredAt),
  );
  expect((await next.call<Received>('received')).messages).toEqual([]);
}, 60_000);

test("the hub's process closing after a peer left for good (pm2 scale down) does not wait for that peer's successor: its broadcasts reach those present, and it hands over", async () => {
  const procs = (await startMany(3, 'peer.js', (i) =>
    env({ id: i + 1, graceMs: 20_000, closeTimeoutMs: 20_000 }),
  )) as [Proc, Proc, Proc];
  for (const p of procs) await p.call('connect');
  const [hub, stays, gone] = procs;
  await gone.call('close');
  await until(async () => (await hub.call<State>('state')).peers.join() === '1,2', 5000);

  // These wait in the hub for a successor of peer 3 too, as they would during a reload.
  await hub.call('stream', { to: 'all', count: 100 });
  await until(
    async () => ((await stays.call<Record<string, number>>('counts'))['1'] ?? 0) === 100,
    5000,
  );
  // Closing lets them go instead of waiting graceMs (20 s here; PM2's default kill_timeout is
  // 1.6 s, after which the hub's worker would be killed and the others would see a crash).
  await hub.call('close', {}, 8000);
  await until(async () => (await stays.call<{ isHub: boolean }>('state')).isHub, 5000);
  expect(stays.events.filter((e) => e.ev === 'hub').map((e) => e.id)).toEqual([1, 2]);
  expect((await stays.call<Received>('received')).numbers['1']).toEqual(range(0, 100));
  expect((await stays.call<Received>('received')).errors).toEqual([]);
  expect((await hub.call<Received>('received')).errors).toEqual([]);
});
