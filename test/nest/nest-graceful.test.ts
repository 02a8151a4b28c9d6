import { request } from 'node:http';
import { Proc, RemoteError, killAll, sleep, tempDir, until } from '../helpers/processes.js';

interface Seen {
  counted: number[];
  acks: number[];
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
const start = (id: number, env: Record<string, string> = {}) =>
  Proc.start('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'graceful', dir: dir.path, id }),
    ...env,
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

test('a hybrid app closes its clients before its server (Nest does): handlers still acknowledge through the client', async () => {
  const N = 6000;
  const a = await start(1);
  const b = await start(2, { WORKER_MODE: 'hybrid' });
  await until(async () => (await a.call<State>('state')).peers.length === 2, 10_000);
  const sending = a.call('emitMany', { target: 2, pattern: 'ack-me', count: N, paceEvery: 10 });
  await until(
    async () => (await b.call<Seen>('seen')).counted.length > 1000,
    10_000,
    '1000 handled',
  );
  // An HTTP request in flight keeps Nest's shutdown between closing clients and closing the
  // server for a while: events keep arriving meanwhile and their handlers use the client.
  const { httpPort } = await b.call<{ httpPort: number }>('state');
  const slow = new Promise<unknown>((resolve, reject) => {
    request({ host: '127.0.0.1', port: httpPort, path: '/http/slow?ms=400' }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(JSON.parse(text)));
    })
      .on('error', reject)
      .end();
  });
  await until(
    async () => (await b.call<{ slowHttp: number }>('seen')).slowHttp === 1,
    10_000,
    'the slow HTTP request to start',
  );
  await b.call('close');
  expect(await slow).toEqual({ slept: 400 });
  const next = await start(2, { WORKER_MODE: 'hybrid' });
  await sending;
  await until(async () => (await a.call<Seen>('seen')).acks.length >= N, 15_000, 'every ack');
  await sleep(200);
  const acks = (await a.call<Seen>('seen')).acks;
  expect([...acks].sort((x, y) => x - y)).toEqual(range(0, N)); // each acknowledged exactly once
  const handled = [
    ...(await b.call<Seen>('seen')).counted,
    ...(await next.call<Seen>('seen')).counted,
  ];
  expect(handled).toEqual(range(0, N));
}, 60_000);
