import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { Channel } from '../../src/index.js';
import type { IpcClient } from '../../src/index.js';
import { type Proc, killAll, tempDir, until } from '../helpers/processes.js';
import { type HttpReply, get, startApp, worker } from './http-app.js';

let dir: ReturnType<typeof tempDir>;
let app: INestApplication | undefined;

beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await killAll();
  dir.remove();
});

function channelOf(a: INestApplication): Channel {
  return a.get<IpcClient>('IPC').unwrap<Channel>();
}

async function joined(a: INestApplication, peers: number[]): Promise<void> {
  await until(() => JSON.stringify(channelOf(a).peers) === JSON.stringify(peers), 10_000);
}

test('Terminus /health reports the channel up: peer id, role, peers, leader, epoch, queued bytes, unconfirmed', async () => {
  app = await startApp(dir.path);
  const w2: Proc = await worker(dir.path, 2);
  await joined(app, [1, 2]);
  const ipc = {
    status: 'up',
    channel: 'http',
    peer: 1,
    role: 'hub',
    peers: [1, 2],
    leader: 1,
    epoch: channelOf(app).epoch,
    queuedBytes: 0,
    unconfirmed: 0,
  };
  const health = await get(app, '/health');
  expect(health).toEqual({
    status: 200,
    retryAfter: null,
    body: { status: 'ok', info: { ipc }, error: {}, details: { ipc } },
  });
  expect(ipc.epoch).toBeGreaterThan(0);
  await w2.kill();
});

test('down while sent bytes wait unconfirmed over the bound, up again once they are delivered', async () => {
  app = await startApp(dir.path);
  // Peer 9 is absent: the hub holds what is sent to it, and the sender keeps it unconfirmed.
  const held = await get(app, '/hold?to=9&bytes=4000');
  const pendingBytes = (held.body as { pendingBytes: number }).pendingBytes;
  expect(pendingBytes).toBeGreaterThan(4000);
  const ipc = {
    status: 'down',
    channel: 'http',
    peer: 1,
    role: 'hub',
    peers: [1],
    leader: 1,
    epoch: channelOf(app).epoch,
    queuedBytes: pendingBytes,
    unconfirmed: 1,
    message: `${pendingBytes} bytes sent are not yet confirmed (over 1000): receivers do not keep up, or messages wait for a peer id nobody holds.`,
  };
  expect(await get(app, '/health?maxQueuedBytes=1000')).toEqual({
    status: 503,
    retryAfter: null,
    body: { status: 'error', info: {}, error: { ipc }, details: { ipc } },
  });
  // Under the default bound (the channel's highWaterMark, 8 MiB) the same state is up.
  expect((await get(app, '/health')).status).toBe(200);

  const w9 = await worker(dir.path, 9);
  await until(() => channelOf(app!).pendingBytes === 0, 10_000);
  const up = await get(app, '/health?maxQueuedBytes=1000');
  expect(up.status).toBe(200);
  expect(up.body).toMatchObject({
    status: 'ok',
    info: { ipc: { status: 'up', peers: [1, 9], queuedBytes: 0, unconfirmed: 0 } },
  });
  await w9.kill();
});

test('down for a channel this process has not joined, with what to do', async () => {
  app = await startApp(dir.path);
  const ipc = {
    status: 'down',
    channel: 'elsewhere',
    message:
      "This process has not joined channel 'elsewhere': start its IpcServer (app.startAllMicroservices()) or use its IpcClient first.",
  };
  expect(await get(app, '/health?channel=elsewhere')).toEqual({
    status: 503,
    retryAfter: null,
    body: { status: 'error', info: {}, error: { ipc }, details: { ipc } },
  });
});

test('down once the channel has had no hub for longer than maxElectionMs, up when one is elected again', async () => {
  const w1 = await worker(dir.path, 1);
  app = await startApp(dir.path, {}, 2);
  await joined(app, [1, 2]);
  const channel = channelOf(app);
  expect((await get(app, '/health?maxElectionMs=300')).body).toMatchObject({
    status: 'ok',
    info: { ipc: { status: 'up', peer: 2, role: 'peer', peers: [1, 2], leader: 1 } },
  });
  // A file where the socket directory was: no process can host the next hub.
  const socketDir = dirname(channel.endpoint);
  renameSync(socketDir, `${socketDir}.away`);
  writeFileSync(socketDir, '');
  await w1.kill();
  await until(() => !channel.connected, 10_000);
  const down = (await until(async () => {
    const reply = await get(app!, '/health?maxElectionMs=300');
    return reply.status === 503 ? reply : undefined;
  }, 10_000)) as HttpReply;
  const ipc = {
    status: 'down',
    channel: 'http',
    peer: 2,
    role: 'peer',
    peers: [2],
    leader: null,
    epoch: channel.epoch,
    queuedBytes: 0,
    unconfirmed: 0,
    electingMs: expect.any(Number),
    message: expect.stringMatching(
      /^No hub for \d+ ms \(over maxElectionMs, 300 ms\): the processes cannot elect one\. Check that the socket directory is writable and that no process of the channel is stopped or blocked\.$/,
    ),
  };
  expect(down.body).toEqual({ status: 'error', info: {}, error: { ipc }, details: { ipc } });
  expect(
    (down.body as { error: { ipc: { electingMs: number } } }).error.ipc.electingMs,
  ).toBeGreaterThan(300);

  rmSync(socketDir);
  renameSync(`${socketDir}.away`, socketDir);
  const up = (await until(async () => {
    const reply = await get(app!, '/health?maxElectionMs=300');
    return reply.status === 200 ? reply : undefined;
  }, 20_000)) as HttpReply;
  expect(up.body).toMatchObject({
    status: 'ok',
    info: { ipc: { status: 'up', peer: 2, role: 'hub', peers: [2], leader: 2 } },
  });
});
