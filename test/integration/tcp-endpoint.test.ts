/**
 * What only the loopback TCP endpoint has: the endpoint file, the token proof, the stale file of
 * a dead hub, and the loopback-only listen. Runs in every suite (it forces `transport: 'tcp'`);
 * the rest of the integration suite runs on tcp too under `npm run test:tcp`.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Socket, createConnection, createServer } from 'node:net';
import { AuthenticationError, Channel, TransportMismatchError } from '../../src/index.js';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { MAX_PROVING } from '../../src/channel/endpoint/tcp-endpoint.js';
import { PEER_PROOF_BYTES } from '../../src/channel/endpoint/token-gate.js';
import { Proc, killAll, channelSandbox, until } from '../helpers/processes.js';

interface State {
  pid: number;
  id: number;
  isHub: boolean;
  peers: number[];
}
interface EndpointFile {
  v: number;
  host: string;
  port: number;
  token: string;
  pid: number;
}

const sandbox = channelSandbox(killAll);

function channel(options: ConstructorParameters<typeof Channel>[0] = {}): Channel {
  const ch = new Channel({ name: 'tcp', dir: sandbox.dir.path, transport: 'tcp', ...options });
  sandbox.open.push(ch);
  return ch;
}

function peerEnv(extra: Record<string, unknown> = {}) {
  return {
    PEER_OPTIONS: JSON.stringify({
      name: 'tcp',
      dir: sandbox.dir.path,
      transport: 'tcp',
      ...extra,
    }),
  };
}

const endpointPath = () =>
  `${sandbox.dir.path}/${readdirSync(sandbox.dir.path).find((f) => f.endsWith('.tcp'))!}`;
const readRecord = () => JSON.parse(readFileSync(endpointPath(), 'utf8')) as EndpointFile;

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
  const hub = channel();
  await hub.connect();
  expect(hub.transport).toBe('tcp');
  expect(hub.endpoint).toBe(endpointPath());
  const st = lstatSync(endpointPath());
  expect(st.isFile()).toBe(true);
  expect(st.mode & 0o777).toBe(0o600);
  expect(lstatSync(sandbox.dir.path).mode & 0o777).toBe(0o700);
  const record = readRecord();
  expect(record).toEqual({
    v: 1,
    host: '127.0.0.1',
    port: expect.any(Number),
    token: expect.stringMatching(/^[0-9a-f]{64}$/),
    pid: process.pid,
  });
  // Only the loopback address listens on that port (0100007F is 127.0.0.1 in /proc/net/tcp).
  if (process.platform === 'linux') expect(listenersOn(record.port)).toEqual(['0100007F']);

  const peer = channel();
  await peer.connect();
  expect(peer.peers).toEqual([1, 2]);
  await Promise.all(sandbox.open.splice(0).map((c) => c.close()));
  // A graceful close leaves nothing: not the endpoint file, the hub's private file, the lock.
  expect(readdirSync(sandbox.dir.path)).toEqual([]);
});

test('a hosted tcp endpoint reports a 127.0.0.1 address, never 0.0.0.0', async () => {
  const hosted = await resolveEndpoint('addr', { dir: sandbox.dir.path, transport: 'tcp' }).host(
    false,
  );
  try {
    const address = (hosted!.server as unknown as { address(): AddressInfo }).address();
    expect(address.address).toBe('127.0.0.1');
    expect(address.family).toBe('IPv4');
  } finally {
    hosted!.publication.unpublish();
    hosted!.server.close();
    hosted!.publication.dispose();
  }
  expect(readdirSync(sandbox.dir.path)).toEqual([]);
});

test('a client that knows the port but not the token gets one refusal byte and not a single frame; the channel is undisturbed', async () => {
  const hub = channel();
  await hub.connect();
  const peer = channel();
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
  await until(() => got.length === 1, 5000);
  expect(got).toEqual(['still here']);
  expect(hub.peers).toEqual([1, 2]);
  expect(errors).toEqual([]);
});

test('connections that never prove the token cannot pile up in the hub: past 64 the oldest goes; a peer still joins', async () => {
  const hub = await Proc.start('peer.js', peerEnv());
  await hub.call('connect');
  const { port, pid } = readRecord();
  const openFds = () => readdirSync(`/proc/${pid}/fd`).length;
  const before = openFds();

  // Connections that say nothing, opened one after another (so their order is the hub's).
  const silent: { socket: Socket; closed: boolean }[] = [];
  for (let i = 0; i < 200; i++) {
    const socket = createConnection({ host: '127.0.0.1', port });
    const entry = { socket, closed: false };
    socket.on('error', () => {});
    socket.on('close', () => (entry.closed = true));
    await new Promise((resolve) => socket.once('connect', resolve));
    silent.push(entry);
  }
  try {
    await until(() => silent.filter((c) => c.closed).length === 200 - MAX_PROVING, 5000);
    expect(silent.map((c) => c.closed)).toEqual(
      Array.from({ length: 200 }, (_, i) => i < 200 - MAX_PROVING),
    );
    expect(openFds() - before).toBeLessThanOrEqual(MAX_PROVING);

    // A real peer proves the token at once: it gets in (pushing out one more silent one).
    const peer = channel();
    await peer.connect();
    expect(peer.id).toBe(2);
    expect(peer.peers).toEqual([1, 2]);
    expect(silent.filter((c) => !c.closed)).toHaveLength(MAX_PROVING - 1);
  } finally {
    for (const c of silent) c.socket.destroy();
  }
});

test('a Channel with the wrong token fails connect() with AuthenticationError and never joins', async () => {
  const hub = channel();
  await hub.connect();
  const path = endpointPath();
  const original = readFileSync(path, 'utf8');
  const record = JSON.parse(original) as EndpointFile;
  // Rewritten in place (same inode, so the hub keeps it as its own), with another token.
  writeFileSync(path, JSON.stringify({ ...record, token: randomBytes(32).toString('hex') }));

  const joins: number[] = [];
  hub.on('join', (id: number) => joins.push(id));
  const intruder = channel({ connectTimeoutMs: 10_000 });
  const messages: unknown[] = [];
  intruder.on('message', (_s: number, m: unknown) => messages.push(m));
  const err = await intruder.connect().catch((e: unknown) => e);
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
  const friend = channel();
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
    const path = resolveEndpoint('tcp', { dir: sandbox.dir.path, transport: 'tcp' }).path;
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
    const err = await channel({ connectTimeoutMs: 10_000 })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toContain('another program holds that port');
  } finally {
    await new Promise((r) => impostor.close(r));
  }
});

test('the stale endpoint file of a kill -9-ed hub is replaced by the next process', async () => {
  const a = await Proc.start('peer.js', peerEnv());
  const sa = await a.call<State>('connect');
  expect(sa.isHub).toBe(true);
  const path = endpointPath();
  const inoBefore = lstatSync(path).ino;
  const stale = readRecord();
  expect(stale.pid).toBe(sa.pid);
  await a.kill('SIGKILL');

  // The file is still there, and nobody answers on its port.
  expect(readRecord()).toEqual(stale);
  const refused = await new Promise<string>((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port: stale.port });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code!));
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
  });
  expect(refused).toBe('ECONNREFUSED');

  const b = await Proc.start('peer.js', peerEnv());
  const sb = await b.call<State>('connect');
  expect(sb.isHub).toBe(true);
  expect(lstatSync(path).ino).not.toBe(inoBefore);
  expect(readRecord().pid).toBe(sb.pid);
  expect(readRecord().token).not.toBe(stale.token);
  // The dead hub's private file was cleaned up too; only b's remains.
  expect(readdirSync(sandbox.dir.path).filter((f) => f.endsWith('.hub'))).toEqual([
    path.slice(sandbox.dir.path.length + 1).replace(/\.tcp$/, `.${sb.pid}.hub`),
  ]);
});

test('an endpoint file naming a live pid whose port refuses is stale too', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const path = resolveEndpoint('tcp', { dir: sandbox.dir.path, transport: 'tcp' }).path;
  const token = randomBytes(32).toString('hex');
  writeFileSync(path, JSON.stringify({ v: 1, host: '127.0.0.1', port, token, pid: process.pid }), {
    mode: 0o600,
  });
  const hub = channel();
  await hub.connect();
  expect(hub.isHub).toBe(true);
  expect(readRecord().port).not.toBe(port);
});

test('the hub puts a removed endpoint file back, and steps down when another hub replaced it', async () => {
  const hub = channel();
  await hub.connect();
  const path = endpointPath();
  const record = readRecord();
  const { unlinkSync, renameSync } = await import('node:fs');
  unlinkSync(path);
  await until(
    () => readdirSync(sandbox.dir.path).some((f) => f.endsWith('.tcp')),
    5000,
    're-publication',
  );
  expect(readRecord()).toEqual(record);

  // A replacement with another inode means another hub won a race: this one steps down, finds
  // the replacement names no live server, and takes over again under the lock.
  const steppedDown = new Promise<void>((resolve) => hub.once('disconnect', () => resolve()));
  writeFileSync(`${path}.new`, readFileSync(path));
  renameSync(`${path}.new`, path);
  await steppedDown;
  await until(() => hub.connected && hub.isHub, 5000, 'hosting again');
  expect(readRecord().port).not.toBe(record.port);
});

describe('a process with another transport setting cannot split the channel', () => {
  for (const [hubKind, joinerKind] of [
    ['unix', 'tcp'],
    ['tcp', 'unix'],
  ] as const) {
    test(`a ${joinerKind} newcomer to a channel hosted on ${hubKind} fails connect() with TransportMismatchError and leaves nothing`, async () => {
      const hub = await Proc.start('peer.js', peerEnv({ transport: hubKind }));
      const member = await Proc.start('peer.js', peerEnv({ transport: hubKind }));
      const sh = await hub.call<State>('connect');
      await member.call<State>('connect');
      expect(sh.isHub).toBe(true);
      const before = readdirSync(sandbox.dir.path).sort();
      const ours = resolveEndpoint('tcp', { dir: sandbox.dir.path, transport: joinerKind });
      const theirs = resolveEndpoint('tcp', { dir: sandbox.dir.path, transport: hubKind });

      const newcomer = channel({ transport: joinerKind, connectTimeoutMs: 10_000 });
      const err = await newcomer.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportMismatchError);
      expect((err as TransportMismatchError).code).toBe('ERR_IPC_TRANSPORT_MISMATCH');
      expect((err as Error).message).toBe(
        `Channel 'tcp' already has a live hub on a ${hubKind} endpoint (${theirs.path}), but this process uses ${joinerKind} (${ours.path}): it would start a second channel that the others never hear from. Give every process of the channel the same 'transport' option (or the same NESTJS_IPC_TRANSPORT).`,
      );
      expect(newcomer.id).toBeUndefined();
      // Its short-lived hub is withdrawn: the directory holds what it held before.
      expect(readdirSync(sandbox.dir.path).sort()).toEqual(before);
      // The channel that was there is undisturbed, and a newcomer that agrees joins it.
      const friend = channel({ transport: hubKind });
      await friend.connect();
      expect(friend.peers).toEqual([1, 2, 3]);
      expect((await hub.call<State>('state')).peers).toEqual([1, 2, 3]);
    });
  }
});
