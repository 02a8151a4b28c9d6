import { HEADER_SIZE } from '../wire/frame.js';

/**
 * The Federated frame's fields before its inner frame (see src/channel/wire/federated.ts): host
 * length, host, peer id, origin incarnation, origin seq. The sender writes them in place, in
 * the frame it encodes the message into, instead of copying the message into a second buffer.
 */
const FIXED_BYTES = 15;

/** Bytes before the inner frame of a Federated frame whose host name is `hostBytes` long. */
export function federatedPrefixBytes(hostBytes: number): number {
  return HEADER_SIZE + FIXED_BYTES + hostBytes;
}

/**
 * Writes the peer→hub fields of a Federated frame after its (not yet written) outer header:
 * the destination host and peer id; origin incarnation and seq are the bridge's to fill, so 0.
 */
export function writeDestination(frame: Buffer, host: Buffer, peer: number): void {
  let at = HEADER_SIZE;
  frame[at++] = host.length;
  host.copy(frame, at);
  at += host.length;
  frame.writeUInt16LE(peer, at);
  frame.fill(0, at + 2, at + FIXED_BYTES - 1);
}
