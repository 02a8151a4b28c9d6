import {
  type PeerState,
  barrier,
  countFrom,
  expectNumbers,
  numbersFrom,
  received,
} from '../helpers/peer-fixture.js';
import { Proc, startMany } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'retire', graceMs: 10_000 });

/** Peers 1 (the hub), 2 (a sender) and 3 (the one that will retire), joined in that order. */
async function hubSenderAndOld(): Promise<[Proc, Proc, Proc]> {
  const procs = (await startMany(3, 'peer.js', (i) => box.peerEnv({ id: i + 1 }))) as [
    Proc,
    Proc,
    Proc,
  ];
  for (const p of procs) await p.call('connect');
  return procs;
}

test('a retiring peer gets nothing new; the next holder of its id gets the rest: exactly once, in order', async () => {
  const [, sender, old] = await hubSenderAndOld();
  const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 50 });
  await until(async () => (await countFrom(old, 2)) > 2000);

  await old.call('retire');
  await sender.waitEvent((e) => e.ev === 'retiring' && e.id === 3);
  expect(await sender.call('peerInfo', { id: 3 })).toMatchObject({ id: 3, retiring: true });
  const atRetire = await countFrom(old, 2);
  expect(atRetire).toBeLessThan(20_000);
  await old.call('close');
  // Nothing more reached it after it retired, though the sender kept sending to id 3.
  expect(await numbersFrom(old, 2)).toEqual(range(0, atRetire));

  const next = await Proc.start('peer.js', box.peerEnv({ id: 3 }));
  expect((await next.call<PeerState>('connect')).id).toBe(3);
  await streaming;
  await expectNumbers(next, 2, range(atRetire, 20_000 - atRetire));
  expect((await received(sender)).errors).toEqual([]);
});

test('broadcasts too: what a retiring peer no longer reads goes to the next holder of its id (a reload loses no broadcast)', async () => {
  const [hub, sender, old] = await hubSenderAndOld();
  const streaming = sender.call('stream', { to: 'others', count: 10_000, paceEvery: 25 });
  await until(async () => (await countFrom(old, 2)) > 1000);
  await old.call('retire');
  const atRetire = await countFrom(old, 2);
  await old.call('close');
  // Broadcasts routed while id 3 has no holder at all: held for its next process.
  const atClose = await countFrom(hub, 2);
  await until(async () => (await countFrom(hub, 2)) > atClose + 100);
  const next = await Proc.start('peer.js', box.peerEnv({ id: 3 }));
  expect((await next.call<PeerState>('connect')).id).toBe(3);
  await streaming;
  await expectNumbers(next, 2, range(atRetire, 10_000 - atRetire));
  await expectNumbers(hub, 2, range(0, 10_000));
  // Nothing more comes: no copy of what either process of id 3 got.
  await barrier(sender, 3, next);
  await barrier(sender, 1, hub);
  expect(await numbersFrom(old, 2)).toEqual(range(0, atRetire));
  expect(await numbersFrom(next, 2)).toEqual(range(atRetire, 10_000 - atRetire));
  expect(await numbersFrom(hub, 2)).toEqual(range(0, 10_000));
  expect((await received(sender)).errors).toEqual([]);
});

test('a request-style message (hold: false) to a retiring peer is refused at once with reason peer-retiring', async () => {
  const [hub, p2] = (await startMany(2, 'peer.js', (i) => box.peerEnv({ id: i + 1 }))) as [
    Proc,
    Proc,
  ];
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
  await until(async () => (await received(hub)).messages.length === 1);
});

test('a peer retiring when the hub dies stays retiring at the next hub: what waits for its id goes to its successor', async () => {
  const [hub, sender, old] = (await startMany(3, 'peer.js', (i) =>
    box.peerEnv({ id: [1, 3, 2][i] }),
  )) as [Proc, Proc, Proc];
  await hub.call('connect');
  await sender.call('connect');
  await old.call('connect');
  const streaming = sender.call('stream', { to: 2, count: 12_000, paceEvery: 40 });
  await until(async () => (await countFrom(old, 3)) > 1000);
  await old.call('retire');
  const retiredAt = await countFrom(old, 3);
  // An answer to the retiring process still reaches it, in the middle of the sender's stream;
  // the next hub must not take it as a sign that the held numbers before it were read too.
  await sender.call('sendToProcess', { to: 2, message: 'answer' });
  await until(async () => (await received(old)).messages.length === 1);
  await hub.kill('SIGKILL');
  // The retiring peer rejoins the new hub, still retiring: nothing more reaches it.
  await old.waitEvent(
    (e) => e.ev === 'connect' && e.id === 2 && e !== old.events.find((x) => x.ev === 'connect'),
  );
  await old.call('close');
  expect(await numbersFrom(old, 3)).toEqual(range(0, retiredAt));
  expect((await received(old)).messages).toEqual([[3, 'answer']]);
  const next = await Proc.start('peer.js', box.peerEnv({ id: 2 }));
  expect((await next.call<PeerState>('connect')).id).toBe(2);
  await streaming;
  await expectNumbers(next, 3, range(retiredAt, 12_000 - retiredAt));
  expect((await received(next)).messages).toEqual([]);
}, 60_000);

test("the hub's process closing after a peer left for good (pm2 scale down) does not wait for that peer's successor: its broadcasts reach those present, and it hands over", async () => {
  // Longer than the test may take: a close that waited for the grace period, or for its own
  // timeout, would not return in time.
  const procs = (await startMany(3, 'peer.js', (i) =>
    box.peerEnv({ id: i + 1, graceMs: 600_000, closeTimeoutMs: 600_000 }),
  )) as [Proc, Proc, Proc];
  for (const p of procs) await p.call('connect');
  const [hub, stays, gone] = procs;
  await gone.call('close');
  await until(async () => (await hub.call<PeerState>('state')).peers.join() === '1,2');

  // These wait in the hub for a successor of peer 3 too, as they would during a reload.
  await hub.call('stream', { to: 'all', count: 100 });
  await expectNumbers(stays, 1, range(0, 100));
  // Closing lets them go instead of waiting graceMs (PM2's default kill_timeout is 1.6 s, after
  // which the hub's worker would be killed and the others would see a crash).
  await hub.call('close');
  await until(async () => (await stays.call<{ isHub: boolean }>('state')).isHub);
  expect(stays.events.filter((e) => e.ev === 'hub').map((e) => e.id)).toEqual([1, 2]);
  expect(await numbersFrom(stays, 1)).toEqual(range(0, 100));
  expect((await received(stays)).errors).toEqual([]);
  expect((await received(hub)).errors).toEqual([]);
});
