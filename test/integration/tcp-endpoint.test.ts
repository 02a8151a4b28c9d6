/**
 * What only the loopback TCP endpoint has, with hubs and members in other processes: a hub that
 * bounds the connections still proving the token, the stale endpoint file of a killed hub, and
 * processes that disagree on the transport. The in-process cases are in
 * test/channel/tcp-endpoint.test.ts.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { TransportMismatchError } from '../../src/index.js';
import { resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { MAX_PROVING } from '../../src/channel/endpoint/tcp-endpoint.js';
import { readTcpEndpoint, tcpEndpointPath } from '../helpers/endpoint.js';
import type { PeerState } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';
import { rejection } from '../helpers/thrown.js';

const box = sandbox({ name: 'tcp', transport: 'tcp' });
const endpointPath = () => tcpEndpointPath(box.dir);
const readRecord = () => readTcpEndpoint(box.dir);

test('connections that never prove the token cannot pile up in the hub: past 64 the oldest goes; a peer still joins', async () => {
  const hub = await Proc.start('peer.js', box.peerEnv());
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
    await until(() => silent.filter((c) => c.closed).length === 200 - MAX_PROVING);
    expect(silent.map((c) => c.closed)).toEqual(
      Array.from({ length: 200 }, (_, i) => i < 200 - MAX_PROVING),
    );
    expect(openFds() - before).toBeLessThanOrEqual(MAX_PROVING);

    // A real peer proves the token at once: it gets in (pushing out one more silent one).
    const peer = box.channel();
    await peer.connect();
    expect(peer.id).toBe(2);
    expect(peer.peers).toEqual([1, 2]);
    expect(silent.filter((c) => !c.closed)).toHaveLength(MAX_PROVING - 1);
  } finally {
    for (const c of silent) c.socket.destroy();
  }
});

test('the stale endpoint file of a kill -9-ed hub is replaced by the next process', async () => {
  const a = await Proc.start('peer.js', box.peerEnv());
  const sa = await a.call<PeerState>('connect');
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

  const b = await Proc.start('peer.js', box.peerEnv());
  const sb = await b.call<PeerState>('connect');
  expect(sb.isHub).toBe(true);
  expect(lstatSync(path).ino).not.toBe(inoBefore);
  expect(readRecord().pid).toBe(sb.pid);
  expect(readRecord().token).not.toBe(stale.token);
  // The dead hub's private file was cleaned up too; only b's remains.
  expect(readdirSync(box.dir).filter((f) => f.endsWith('.hub'))).toEqual([
    path.slice(box.dir.length + 1).replace(/\.tcp$/, `.${sb.pid}.hub`),
  ]);
});

describe('a process with another transport setting cannot split the channel', () => {
  for (const [hubKind, joinerKind] of [
    ['unix', 'tcp'],
    ['tcp', 'unix'],
  ] as const) {
    test(`a ${joinerKind} newcomer to a channel hosted on ${hubKind} fails connect() with TransportMismatchError and leaves nothing`, async () => {
      const hub = await Proc.start('peer.js', box.peerEnv({ transport: hubKind }));
      const member = await Proc.start('peer.js', box.peerEnv({ transport: hubKind }));
      const sh = await hub.call<PeerState>('connect');
      await member.call<PeerState>('connect');
      expect(sh.isHub).toBe(true);
      const before = readdirSync(box.dir).sort();
      const ours = resolveEndpoint('tcp', { dir: box.dir, transport: joinerKind });
      const theirs = resolveEndpoint('tcp', { dir: box.dir, transport: hubKind });

      const newcomer = box.channel({ transport: joinerKind, connectTimeoutMs: 10_000 });
      const err = await rejection(newcomer.connect());
      expect(err).toBeInstanceOf(TransportMismatchError);
      expect((err as TransportMismatchError).code).toBe('ERR_IPC_TRANSPORT_MISMATCH');
      expect((err as Error).message).toBe(
        `Channel 'tcp' already has a live hub on a ${hubKind} endpoint (${theirs.path}), but this process uses ${joinerKind} (${ours.path}): it would start a second channel that the others never hear from. Give every process of the channel the same 'transport' option (or the same NESTJS_IPC_TRANSPORT).`,
      );
      expect(newcomer.id).toBeUndefined();
      // Its short-lived hub is withdrawn: the directory holds what it held before.
      expect(readdirSync(box.dir).sort()).toEqual(before);
      // The channel that was there is undisturbed, and a newcomer that agrees joins it.
      const friend = box.channel({ transport: hubKind });
      await friend.connect();
      expect(friend.peers).toEqual([1, 2, 3]);
      expect((await hub.call<PeerState>('state')).peers).toEqual([1, 2, 3]);
    });
  }
});
