import { HEADER_SIZE } from '../wire/frame.js';

/**
 * The Federated frame's fields before its inner frame (see the contract in
 * src/channel/wire/federated.ts): host length, host, peer id, origin incarnation, origin seq.
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

/** The origin of a bridge→peer Federated frame, and where its inner frame starts. */
export interface FederatedOrigin {
  readonly host: string;
  readonly peer: number;
  readonly incarnation: number;
  readonly seq: number;
  /** Offset of the inner frame (its length field) in the outer frame. */
  readonly inner: number;
}

/** Reads a bridge→peer Federated frame's origin; undefined when it is malformed. */
export function readOrigin(frame: Buffer): FederatedOrigin | undefined {
  if (frame.length < HEADER_SIZE + FIXED_BYTES + 1) return undefined;
  const hostBytes = frame[HEADER_SIZE]!;
  const inner = federatedPrefixBytes(hostBytes);
  if (hostBytes === 0 || inner + HEADER_SIZE > frame.length) return undefined;
  if (frame.readUInt32LE(inner) !== frame.length - inner - 4) return undefined;
  const at = HEADER_SIZE + 1 + hostBytes;
  return {
    host: frame.toString('utf8', HEADER_SIZE + 1, at),
    peer: frame.readUInt16LE(at),
    incarnation: frame.readUInt32LE(at + 2),
    seq: frame.readUInt32LE(at + 6) * 0x1_0000_0000 + frame.readUInt32LE(at + 10),
    inner,
  };
}
