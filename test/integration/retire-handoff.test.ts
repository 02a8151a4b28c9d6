/**
 * A PM2 reload that meets a hub change: the old process of an instance retires while it is
 * between hubs, or leaves before a sender that was cut off comes back. Whatever was sent to the
 * id is read once, by the old process or by the new one, never by both and never by neither.
 */
import { expectNumbers } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';

// Direct links off: every frame goes through the hub, whose acks the tests hold back.
const box = sandbox({
  name: 'handoff',
  graceMs: 5000,
  preferredIdWaitMs: 15_000,
  directLinks: false,
});

/** A PM2 worker's environment: instance `instance` prefers peer id instance + 1. */
const pm2Env = (instance: number) => ({
  ...box.peerEnv(),
  pm_id: String(10 + instance),
  name: 'handoff',
  NODE_APP_INSTANCE: String(instance),
  PEER_LOG: '1',
});

test('a retirement asked for while the Join waits ends only once what the Welcome brought was read', async () => {
  const hub = await Proc.start('peer.js', pm2Env(1));
  await hub.call('connect'); // hosts the hub, id 2
  const old = await Proc.start('peer.js', pm2Env(0));
  await old.call('connect'); // id 1
  const next = await Proc.start('peer.js', pm2Env(0));
  const joining = next.call('connect');
  await hub.waitStderr(`hub: pid ${next.pid} waits for id 1`);

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
