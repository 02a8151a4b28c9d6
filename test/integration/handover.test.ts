import { readdirSync } from 'node:fs';
import {
  type PeerState,
  barrier,
  countFrom,
  expectNumbers,
  received,
} from '../helpers/peer-fixture.js';
import { Proc, startMany } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'hand' });

test('closing the hub hands it to the lowest remaining id; traffic between the others loses nothing', async () => {
  const procs = await startMany(4, 'peer.js', (i) => box.peerEnv({ id: i + 1 }));
  await procs[0]!.call('connect');
  await Promise.all(procs.slice(1).map((p) => p.call('connect')));
  expect((await procs[0]!.call<PeerState>('state')).isHub).toBe(true);
  const [hub, b, c, d] = procs as [Proc, Proc, Proc, Proc];

  const streaming = Promise.all([
    b.call('stream', { to: 3, count: 5000, paceEvery: 50 }),
    c.call('stream', { to: 4, count: 5000, paceEvery: 50 }),
    d.call('stream', { to: 2, count: 5000, paceEvery: 50 }),
  ]);
  await until(async () => (await countFrom(c, 2)) > 500);
  await hub.call('close');
  await streaming;

  await until(
    async () => (await b.call<PeerState>('state')).isHub,
    undefined,
    'peer 2 to take over',
  );
  await expectNumbers(c, 2, range(0, 5000));
  await expectNumbers(d, 3, range(0, 5000));
  await expectNumbers(b, 4, range(0, 5000));
  for (const p of [b, c, d]) {
    const s = await p.call<PeerState>('state');
    expect(s.peers).toEqual([2, 3, 4]);
    expect(s.hubId).toBe(2);
  }
  await Promise.all([b, c, d].map((p) => p.call('close')));
  expect(readdirSync(box.dir)).toEqual([]);
});

/**
 * A PM2 instance's environment; `log` has its Channel log to stderr, where a test can watch
 * what its hub does about an id.
 */
const pm2Env = (instance: number, options: Record<string, unknown> = {}, log = false) => ({
  ...box.peerEnv(options),
  pm_id: String(10 + instance),
  name: 'hand',
  NODE_APP_INSTANCE: String(instance),
  ...(log ? { PEER_LOG: '1' } : {}),
});

test('PM2: the id is NODE_APP_INSTANCE + 1; a reloaded instance waits for its predecessor to leave, then takes over the id and its held messages', async () => {
  const [w0, w1] = await Promise.all([
    Proc.start('peer.js', pm2Env(0)),
    Proc.start('peer.js', pm2Env(1, {}, true)),
  ]);
  // w1 first: it hosts the hub.
  await w1.call('connect');
  await w0.call('connect');
  expect((await w0.call<PeerState>('state')).id).toBe(1);
  expect((await w1.call<PeerState>('state')).id).toBe(2);

  // The reload: the new process for instance 0 starts while the old one still runs.
  const next = await Proc.start('peer.js', pm2Env(0));
  const joining = next.call<PeerState>('connect');
  await w1.waitStderr(`hub: pid ${next.pid} waits for id 1`);
  expect((await next.call<PeerState>('state')).id).toBeUndefined();

  await w1.call('stream', { to: 1, count: 100 });
  await expectNumbers(w0, 2, range(0, 100));
  await w0.call('close'); // PM2 stops the old process
  const joined = await joining;
  expect(joined.id).toBe(1);
  await w1.call('stream', { to: 1, count: 100, from: 100 });
  await expectNumbers(next, 2, range(100, 100));
  expect((await received(w1)).errors).toEqual([]);
});

test("reloading the hub's worker: the others hear 'hub' even when the new hub has the old one's id", async () => {
  const w0 = await Proc.start('peer.js', pm2Env(0));
  expect((await w0.call<PeerState>('connect')).isHub).toBe(true);
  const w1 = await Proc.start('peer.js', pm2Env(1));
  expect((await w1.call<PeerState>('connect')).hubId).toBe(1);
  const next = await Proc.start('peer.js', pm2Env(0));
  const joining = next.call<PeerState>('connect');
  const seen = w1.events.length;
  await w0.call('close');
  expect((await joining).id).toBe(1);
  // Whichever process won the election (w1 as the handover's successor, or the newcomer that
  // takes id 1), w1 is told of the hub that now serves it.
  const hub = await until(async () => {
    const s = await w1.call<PeerState>('state');
    const hosting = s.isHub ? s : await next.call<PeerState>('state');
    return s.connected && hosting.isHub ? s.hubId : 0;
  });
  const told = w1.events.slice(seen).filter((e) => e.ev === 'hub');
  expect(told.map((e) => e.id)).toEqual([hub]);
});

test('PM2: if the predecessor never leaves, the newcomer gets the lowest free id after preferredIdWaitMs', async () => {
  const old = await Proc.start('peer.js', pm2Env(0, {}, true));
  await old.call('connect');
  const stuck = await Proc.start('peer.js', pm2Env(0, { preferredIdWaitMs: 400 }));
  const s = await stuck.call<PeerState>('connect');
  expect(s.id).toBe(2);
  // It got id 2 because its wait for id 1 ran out, not at once.
  await old.waitStderr(`hub: pid ${stuck.pid} waits for id 1`);
  await old.waitStderr('peer id 1 stayed taken for 400 ms; giving this process another id');
});

test('a peer that dies before rejoining the next hub is not waited for: requests to its id are refused, messages wait for its successor', async () => {
  const env = (id: number) => box.peerEnv({ id, graceMs: 30_000 });
  const [hub, next, going] = (await startMany(3, 'peer.js', (i) => env(i + 1))) as [
    Proc,
    Proc,
    Proc,
  ];
  for (const p of [hub, next, going]) await p.call('connect');
  await until(async () => (await next.call<PeerState>('state')).peers.join() === '1,2,3');

  // Peer 3 stops reading, as a worker on its way out does while its hub hands over: it is alive
  // when the next hub starts, so that hub expects it back (PM2 scaling down the hub's worker
  // and another at once).
  process.kill(going.pid, 'SIGSTOP');
  await hub.call('close');
  await until(
    async () => (await next.call<PeerState>('state')).isHub,
    undefined,
    'peer 2 to take over',
  );
  await next.call('sendNoHold', { to: 3, message: 'while it is expected' });
  // Peer 2's hub (in its own process) decides about a frame as it routes it, and a refusal goes
  // out before anything routed after it: once a marker to itself is back, a refusal would be in.
  await barrier(next, 2, next);
  expect(next.events.filter((e) => e.ev === 'error')).toEqual([]);

  // It dies without rejoining: the request held for it is refused now, not after graceMs.
  await going.kill();
  const refused = await next.waitEvent((e) => e.ev === 'error');
  expect(refused).toMatchObject({
    code: 'ERR_IPC_UNDELIVERABLE',
    reason: 'peer-absent',
    target: 3,
    data: 'while it is expected',
  });
  await next.call('sendNoHold', { to: 3, message: 'after it died' });
  await until(async () => next.events.filter((e) => e.ev === 'error').length === 2);
  expect(next.events.filter((e) => e.ev === 'error')[1]).toMatchObject({
    reason: 'peer-absent',
    target: 3,
    data: 'after it died',
  });

  // A message (held by default) still waits for whoever takes the id next.
  await next.call('send', { to: 3, message: 'for the successor' });
  const successor = await Proc.start('peer.js', env(3));
  expect((await successor.call<PeerState>('connect')).id).toBe(3);
  await until(async () => (await received(successor)).messages.length > 0);
  await barrier(next, 3, successor);
  expect((await received(successor)).messages).toEqual([[2, 'for the successor']]);
  expect(next.events.filter((e) => e.ev === 'error')).toHaveLength(2);
});
