/** Hybrid Nest apps (HTTP and IpcServer in one process), and their shutdown, across processes. */
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { Proc, until } from '../helpers/processes.js';
import { type Seen, type WorkerState, nestWorkers } from '../helpers/nest-workers.js';

const nest = nestWorkers();
const { worker } = nest;

test('a hybrid app (HTTP + IpcServer) answers HTTP requests through the channel', async () => {
  const a = await worker({}, { id: 1 });
  const h = await worker({ WORKER_MODE: 'hybrid' }, { id: 2 });
  await until(async () => (await h.call<WorkerState>('state')).peers.length === 2, 10_000);
  const { httpPort } = await h.call<WorkerState>('state');
  const get = (path: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: httpPort, path }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      })
        .on('error', reject)
        .end();
    });
  const answers = await Promise.all([get('/http/sum?a=2&b=3'), get('/http/sum?a=40&b=2')]);
  expect(answers).toEqual([
    { status: 200, body: { total: 5, via: 2 } },
    { status: 200, body: { total: 42, via: 2 } },
  ]);
  // The hybrid worker's own handlers are on the channel too.
  expect(await a.call('send', { target: 2, pattern: 'sum', data: [1, 1] })).toEqual([2]);
  expect(await a.call('send', { target: 2, pattern: 'ipc-only', data: {} })).toEqual(['ipc only']);
  await h.call('close');
  await until(async () => (await a.call<WorkerState>('state')).peers.length === 1, 5000);
});

test('enableShutdownHooks: SIGTERM closes the app, hands the hub over and leaves no socket behind', async () => {
  const a = await worker({ WORKER_SHUTDOWN_HOOKS: '1' }, { id: 1 });
  const b = await worker({ WORKER_SHUTDOWN_HOOKS: '1' }, { id: 2 });
  await until(async () => (await b.call<WorkerState>('state')).peers.length === 2, 10_000);
  a.child.kill('SIGTERM');
  await a.exited;
  expect(a.signal ?? a.exitCode).toBeTruthy();
  // b took over the hub and still serves.
  await until(async () => (await b.call<WorkerState>('state')).peers.length === 1, 10_000);
  expect(await b.call('send', { target: 2, pattern: 'sum', data: [2, 2] })).toEqual([4]);
  b.child.kill('SIGTERM');
  await b.exited;
  expect(readdirSync(nest.dir.path)).toEqual([]);
});

test('a hybrid app whose client joins before its server attaches: what arrives meanwhile waits for the server', async () => {
  const a = await worker({}, { id: 1 });
  // Events for id 2 before any process holds it: the hub keeps them.
  await a.call('emitMany', { target: 2, count: 100 });
  const b = Proc.launch('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'nest', dir: nest.dir.path, id: 2 }),
    WORKER_MODE: 'hybrid',
    WORKER_LATE_SERVER_MS: '1500',
  });
  await b.waitEvent((e) => e.ev === 'client-joined', 20_000);
  // Peer 2 is joined, but its IpcServer is not attached yet.
  const answers = Promise.all(
    [0, 1, 2].map((i) => a.call('send', { target: 2, pattern: 'echo', data: i })),
  );
  await b.waitEvent((e) => e.ev === 'ready', 20_000);
  expect(await answers).toEqual([[0], [1], [2]]);
  await until(async () => (await b.call<Seen>('seen')).counted.length === 100, 10_000);
  expect((await b.call<Seen>('seen')).counted).toEqual(Array.from({ length: 100 }, (_, i) => i));
});
