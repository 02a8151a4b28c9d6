/**
 * A process whose id went to another process while it was stopped: each rejoin is refused, it
 * hears why, and it backs off between tries instead of knocking 20 times a second.
 */
import { received } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'refused' });

/** How many Joins the hub in `hub` has refused so far (from its log). */
const refusals = (hub: Proc) => hub.stderrCount('refused a peer');

test('a rejoin refused because the id was taken fails with IdTakenError each time, and the tries back off', async () => {
  const hub = await Proc.start('peer.js', box.peerEnv({ id: 1 }));
  await hub.call('connect');
  const stopped = await Proc.start('peer.js', box.peerEnv({ id: 2 }));
  await stopped.call('connect');

  stopped.child.kill('SIGSTOP');
  await hub.kill();
  // A new process takes id 2: it hosts the next hub and never knew the stopped one.
  const taker = await Proc.start('peer.js', { ...box.peerEnv({ id: 2 }), PEER_LOG: '1' });
  await taker.call('connect');
  stopped.child.kill('SIGCONT');

  await until(async () => refusals(taker) >= 1);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  // Backing off from 50 ms and doubling: 7 tries in 3 s at most (60 without the back-off).
  const tries = refusals(taker);
  expect(tries).toBeGreaterThanOrEqual(2);
  expect(tries).toBeLessThanOrEqual(8);
  const errors = (await received(stopped)).errors;
  expect(errors.length).toBeGreaterThanOrEqual(tries - 1);
  expect(new Set(errors.map((e) => `${e.name} ${e.code}`))).toEqual(
    new Set(['IdTakenError ERR_IPC_ID_TAKEN']),
  );
  expect((await taker.call<{ peers: number[] }>('state')).peers).toEqual([2]);
  await Promise.all([taker, stopped].map((p) => p.call('close')));
}, 30_000);
