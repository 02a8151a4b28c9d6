import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { readExactly } from '../io/sockets.js';

/**
 * Proof of the endpoint token on a loopback TCP connection, before any frame of the protocol.
 *
 * Any local user can reach a loopback port, so the port alone proves nothing; the token is in a
 * file only this user can read. The peer speaks first: `MAGIC | nonce | HMAC(token, peer|nonce)`.
 * The hub answers `OK | HMAC(token, hub|nonce)` (so the peer knows it reached the real hub and
 * not a program that took the port) or `NO` and closes. A peer that cannot prove the token gets
 * those two bytes and nothing else: not the channel's name, not a single frame.
 *
 * The token never crosses the socket. A captured proof could be replayed to the same hub, but
 * capturing loopback traffic takes root, which can read the token file anyway.
 */
const MAGIC = Buffer.from('NIPCTCP1', 'latin1');
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
export const PEER_PROOF_BYTES = MAGIC.length + NONCE_BYTES + MAC_BYTES;
const ACCEPTED = 1;
const REFUSED = 0;
export const HUB_REPLY_BYTES = 1 + MAC_BYTES;

/** How long either side waits for the other's proof. */
export const GATE_TIMEOUT_MS = 5000;

export type GateOutcome = 'accepted' | 'refused' | 'impostor' | 'no-answer';

function mac(token: Buffer, role: 'peer' | 'hub', nonce: Buffer): Buffer {
  return createHmac('sha256', token).update(`${role}\0`).update(nonce).digest();
}

/** Peer side: proves the token and checks the hub's proof. */
export async function proveToHub(socket: Socket, token: Buffer): Promise<GateOutcome> {
  // Errors surface as a missing answer; the link's transport listens for them once admitted.
  socket.on('error', () => {});
  const nonce = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, nonce, mac(token, 'peer', nonce)]));
  const status = await readExactly(socket, 1, GATE_TIMEOUT_MS);
  if (status === undefined) return 'no-answer';
  if (status[0] !== ACCEPTED) return 'refused';
  const proof = await readExactly(socket, MAC_BYTES, GATE_TIMEOUT_MS);
  if (proof === undefined) return 'no-answer';
  return timingSafeEqual(proof, mac(token, 'hub', nonce)) ? 'accepted' : 'impostor';
}

/**
 * Hub side: reads the peer's proof and answers it. Resolves true when the connection may go on
 * to the protocol handshake; otherwise the socket has been refused (or timed out) and destroyed.
 */
export async function admitPeer(socket: Socket, token: Buffer): Promise<boolean> {
  socket.on('error', () => {}); // a peer that resets mid-proof is simply not admitted
  const hello = await readExactly(socket, PEER_PROOF_BYTES, GATE_TIMEOUT_MS);
  if (hello === undefined) {
    socket.destroy();
    return false;
  }
  const magic = hello.subarray(0, MAGIC.length);
  const nonce = hello.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
  const given = hello.subarray(MAGIC.length + NONCE_BYTES);
  if (!magic.equals(MAGIC) || !timingSafeEqual(given, mac(token, 'peer', nonce))) {
    socket.end(Buffer.from([REFUSED]), () => socket.destroy());
    return false;
  }
  socket.write(Buffer.concat([Buffer.from([ACCEPTED]), mac(token, 'hub', nonce)]));
  return true;
}
