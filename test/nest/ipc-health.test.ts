import type { INestApplication } from '@nestjs/common';
import type { Channel } from '../../src/index.js';
import type { IpcClient } from '../../src/index.js';
import { type Proc, killAll, tempDir, until } from '../helpers/processes.js';
import { get, startApp, worker } from './http-app.js';

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
