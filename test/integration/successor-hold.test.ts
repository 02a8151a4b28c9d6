/**
 * A PM2 reload under load: the new process for an instance is up and waits for its id while
 * the old one, retiring, takes long to go. What is held for the id waits for the new process
 * past graceMs (up to preferredIdWaitMs more), instead of failing with its receiver there.
 */
import { expectNumbers, received } from '../helpers/peer-fixture.js';
import { pm2PeerEnv, reloadMidway } from '../helpers/pm2-reload.js';
import { Proc } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'succ', graceMs: 500, preferredIdWaitMs: 15_000 });

test('frames for a retiring id outlive graceMs while its successor waits for the id, and reach it in order', async () => {
  const { hub, old, next, joining } = await reloadMidway(box, 'succ');

  await old.call('retire');
  await hub.call('stream', { to: 1, count: 100 });
  // Held at the same moment for an id nobody will take: its failure shows graceMs has passed.
  await hub.call('emit', { to: 9, event: 'n', args: [0] });
  await until(async () => (await received(hub)).errors.length > 0);
  expect((await received(hub)).errors.map((e) => [e.name, e.reason, e.target])).toEqual([
    ['UndeliverableError', 'grace-expired', 9],
  ]);

  await old.call('close'); // PM2 stops the old process at last
  await joining;
  await expectNumbers(next, 2, range(0, 100));
  expect((await received(hub)).errors).toHaveLength(1);
}, 30_000);

test("meta set while the successor waits for its id reaches every peer with the successor's join", async () => {
  const { hub, old, next, joining } = await reloadMidway(box, 'succ');
  const other = await Proc.start('peer.js', pm2PeerEnv(box, 'succ', 2));
  await other.call('connect'); // id 3

  // Nest's IpcServer announces its routes this way when it starts listening, which under a PM2
  // reload is after the Join: the Join carried no meta.
  await next.call('setMeta', { meta: { routes: ['stats'] } });
  await old.call('close');
  await joining;

  for (const peer of [hub, other, next]) {
    await until(
      async () =>
        (await peer.call<{ pid: number } | null>('peerInfo', { id: 1 }))?.pid === next.pid,
    );
    const info = await peer.call<{ pid: number; meta: unknown }>('peerInfo', { id: 1 });
    expect(info.meta).toEqual({ routes: ['stats'] });
  }
  await Promise.all([hub, other, next].map((p) => p.call('close')));
}, 30_000);
