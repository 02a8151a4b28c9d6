/**
 * What only the loopback TCP endpoint has, for channels in this process: the endpoint file, the
 * token proof, stale files, and the loopback-only listen. Runs in every suite (it forces
 * `transport: 'tcp'`); test/integration/tcp-endpoint.test.ts has the cases that need other
 * processes.
 */
import { randomBytes } from 'node:crypto';
import {
  lstatSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, type Socket, createConnection, createServer } from 'node:net';
import { AuthenticationError } from '../../src/index.js';
import { pidNamespace } from '../../src/channel/util/liveness.js';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { PEER_PROOF_BYTES } from '../../src/channel/endpoint/token-gate.js';
import { type TcpEndpointRecord, readTcpEndpoint, tcpEndpointPath } from '../helpers/endpoint.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';
import { rejection } from '../helpers/thrown.js';

const box = sandbox({ name: 'tcp', transport: 'tcp' });
const endpointPath = () => tcpEndpointPath(box.dir);
const readRecord = () => readTcpEndpoint(box.dir);

/** Everything a raw TCP client receives until the hub closes it. */
function rawExchange(port: number, send: (socket: Socket) => void): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.on('connect', () => send(socket));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Local addresses (hex, as in /proc/net/tcp) listening on `port`. */
function listenersOn(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [addr, p] = local!.split(':');
      if (p === hexPort && state === '0A') found.push(addr!);
    }
  }
  return found;
}

test('the hub publishes port, pid and token in a 0600 endpoint file and listens on 127.0.0.1 only', async () => {
  const hub = box.channel();
  await hub.connect();
  expect(hub.transport).toBe('tcp');
  expect(hub.endpoint).toBe(endpointPath());
  const st = lstatSync(endpointPath());
  expect(st.isFile()).toBe(true);
  expect(st.mode & 0o777).toBe(0o600);
  expect(lstatSync(box.dir).mode & 0o777).toBe(0o700);
  const record = readRecord();
  expect(record).toEqual({
    v: 1,
    host: '127.0.0.1',
    port: expect.any(Number),
    token: expect.stringMatching(/^[0-9a-f]{64}$/),
    pid: process.pid,
    pidNs: pidNamespace() || undefined,
  });
  // Only the loopback address listens on that port (0100007F is 127.0.0.1 in /proc/net/tcp).
  if (process.platform === 'linux') expect(listenersOn(record.port)).toEqual(['0100007F']);

  const peer = box.channel();
  await peer.connect();
  expect(peer.peers).toEqual([1, 2]);
  await peer.close();
  await hub.close();
  // A graceful close leaves nothing: not the endpoint file, the hub's private file, the lock.
  expect(readdirSync(box.dir)).toEqual([]);
});

test('a hosted tcp endpoint reports a 127.0.0.1 address, never 0.0.0.0', async () => {
  const hosted = await resolveEndpoint('addr', { dir: box.dir, transport: 'tcp' }).host(false);
  try {
    const address = (hosted!.server as unknown as { address(): AddressInfo }).address();
    expect(address.address).toBe('127.0.0.1');
    expect(address.family).toBe('IPv4');
  } finally {
    hosted!.publication.unpublish();
    hosted!.server.close();
    hosted!.publication.dispose();
  }
  expect(readdirSync(box.dir)).toEqual([]);
});

test('a client that knows the port but not the token gets one refusal byte and not a single frame; the channel is undisturbed', async () => {
  const hub = box.channel();
  await hub.connect();
  const peer = box.channel();
  await peer.connect();
  const { port } = readRecord();
  const errors: Error[] = [];
  hub.on('error', (e: Error) => errors.push(e));

  // A well-formed proof with a guessed token.
  const guessed = await rawExchange(port, (s) =>
    s.write(Buffer.concat([Buffer.from('NIPCTCP1'), randomBytes(PEER_PROOF_BYTES - 8)])),
  );
  expect([...guessed]).toEqual([0]);
  // An HTTP request, and garbage: the same refusal.
  const http = await rawExchange(port, (s) =>
    s.write(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${'x'.repeat(64)}`),
  );
  expect([...http]).toEqual([0]);
  // Clients that vanish mid-proof: nothing to answer.
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      rawExchange(port, (s) => {
        s.write(randomBytes(i % PEER_PROOF_BYTES));
        s.destroy();
      }),
    ),
  );

  // Still one channel of two that talks.
  const got: unknown[] = [];
  peer.on('message', (_sender: number, m: unknown) => got.push(m));
  hub.to(2).send('still here');
  await until(() => got.length === 1);
  expect(got).toEqual(['still here']);
  expect(hub.peers).toEqual([1, 2]);
  expect(errors).toEqual([]);
});

test('a Channel with the wrong token fails connect() with AuthenticationError and never joins', async () => {
  const hub = box.channel();
  await hub.connect();
  const path = endpointPath();
  const original = readFileSync(path, 'utf8');
  const record = JSON.parse(original) as TcpEndpointRecord;
  // Rewritten in place (same inode, so the hub keeps it as its own), with another token.
  writeFileSync(path, JSON.stringify({ ...record, token: randomBytes(32).toString('hex') }));

  const joins: number[] = [];
  hub.on('join', (id: number) => joins.push(id));
  const intruder = box.channel({ connectTimeoutMs: 10_000 });
  const messages: unknown[] = [];
  intruder.on('message', (_s: number, m: unknown) => messages.push(m));
  const err = await rejection(intruder.connect());
  expect(err).toBeInstanceOf(AuthenticationError);
  expect((err as AuthenticationError).code).toBe('ERR_IPC_AUTH_FAILED');
  expect((err as Error).message).toContain(`refused the token in ${path}`);
  hub.to('all').send('for members only');
  expect(intruder.id).toBeUndefined();
  expect(messages).toEqual([]);
  expect(joins).toEqual([]);
  expect(hub.peers).toEqual([1]);

  // With the right token back, a newcomer joins as usual.
  writeFileSync(path, original);
  const friend = box.channel();
  await friend.connect();
  expect(friend.peers).toEqual([1, 2]);
});

test('a program on the published port that cannot prove the token is not taken for the hub', async () => {
  // A live pid (this process) and a port held by something that answers "accepted" blindly.
  const impostor = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.write(Buffer.concat([Buffer.from([1]), randomBytes(32)])));
  });
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
  try {
    const port = (impostor.address() as AddressInfo).port;
    const path = resolveEndpoint('tcp', { dir: box.dir, transport: 'tcp' }).path;
    writeFileSync(
      path,
      JSON.stringify({
        v: 1,
        host: '127.0.0.1',
        port,
        token: randomBytes(32).toString('hex'),
        pid: process.pid,
      }),
      { mode: 0o600 },
    );
    const err = await rejection(box.channel({ connectTimeoutMs: 10_000 }).connect());
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('another program holds that port');
  } finally {
    await new Promise((r) => impostor.close(r));
  }
});

test('an endpoint file naming a live pid whose port refuses is stale too', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const path = resolveEndpoint('tcp', { dir: box.dir, transport: 'tcp' }).path;
  const token = randomBytes(32).toString('hex');
  writeFileSync(path, JSON.stringify({ v: 1, host: '127.0.0.1', port, token, pid: process.pid }), {
    mode: 0o600,
  });
  const hub = box.channel();
  await hub.connect();
  expect(hub.isHub).toBe(true);
  expect(readRecord().port).not.toBe(port);
});

test('the hub puts a removed endpoint file back, and steps down when another hub replaced it', async () => {
  const hub = box.channel();
  await hub.connect();
  const path = endpointPath();
  const record = readRecord();
  unlinkSync(path);
  await until(
    () => readdirSync(box.dir).some((f) => f.endsWith('.tcp')),
    undefined,
    're-publication',
  );
  expect(readRecord()).toEqual(record);

  // A replacement with another inode means another hub won a race: this one steps down, finds
  // the replacement names no live server, and takes over again under the lock.
  const steppedDown = new Promise<void>((resolve) => hub.once('disconnect', () => resolve()));
  writeFileSync(`${path}.new`, readFileSync(path));
  renameSync(`${path}.new`, path);
  await steppedDown;
  await until(() => hub.connected && hub.isHub, undefined, 'hosting again');
  expect(readRecord().port).not.toBe(record.port);
});
