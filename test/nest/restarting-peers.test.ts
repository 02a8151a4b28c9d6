import type { INestApplication } from '@nestjs/common';
import { lastValueFrom, toArray } from 'rxjs';
import {
  type Channel,
  ChannelClosedError,
  IpcClient,
  type IpcReply,
  PeerUnavailableError,
  RequestTimeoutError,
} from '../../src/index.js';
import { killAll, tempDir, until } from '../helpers/processes.js';
import { channelOptions, startApp, worker } from './http-app.js';

let dir: ReturnType<typeof tempDir>;
let app: INestApplication;
const clients: IpcClient[] = [];

beforeEach(async () => {
  dir = tempDir();
  app = await startApp(dir.path);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await app.close();
  await killAll();
  dir.remove();
});

function channel(): Channel {
  return app.get<IpcClient>('IPC').unwrap<Channel>();
}

/** Another IpcClient of the app's process (same channel, same peer id), with its own options. */
async function client(options: Record<string, unknown>): Promise<IpcClient> {
  const c = new IpcClient({ ...channelOptions(dir.path, { id: 1 }), ...options });
  clients.push(c);
  await c.connect();
  return c;
}

async function peersAre(ids: number[]): Promise<void> {
  await until(() => JSON.stringify(channel().peers) === JSON.stringify(ids), 10_000);
}

function byPeer(replies: IpcReply[]): IpcReply[] {
  return [...replies].sort((a, b) => (a.peer as number) - (b.peer as number));
}

/** The app's gather of 'sum' over [1, 2] from every peer, its replies by peer id. */
async function gatherSum(): Promise<IpcReply[]> {
  return byPeer(
    await lastValueFrom(app.get<IpcClient>('IPC').to('all').send('sum', [1, 2]).pipe(toArray())),
  );
}

test('waitForRestart: a request to a killed peer waits for its successor, which runs it once', async () => {
  const w2 = await worker(dir.path, 2);
  await peersAre([1, 2]);
  await w2.kill();
  await peersAre([1]);
  const waiting = await client({ waitForRestart: true, timeout: 20_000 });
  const answer = lastValueFrom(waiting.to(2).send('echo', 'hello').pipe(toArray()));
  const successor = await worker(dir.path, 2);
  expect(await answer).toEqual(['hello']);
  expect((await successor.call<{ echoed: number }>('seen')).echoed).toBe(1);
});

test('waitForRestart: a peer shutting down hands the request to the process that takes its id', async () => {
  const w2 = await worker(dir.path, 2);
  await peersAre([1, 2]);
  await w2.call('retireChannel');
  await until(() => channel().peerInfo(2)?.retiring === true, 10_000);
  const waiting = await client({ waitForRestart: true, timeout: 20_000 });
  const answer = lastValueFrom(waiting.to(2).send('echo', 'after reload').pipe(toArray()));
  await w2.call('close');
  const successor = await worker(dir.path, 2);
  expect(await answer).toEqual(['after reload']);
  expect((await w2.call<{ echoed: number }>('seen').catch(() => ({ echoed: 0 }))).echoed).toBe(0);
  expect((await successor.call<{ echoed: number }>('seen')).echoed).toBe(1);
});

test('waitForRestart is bounded by the timeout: the error says the request waited and did not run', async () => {
  const w2 = await worker(dir.path, 2);
  await peersAre([1, 2]);
  await w2.kill();
  await peersAre([1]);
  const waiting = await client({ waitForRestart: true, timeout: 400 });
  const error = await lastValueFrom(waiting.to(2).send('echo', 'x')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RequestTimeoutError);
  expect(error).toMatchObject({ peer: 2, read: false, waitedForRestart: true, ms: 400 });
});

test('without waitForRestart, the request fails at once with PeerUnavailableError, restarting', async () => {
  const w2 = await worker(dir.path, 2);
  await peersAre([1, 2]);
  await w2.kill();
  await peersAre([1]);
  const plain = app.get<IpcClient>('IPC');
  const error = await lastValueFrom(plain.to(2).send('echo', 'x')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PeerUnavailableError);
  expect(error).toMatchObject({ peer: 2, pattern: 'echo', retiring: false, restarting: true });
  const never = await lastValueFrom(plain.to(7).send('echo', 'x')).catch((e: unknown) => e);
  expect(never).toBeInstanceOf(PeerUnavailableError);
  expect(never).toMatchObject({ peer: 7, restarting: false });
});

test('a gather names the peer that was a member and is restarting: its IpcReply has the error', async () => {
  await worker(dir.path, 2);
  const w3 = await worker(dir.path, 3);
  await peersAre([1, 2, 3]);
  await w3.kill();
  await peersAre([1, 2]);
  const replies = await gatherSum();
  expect(replies.map((r) => [r.peer, r.data])).toEqual([
    [1, 3],
    [2, 3],
    [3, undefined],
  ]);
  expect(replies[2]!.error).toBeInstanceOf(PeerUnavailableError);
  expect(replies[2]!.error).toMatchObject({ peer: 3, restarting: true });
  // Once the id is gone for longer than graceMs (3 s here), a gather no longer expects it.
  await until(async () => (await gatherSum()).length === 2, 10_000);
});

test('a gather names a peer that is shutting down: its IpcReply is the refusal (it did not run)', async () => {
  await worker(dir.path, 2);
  const w3 = await worker(dir.path, 3);
  await peersAre([1, 2, 3]);
  await w3.call('retireChannel');
  await until(() => channel().peerInfo(3)?.retiring === true, 10_000);
  const replies = await gatherSum();
  expect(replies.map((r) => [r.peer, r.data])).toEqual([
    [1, 3],
    [2, 3],
    [3, undefined],
  ]);
  expect(replies[2]!.error).toBeInstanceOf(PeerUnavailableError);
  expect(replies[2]!.error).toMatchObject({ peer: 3, retiring: true });
});

test('a gather with waitForRestart gets the answer of the restarting peer once it is back', async () => {
  await worker(dir.path, 2);
  const w3 = await worker(dir.path, 3);
  await peersAre([1, 2, 3]);
  await w3.kill();
  await peersAre([1, 2]);
  const waiting = await client({ waitForRestart: true, timeout: 20_000 });
  const gathered = lastValueFrom(waiting.to('others').send('sum', [2, 2]).pipe(toArray()));
  await worker(dir.path, 3);
  expect(byPeer(await gathered)).toEqual([
    { peer: 2, data: 4 },
    { peer: 3, data: 4 },
  ]);
});

test('closing a client fails its requests that wait for a restart, at once', async () => {
  const w2 = await worker(dir.path, 2);
  await peersAre([1, 2]);
  await w2.kill();
  await peersAre([1]);
  const waiting = await client({ waitForRestart: true });
  const outcome = lastValueFrom(waiting.to(2).send('echo', 'x')).catch((e: unknown) => e);
  // Once the hub has refused it, the request waits for peer 2 (no timeout, graceMs 3 s).
  const shared = (waiting as unknown as { shared: { requests: unknown } }).shared;
  const waits = () => (shared.requests as { waiting: Map<unknown, unknown> }).waiting.size;
  await until(() => waits() === 1, 5000);
  await waiting.close();
  expect(waits()).toBe(0);
  const error = await outcome;
  expect(error).toBeInstanceOf(ChannelClosedError);
  expect((error as Error).message).toBe(
    'Cannot receive the answer: this IpcClient was closed while the request was in flight.',
  );
});

describe('as a PM2 worker (the variables PM2 gives its workers, set in this process)', () => {
  const pm2Env = { pm_id: '0', NODE_APP_INSTANCE: '0', instances: '3' };
  let saved: Record<string, string | undefined>;
  beforeAll(() => {
    saved = Object.fromEntries(Object.keys(pm2Env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, pm2Env);
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  test('an instance that has not joined yet is expected: a gather names it, a request may wait for it', async () => {
    await worker(dir.path, 2);
    await peersAre([1, 2]);
    const pm2App = await client({}); // made after the variables were set, like a PM2 worker's
    const replies = byPeer(
      await lastValueFrom(pm2App.to('all').send('sum', [1, 2]).pipe(toArray())),
    );
    expect(replies.map((r) => [r.peer, r.data])).toEqual([
      [1, 3],
      [2, 3],
      [3, undefined],
    ]);
    expect(replies[2]!.error).toBeInstanceOf(PeerUnavailableError);
    expect((replies[2]!.error as PeerUnavailableError).message).toBe(
      "Peer 3 has not joined yet: it is one of the 3 instances of this PM2 app, starting or restarting, so 'sum' did not run. Retry shortly, or set the client's 'waitForRestart' option to have requests wait for it.",
    );
    // An id beyond the instances is nobody's.
    const nobody = await lastValueFrom(pm2App.to(4).send('sum', [1, 2])).catch((e: unknown) => e);
    expect(nobody).toMatchObject({ peer: 4, restarting: false });

    const waiting = await client({ waitForRestart: true, timeout: 20_000 });
    const answer = lastValueFrom(waiting.to(3).send('sum', [4, 5]));
    await worker(dir.path, 3);
    expect(await answer).toBe(9);
  });
});
