import { Proc, RemoteError, killAll, sleep, tempDir, until } from '../helpers/processes.js';

interface Seen {
  counted: number[];
  echoed: number;
}
interface State {
  id: number;
  peers: number[];
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});
const start = (id: number) =>
  Proc.start('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'graceful', dir: dir.path, id }),
  });
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

test('events to a Nest app that closes (a PM2 reload): each handled once, by it or by the next holder of its id', async () => {
  const N = 20_000;
  const a = await start(1);
  const b = await start(2);
  await until(async () => (await a.call<State>('state')).peers.length === 2, 10_000);
  const sending = a.call('emitMany', { target: 2, count: N, paceEvery: 20 });
  await until(async () => (await b.call<Seen>('seen')).counted.length > 2000, 10_000);
  await b.call('close'); // what SIGINT does with enableShutdownHooks
  const old = (await b.call<Seen>('seen')).counted;
  const next = await start(2); // the successor takes id 2 and what was kept for it
  await sending;
  await until(
    async () => (await next.call<Seen>('seen')).counted.length === N - old.length,
    15_000,
  );
  expect(old).toEqual(range(0, old.length));
  expect((await next.call<Seen>('seen')).counted).toEqual(range(old.length, N - old.length));
}, 60_000);

test('requests to a Nest app that closes: every handler that ran was answered; the rest were refused before running', async () => {
  const a = await start(1);
  const b = await start(2);
  await until(async () => (await a.call<State>('state')).peers.length === 2, 10_000);
  const calls = Array.from({ length: 2000 }, (_, i) =>
    a.call('send', { target: 2, pattern: 'echo', data: i }),
  );
  await sleep(30);
  await b.call('close');
  const settled = await Promise.allSettled(calls);
  const answered = settled.filter((r) => r.status === 'fulfilled');
  const refused = settled
    .filter((r) => r.status === 'rejected')
    .map((r) => (r.reason as RemoteError).payload);
  const { echoed } = await b.call<Seen>('seen');
  expect(answered.length).toBe(echoed); // no handler ran without its answer reaching the caller
  expect(answered.length + refused.length).toBe(2000);
  // Refused requests never ran; anything else here (a PeerLeftError, say) would be one lost mid-way.
  expect(
    refused.filter((e) => (e as { code?: string })?.code !== 'ERR_IPC_PEER_UNAVAILABLE'),
  ).toEqual([]);
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') expect(r.value).toEqual([i]);
  });
}, 60_000);

test('send() without a target while a worker shuts down: every request is answered by some worker', async () => {
  const workers = [await start(1), await start(2), await start(3)];
  await until(async () => (await workers[0]!.call<State>('state')).peers.length === 3, 10_000);
  const calls = Array.from({ length: 3000 }, (_, i) =>
    workers[0]!.call('send', { pattern: 'echo', data: i }),
  );
  await sleep(30);
  await workers[2]!.call('close');
  const results = await Promise.all(calls);
  expect(results).toEqual(range(0, 3000).map((i) => [i]));
  const echoed = await Promise.all(workers.map((w) => w.call<Seen>('seen')));
  expect(echoed.reduce((n, s) => n + s.echoed, 0)).toBe(3000);
}, 60_000);
