import { readdirSync } from 'node:fs';
import { Proc, killAll, sleep, startMany, tempDir, until } from '../helpers/processes.js';

interface State {
  pid: number;
  id: number;
  connected: boolean;
  isHub: boolean;
  peers: number[];
  hubId: number;
}
interface Received {
  numbers: Record<string, number[]>;
  errors: unknown[];
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
const opts = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'hand', dir: dir.path, ...extra });

test('closing the hub hands it to the lowest remaining id; traffic between the others loses nothing', async () => {
  const procs = await startMany(4, 'peer.js', (i) => ({ PEER_OPTIONS: opts({ id: i + 1 }) }));
  await procs[0]!.call('connect');
  await Promise.all(procs.slice(1).map((p) => p.call('connect')));
  expect((await procs[0]!.call<State>('state')).isHub).toBe(true);
  const [hub, b, c, d] = procs as [Proc, Proc, Proc, Proc];

  const streaming = Promise.all([
    b.call('stream', { to: 3, count: 5000, paceEvery: 50 }),
    c.call('stream', { to: 4, count: 5000, paceEvery: 50 }),
    d.call('stream', { to: 2, count: 5000, paceEvery: 50 }),
  ]);
  await until(
    async () => ((await c.call<Record<string, number>>('counts'))['2'] ?? 0) > 500,
    10_000,
  );
  await hub.call('close');
  await streaming;

  await until(async () => (await b.call<State>('state')).isHub, 10_000, 'peer 2 to take over');
  await until(
    async () => {
      const [cb, cc, cd] = await Promise.all(
        [b, c, d].map((p) => p.call<Record<string, number>>('counts')),
      );
      return cc!['2'] === 5000 && cd!['3'] === 5000 && cb!['4'] === 5000;
    },
    20_000,
    'every message',
  );
  expect((await c.call<Received>('received')).numbers['2']).toEqual(range(5000));
  expect((await d.call<Received>('received')).numbers['3']).toEqual(range(5000));
  expect((await b.call<Received>('received')).numbers['4']).toEqual(range(5000));
  for (const p of [b, c, d]) {
    const s = await p.call<State>('state');
    expect(s.peers).toEqual([2, 3, 4]);
    expect(s.hubId).toBe(2);
  }
  await Promise.all([b, c, d].map((p) => p.call('close')));
  expect(readdirSync(dir.path)).toEqual([]);
});

const pm2Env = (instance: number, extra: Record<string, unknown> = {}) => ({
  PEER_OPTIONS: opts(extra),
  pm_id: String(10 + instance),
  name: 'hand',
  NODE_APP_INSTANCE: String(instance),
});

test('PM2: the id is NODE_APP_INSTANCE + 1; a reloaded instance waits for its predecessor to leave, then takes over the id and its held messages', async () => {
  const [w0, w1] = await Promise.all([
    Proc.start('peer.js', pm2Env(0)),
    Proc.start('peer.js', pm2Env(1)),
  ]);
  await w1!.call('connect');
  await w0!.call('connect');
  expect((await w0!.call<State>('state')).id).toBe(1);
  expect((await w1!.call<State>('state')).id).toBe(2);

  // The reload: the new process for instance 0 starts while the old one still runs.
  const next = await Proc.start('peer.js', pm2Env(0));
  const joining = next.call<State>('connect');
  await new Promise((r) => setTimeout(r, 300));
  expect((await next.call<State>('state')).id).toBeUndefined(); // still waiting for id 1

  await w1!.call('stream', { to: 1, count: 100 });
  await until(async () => (await w0!.call<Record<string, number>>('counts'))['2'] === 100, 5000);
  await w0!.call('close'); // PM2 stops the old process
  const joined = await joining;
  expect(joined.id).toBe(1);
  await w1!.call('stream', { to: 1, count: 100, from: 100 });
  await until(async () => (await next.call<Record<string, number>>('counts'))['2'] === 100, 5000);
  expect((await next.call<Received>('received')).numbers['2']).toEqual(
    range(100).map((i) => i + 100),
  );
  expect((await w1!.call<Received>('received')).errors).toEqual([]);
});

test("reloading the hub's worker: the others hear 'hub' even when the new hub has the old one's id", async () => {
  const w0 = await Proc.start('peer.js', pm2Env(0));
  expect((await w0.call<State>('connect')).isHub).toBe(true);
  const w1 = await Proc.start('peer.js', pm2Env(1));
  expect((await w1.call<State>('connect')).hubId).toBe(1);
  const next = await Proc.start('peer.js', pm2Env(0));
  const joining = next.call<State>('connect');
  const seen = w1.events.length;
  await w0.call('close');
  expect((await joining).id).toBe(1);
  // Whichever process won the election (w1 as the handover's successor, or the newcomer that
  // takes id 1), w1 is told of the hub that now serves it.
  const hub = await until(async () => {
    const s = await w1.call<State>('state');
    const hosting = s.isHub ? s : await next.call<State>('state');
    return s.connected && hosting.isHub ? s.hubId : 0;
  }, 10_000);
  const told = w1.events.slice(seen).filter((e) => e.ev === 'hub');
  expect(told.map((e) => e.id)).toEqual([hub]);
});

test('PM2: if the predecessor never leaves, the newcomer gets the lowest free id after preferredIdWaitMs', async () => {
  const old = await Proc.start('peer.js', pm2Env(0));
  await old.call('connect');
  const stuck = await Proc.start('peer.js', pm2Env(0, { preferredIdWaitMs: 400 }));
  const started = Date.now();
  const s = await stuck.call<State>('connect');
  expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  expect(s.id).toBe(2);
});

test('a peer that dies before rejoining the next hub is not waited for: requests to its id are refused, messages wait for its successor', async () => {
  const env = (id: number) => ({ PEER_OPTIONS: opts({ id, graceMs: 30_000 }) });
  const [hub, next, going] = (await startMany(3, 'peer.js', (i) => env(i + 1))) as [
    Proc,
    Proc,
    Proc,
  ];
  for (const p of [hub, next, going]) await p.call('connect');
  await until(async () => (await next.call<State>('state')).peers.join() === '1,2,3', 5000);

  // Peer 3 stops reading, as a worker on its way out does while its hub hands over: it is alive
  // when the next hub starts, so that hub expects it back (PM2 scaling down the hub's worker
  // and another at once).
  process.kill(going.pid, 'SIGSTOP');
  await hub.call('close');
  await until(async () => (await next.call<State>('state')).isHub, 10_000, 'peer 2 to take over');
  await next.call('sendNoHold', { to: 3, message: 'while it is expected' });
  await sleep(300);
  expect(next.events.filter((e) => e.ev === 'error')).toEqual([]);

  // It dies without rejoining: the request held for it is refused now, not after graceMs.
  await going.kill();
  const refused = await next.waitEvent((e) => e.ev === 'error', 10_000);
  expect(refused).toMatchObject({
    code: 'ERR_IPC_UNDELIVERABLE',
    reason: 'peer-absent',
    target: 3,
  });
  await next.call('sendNoHold', { to: 3, message: 'after it died' });
  await until(async () => next.events.filter((e) => e.ev === 'error').length === 2, 5000);
  expect(next.events.filter((e) => e.ev === 'error')[1]).toMatchObject({
    reason: 'peer-absent',
    target: 3,
  });

  // A message (held by default) still waits for whoever takes the id next.
  await next.call('send', { to: 3, message: 'for the successor' });
  const successor = await Proc.start('peer.js', env(3));
  expect((await successor.call<State>('connect')).id).toBe(3);
  await until(
    async () => (await successor.call<{ messages: unknown[] }>('received')).messages.length > 0,
    5000,
  );
  expect((await successor.call<{ messages: unknown[] }>('received')).messages).toEqual([
    [2, 'for the successor'],
  ]);
  expect(next.events.filter((e) => e.ev === 'error')).toHaveLength(2);
});
