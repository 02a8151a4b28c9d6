import type { INestApplication } from '@nestjs/common';
import { type Proc, RemoteError, killAll, tempDir, until } from '../helpers/processes.js';
import type { Channel, IpcClient } from '../../src/index.js';
import { get, startApp, worker } from './http-app.js';

let dir: ReturnType<typeof tempDir>;
let app: INestApplication;
let w2: Proc;

beforeEach(async () => {
  dir = tempDir();
  app = await startApp(dir.path, { timeout: 1500 });
  w2 = await worker(dir.path, 2);
  const channel = app.get<IpcClient>('IPC').unwrap<Channel>();
  await until(() => channel.peers.length === 2, 10_000);
});
afterEach(async () => {
  await app.close();
  await killAll();
  dir.remove();
});

test('an answer goes through untouched', async () => {
  expect(await get(app, '/call?to=2&pattern=sum&data=[2,3]')).toEqual({
    status: 200,
    retryAfter: null,
    body: 5,
  });
});

test('a restarting peer → 503 with Retry-After, and a message that says it is restarting', async () => {
  await w2.kill();
  const channel = app.get<IpcClient>('IPC').unwrap<Channel>();
  await until(() => channel.peers.length === 1, 10_000);
  const reply = await get(app, '/call?to=2&pattern=sum');
  expect(reply.status).toBe(503);
  expect(reply.retryAfter).toBe('2');
  expect(reply.body).toEqual({
    statusCode: 503,
    error: 'Service Unavailable',
    code: 'ERR_IPC_PEER_UNAVAILABLE',
    message: expect.stringMatching(
      /^Peer 2 is restarting: the process holding id 2 left \d+ ms ago and no process has taken the id back yet, so 'sum' did not run\. Retry shortly, or set the client's 'waitForRestart' option to have requests wait for it\.$/,
    ),
  });
});

test('an id nobody held → 503 whose message blames the id, not a restart', async () => {
  expect(await get(app, '/call?to=40&pattern=sum')).toEqual({
    status: 503,
    retryAfter: '2',
    body: {
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'ERR_IPC_PEER_UNAVAILABLE',
      message:
        "No process holds id 40, and none left it within graceMs, so 'sum' was not sent. Check the id against client.peers.",
    },
  });
});

test('a peer that dies while handling the request → 503 PeerLeftError', async () => {
  expect(await get(app, '/call?to=2&pattern=die')).toEqual({
    status: 503,
    retryAfter: '2',
    body: {
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'ERR_IPC_PEER_LEFT',
      message:
        "Peer 2 left before answering 'die'. The request may or may not have run there; retry if it is safe to.",
    },
  });
});

test('a request timeout → 504', async () => {
  const reply = await get(app, '/call?to=2&pattern=slow&data=5000');
  expect(reply).toEqual({
    status: 504,
    retryAfter: null,
    body: {
      statusCode: 504,
      error: 'Gateway Timeout',
      code: 'ERR_IPC_REQUEST_TIMEOUT',
      message:
        "Peer 2 read 'slow' but no answer came within 1500 ms: its handler is slow, or its event loop (or that of the hub's process, peer 1) is blocked. Raise the client's 'timeout' option if the handler is slow.",
    },
  });
});

test('an invalid target or message → 400', async () => {
  expect(await get(app, '/call?to=everyone&pattern=sum')).toEqual({
    status: 400,
    retryAfter: null,
    body: {
      statusCode: 400,
      error: 'Bad Request',
      code: 'ERR_IPC_INVALID_TARGET',
      message: `Invalid target "everyone": use a peer id (an integer from 1 to 65532), '<host>/<id>' for a peer on another host, 'all', 'others' or 'host'.`,
    },
  });
  expect(await get(app, '/call?to=2&pattern=sum&data=null')).toEqual({
    status: 400,
    retryAfter: null,
    body: {
      statusCode: 400,
      error: 'Bad Request',
      code: 'ERR_IPC_INVALID_MESSAGE',
      message: 'The invalid data or message pattern (undefined/null)',
    },
  });
});

test('no peer handles the pattern → 501', async () => {
  expect(await get(app, '/any?pattern=nobody.handles')).toEqual({
    status: 501,
    retryAfter: null,
    body: {
      statusCode: 501,
      error: 'Not Implemented',
      code: 'ERR_IPC_NO_HANDLER_PEER',
      message:
        "No peer of channel 'http' handles 'nobody.handles'. Start a process whose IpcServer has @MessagePattern(\"nobody.handles\"), or check the pattern.",
    },
  });
});

test('other errors are left to Nest', async () => {
  // A handler's RpcException reaches the HTTP caller as Nest makes it: a 500.
  expect(await get(app, '/call?to=2&pattern=rpc-error-string')).toEqual({
    status: 500,
    retryAfter: null,
    body: { statusCode: 500, message: 'Internal server error' },
  });
});

test("in the app's microservice (inheritAppConfig), a caught error is answered as Nest would without the filter", async () => {
  // Peer 1's 'relay' handler asks peer 40, nobody: its PeerUnavailableError goes through the
  // app's global filters, in an RPC context.
  const error = await w2.call('send', { target: 1, pattern: 'relay', data: 40 }).catch((e) => e);
  expect(error).toBeInstanceOf(RemoteError);
  expect((error as RemoteError).payload).toEqual({
    status: 'error',
    message: 'Internal server error',
  });
});
