/**
 * The token proof a tcp peer gives before any frame, over a real loopback connection in this
 * process: exactly the bytes each side sends, every outcome, and that the bytes after the proof
 * are left for the protocol.
 */
import { jest } from '@jest/globals';
import { createHmac, randomBytes } from 'node:crypto';
import {
  type AddressInfo,
  type Server,
  type Socket,
  createConnection,
  createServer,
} from 'node:net';
import {
  GATE_TIMEOUT_MS,
  HUB_REPLY_BYTES,
  PEER_PROOF_BYTES,
  admitPeer,
  proveToHub,
} from '../../src/channel/endpoint/token-gate.js';

const MAGIC = Buffer.from('NIPCTCP1', 'latin1');
const hmac = (token: Buffer, role: string, nonce: Buffer) =>
  createHmac('sha256', token).update(`${role}\0`).update(nonce).digest();

let server: Server;
const sockets: Socket[] = [];
const accepted: Socket[] = [];
let acceptedWaiter: (() => void) | undefined;
beforeAll(async () => {
  server = createServer((s) => {
    accepted.push(s);
    acceptedWaiter?.();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterEach(() => {
  jest.useRealTimers();
  for (const s of [...sockets.splice(0), ...accepted.splice(0)]) s.destroy();
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** A connected loopback pair: the peer's end and the hub's. */
async function pair(): Promise<{ peer: Socket; hub: Socket }> {
  const hubSide = new Promise<Socket>((resolve) => {
    acceptedWaiter = () => resolve(accepted.at(-1)!);
  });
  const peer = createConnection({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
  });
  sockets.push(peer);
  await new Promise((r) => peer.once('connect', r));
  return { peer, hub: await hubSide };
}

/** Collects what arrives on `socket` until `n` bytes have, or it closes. */
function collect(socket: Socket, n = Infinity): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (Buffer.concat(chunks).length >= n) done();
    });
    socket.on('close', done);
    socket.on('error', () => {});
  });
}

const closed = (socket: Socket) =>
  socket.destroyed ? Promise.resolve() : new Promise<void>((r) => socket.once('close', () => r()));

test('the peer sends MAGIC, a fresh nonce and its HMAC of the token; the token itself never', async () => {
  const token = randomBytes(32);
  const proofs: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    const { peer, hub } = await pair();
    const proving = proveToHub(peer, token);
    const proof = await collect(hub, PEER_PROOF_BYTES);
    hub.destroy();
    expect(await proving).toBe('no-answer');
    expect(proof).toHaveLength(PEER_PROOF_BYTES);
    const nonce = proof.subarray(MAGIC.length, PEER_PROOF_BYTES - 32);
    expect(Buffer.concat([MAGIC, nonce, hmac(token, 'peer', nonce)])).toEqual(proof);
    expect(proof.includes(token)).toBe(false);
    proofs.push(nonce);
  }
  expect(proofs[0]).not.toEqual(proofs[1]);
});

test('the right token: accepted both ways; the hub answers 1 and its own HMAC of the nonce', async () => {
  const token = randomBytes(32);
  const { peer, hub } = await pair();
  const nonce = randomBytes(16);
  const answer = collect(peer, HUB_REPLY_BYTES);
  peer.write(Buffer.concat([MAGIC, nonce, hmac(token, 'peer', nonce)]));
  expect(await admitPeer(hub, token)).toBe(true);
  expect(await answer).toEqual(Buffer.concat([Buffer.from([1]), hmac(token, 'hub', nonce)]));

  const other = await pair();
  expect(await Promise.all([proveToHub(other.peer, token), admitPeer(other.hub, token)])).toEqual([
    'accepted',
    true,
  ]);
});

test('the bytes behind the proof, either way, are left unread for the protocol', async () => {
  const token = randomBytes(32);
  const { peer, hub } = await pair();
  const proving = proveToHub(peer, token);
  peer.write('first frame from the peer'); // written before the hub has answered
  expect(await admitPeer(hub, token)).toBe(true);
  hub.write('first frame from the hub');
  expect(await proving).toBe('accepted');
  expect((await collect(hub, 25)).toString()).toBe('first frame from the peer');
  expect((await collect(peer, 24)).toString()).toBe('first frame from the hub');
});

test('a wrong token, or anything else of the proof length: one refusal byte, then the hub closes', async () => {
  const token = randomBytes(32);
  for (const proof of [
    (() => {
      const nonce = randomBytes(16);
      return Buffer.concat([MAGIC, nonce, hmac(randomBytes(32), 'peer', nonce)]);
    })(),
    Buffer.concat([Buffer.from('NIPCTCP0'), randomBytes(PEER_PROOF_BYTES - 8)]),
    Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n\r\n`.padEnd(PEER_PROOF_BYTES, 'x')),
  ]) {
    const { peer, hub } = await pair();
    const answer = collect(peer);
    peer.write(proof);
    expect(await admitPeer(hub, token)).toBe(false);
    expect([...(await answer)]).toEqual([0]);
    await closed(hub);
  }

  const { peer, hub } = await pair();
  expect(await Promise.all([proveToHub(peer, randomBytes(32)), admitPeer(hub, token)])).toEqual([
    'refused',
    false,
  ]);
});

test('a program that answers "accepted" without the token is an impostor to the peer', async () => {
  const { peer, hub } = await pair();
  const proving = proveToHub(peer, randomBytes(32));
  await collect(hub, PEER_PROOF_BYTES);
  hub.write(Buffer.concat([Buffer.from([1]), randomBytes(32)]));
  expect(await proving).toBe('impostor');
});

test('a hub that goes before it has answered in full is no answer; a peer that goes mid-proof is not admitted', async () => {
  const token = randomBytes(32);
  for (const partial of [
    Buffer.alloc(0),
    Buffer.from([1]),
    Buffer.concat([Buffer.from([1]), randomBytes(31)]),
  ]) {
    const { peer, hub } = await pair();
    const proving = proveToHub(peer, token);
    await collect(hub, PEER_PROOF_BYTES);
    hub.end(partial);
    expect(await proving).toBe('no-answer');
  }
  for (const sent of [0, 1, PEER_PROOF_BYTES - 1]) {
    const { peer, hub } = await pair();
    const admitting = admitPeer(hub, token);
    peer.end(randomBytes(sent));
    expect(await admitting).toBe(false);
    await closed(hub);
  }
});

test('a side that never answers is given up after GATE_TIMEOUT_MS: the peer sees no answer, the hub drops the connection', async () => {
  const token = randomBytes(32);
  const silentPeer = await pair();
  const silentHub = await pair();
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  const admitting = admitPeer(silentPeer.hub, token);
  const proving = proveToHub(silentHub.peer, token);
  await collect(silentHub.hub, PEER_PROOF_BYTES);
  jest.advanceTimersByTime(GATE_TIMEOUT_MS - 1);
  await Promise.resolve();
  expect(silentPeer.hub.destroyed).toBe(false);
  jest.advanceTimersByTime(1);
  expect(await admitting).toBe(false);
  expect(silentPeer.hub.destroyed).toBe(true);
  expect(await proving).toBe('no-answer');
});
