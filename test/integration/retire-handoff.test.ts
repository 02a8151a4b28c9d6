/**
 * A PM2 reload that meets a hub change: the old process of an instance retires while it is
 * between hubs, or leaves before a sender that was cut off comes back. Whatever was sent to the
 * id is read once, by the old process or by the new one, never by both and never by neither.
 */
import { expectNumbers, numbersFrom, received } from '../helpers/peer-fixture.js';
import { pm2PeerEnv, reloadMidway } from '../helpers/pm2-reload.js';
import { Proc } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

// Direct links off: every frame goes through the hub, whose acks the tests hold back.
const box = sandbox({
  name: 'handoff',
  graceMs: 5000,
  preferredIdWaitMs: 15_000,
  directLinks: false,
});

const pm2Env = (instance: number) => pm2PeerEnv(box, 'handoff', instance);

test('a retirement asked for while the Join waits ends only once what the Welcome brought was read', async () => {
  const { hub, old, next, joining } = await reloadMidway(box, 'handoff');

  // The old process takes nothing new: what is sent to id 1 now waits for the next one.
  await old.call('retire');
  await hub.call('stream', { to: 1, count: 50 });
  // The next process is told to stop (a second reload, say) while its Join still waits.
  const retired = next.call<{ counts: Record<string, number> }>('retire');
  await old.call('close');
  await joining;

  // Retiring, it still reads what was held for its id, and the retirement waits for it.
  expect((await retired).counts[2]).toBe(50);
  await expectNumbers(next, 2, range(0, 50));
  await Promise.all([hub, next].map((p) => p.call('close')));
}, 30_000);

test('a sender cut off from the hub sends again what the retired process had read: its successor drops every copy', async () => {
  const hub = await Proc.start('peer.js', pm2Env(3));
  await hub.call('connect'); // hosts the hub, id 4
  const next = await Proc.start('peer.js', pm2Env(0));
  await next.call('connect'); // id 1: the next hub
  const old = await Proc.start('peer.js', pm2Env(1));
  await old.call('connect'); // id 2
  const sender = await Proc.start('peer.js', pm2Env(2));
  await sender.call('connect'); // id 3

  // Id 2 reads 50 numbers, but the hub never hears of it, so the sender has no ack for them.
  await old.call('holdReceipts');
  await sender.call('stream', { to: 2, count: 50 });
  await expectNumbers(old, 3, range(0, 50));

  // The sender stops; the hub hands over to id 1 and goes. The sender still holds all 50.
  sender.child.kill('SIGSTOP');
  await hub.call('close');
  await until(async () => (await old.call<{ hubId: number }>('state')).hubId === 1);

  // The old process of id 2 is reloaded: its successor waits, it leaves, the successor joins.
  const successor = await Proc.start('peer.js', pm2Env(1));
  const joining = successor.call('connect');
  await next.waitStderr(`hub: pid ${successor.pid} waits for id 2`);
  await old.call('close');
  await joining;

  // The sender wakes, rejoins and writes the 50 again: copies, all of them. Then 10 new ones.
  sender.child.kill('SIGCONT');
  await until(async () => (await sender.call<{ hubId: number }>('state')).hubId === 1);
  await sender.call('stream', { to: 2, count: 10, from: 50 });
  await expectNumbers(successor, 3, range(50, 10));
  await sender.call('allConfirmed');
  expect(await numbersFrom(successor, 3)).toEqual(range(50, 10));
  await Promise.all([next, successor, sender].map((p) => p.call('close')));
}, 45_000);

test('a worker whose connection breaks while its successor waits gets its id back, and the successor waits for it to leave', async () => {
  const { hub, old, next, joining } = await reloadMidway(box, 'handoff');

  // As when a loaded worker deposes a hub it found silent: its connection closes, it rejoins.
  const grants = () => hub.stderrCount(`granted id 1 to pid ${old.pid}`);
  await old.call('dropHubConnection');
  await until(async () => grants() === 2);
  await hub.call('stream', { to: 1, count: 20 });
  await expectNumbers(old, 2, range(0, 20));

  await old.call('close');
  expect((await joining).id).toBe(1);
  expect((await received(old)).errors).toEqual([]);
  await hub.call('stream', { to: 1, count: 5, from: 20 });
  await expectNumbers(next, 2, range(20, 5));
  await Promise.all([hub, next].map((p) => p.call('close')));
}, 30_000);
