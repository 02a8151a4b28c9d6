import { MalformedFrameError } from '../errors.js';
import { FrameType, HEADER_SIZE, MIN_LENGTH, OFF_AUX, OFF_TYPE, writeHeader } from './frame.js';

/**
 * The payload of a Federated frame (after the 24-byte header), both directions:
 *
 * ```
 * 0      u8   L = host name length (1..255)
 * 1      L    host name, UTF-8: peer → hub: the DESTINATION host; bridge → peer: the ORIGIN host
 * 1+L    u16  peer → hub: the destination id on that host; bridge → peer: the origin peer id
 * 3+L    u32  origin incarnation (peer → hub: 0)
 * 7+L    u32  origin seq high, u32 origin seq low (peer → hub: 0)
 * 15+L   ...  the inner frame: a complete Message or Event frame (length, header, payload);
 *             its target, sender, incarnation and seq fields are 0 and ignored
 * ```
 */

/** Bytes of a Federated payload before the host name. */
const HOST_LENGTH_BYTES = 1;
/** Bytes after the host name and before the inner frame: peer, incarnation, seq. */
const ORIGIN_BYTES = 2 + 4 + 8;
/** Longest host name on the wire, in UTF-8 bytes. */
export const MAX_HOST_BYTES = 255;

const TWO_32 = 0x1_0000_0000;

/** Who a Federated frame is for (peer → hub) or from (bridge → peer). */
export interface FederatedAddress {
  /** Destination host (peer → hub) or origin host (bridge → peer). */
  readonly host: string;
  /** Destination id on that host (peer → hub) or origin peer id (bridge → peer). */
  readonly peer: number;
  /** The origin's incarnation (0 peer → hub). */
  readonly incarnation: number;
  /** The origin's sequence number (0 peer → hub). */
  readonly seq: number;
}

/** A Federated frame, read. */
export interface FederatedFrame extends FederatedAddress {
  /** The inner Message or Event frame: a view of the outer frame's bytes. */
  readonly inner: Buffer;
}

/** The outer header of a Federated frame being written. */
export interface FederatedHeader {
  readonly target: number;
  readonly flags: number;
  /** The writer's incarnation (the hub stamps the sender's own over it anyway). */
  readonly incarnation: number;
  /** The writer's own sequence number for this frame. */
  readonly seq: number;
}

/** Bytes a host name takes on the wire; throws a RangeError for an empty or too long one. */
export function hostBytes(host: string): number {
  const n = Buffer.byteLength(host);
  if (n < 1 || n > MAX_HOST_BYTES) {
    throw new RangeError(`host name must be 1..${MAX_HOST_BYTES} bytes of UTF-8, got ${n}`);
  }
  return n;
}

/** The size of a Federated frame wrapping `innerLength` bytes for `host`. */
export function federatedSize(host: string, innerLength: number): number {
  return HEADER_SIZE + HOST_LENGTH_BYTES + hostBytes(host) + ORIGIN_BYTES + innerLength;
}

/** Bytes before the inner frame of a Federated frame whose host name is `hostBytes` long. */
export function federatedPrefixBytes(hostBytes: number): number {
  return HEADER_SIZE + HOST_LENGTH_BYTES + hostBytes + ORIGIN_BYTES;
}

/** The origin a peer leaves for the bridge to fill. */
const NO_ORIGIN = { incarnation: 0, seq: 0 };

/**
 * Writes the address of a Federated frame after its outer header (the host as a string, or as
 * its UTF-8 bytes), and returns where the inner frame starts. A sender writes it in place, in the
 * frame it encodes the message into, so the message is never copied into a second buffer.
 */
export function writeAddress(
  frame: Buffer,
  host: string | Buffer,
  peer: number,
  origin: { readonly incarnation: number; readonly seq: number } = NO_ORIGIN,
): number {
  let off = HEADER_SIZE;
  const n =
    typeof host === 'string'
      ? frame.write(host, off + HOST_LENGTH_BYTES, 'utf8')
      : host.copy(frame, off + HOST_LENGTH_BYTES);
  frame[off] = n;
  off += HOST_LENGTH_BYTES + n;
  frame.writeUInt16LE(peer, off);
  frame.writeUInt32LE(origin.incarnation >>> 0, off + 2);
  frame.writeUInt32LE(Math.floor(origin.seq / TWO_32), off + 6);
  frame.writeUInt32LE(origin.seq >>> 0, off + 10);
  return off + ORIGIN_BYTES;
}

/**
 * Writes a whole Federated frame: `header`, then `address`, then a copy of `inner` (a complete
 * Message or Event frame, whose own header fields but type, flags and aux are ignored).
 */
export function writeFederated(
  header: FederatedHeader,
  address: FederatedAddress,
  inner: Buffer,
): Buffer {
  const frame = Buffer.allocUnsafe(federatedSize(address.host, inner.length));
  writeHeader(
    frame,
    FrameType.Federated,
    header.flags,
    header.target,
    0,
    header.incarnation,
    header.seq,
  );
  inner.copy(frame, writeAddress(frame, address.host, address.peer, address));
  return frame;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a Federated frame. Every field is bounds-checked: a frame whose host name, address or
 * inner frame does not fit, or whose inner frame is not one whole Message or Event, is a
 * MalformedFrameError (it came from a faulty or hostile writer; drop it).
 */
export function readFederated(frame: Buffer): FederatedFrame {
  if (frame.length < HEADER_SIZE + HOST_LENGTH_BYTES || frame[OFF_TYPE] !== FrameType.Federated) {
    throw new MalformedFrameError('Federated frame too short for its host name');
  }
  let off = HEADER_SIZE;
  const n = frame[off]!;
  off += HOST_LENGTH_BYTES;
  if (n === 0) throw new MalformedFrameError('Federated frame with an empty host name');
  if (off + n + ORIGIN_BYTES > frame.length) {
    throw new MalformedFrameError('Federated frame too short for its host name and origin');
  }
  let host: string;
  try {
    host = utf8.decode(frame.subarray(off, off + n));
  } catch {
    throw new MalformedFrameError('Federated frame host name is not UTF-8');
  }
  off += n;
  const peer = frame.readUInt16LE(off);
  const incarnation = frame.readUInt32LE(off + 2);
  const high = frame.readUInt32LE(off + 6);
  if (high >= 1 << 21) throw new MalformedFrameError('Federated frame origin seq over 2^53');
  const seq = high * TWO_32 + frame.readUInt32LE(off + 10);
  off += ORIGIN_BYTES;
  const inner = frame.subarray(off);
  checkInner(inner);
  return { host, peer, incarnation, seq, inner };
}

/** Throws unless `inner` is exactly one Message or Event frame. */
function checkInner(inner: Buffer): void {
  if (inner.length < HEADER_SIZE || inner.readUInt32LE(0) < MIN_LENGTH) {
    throw new MalformedFrameError('Federated frame lacks a whole inner frame');
  }
  if (inner.readUInt32LE(0) + 4 !== inner.length) {
    throw new MalformedFrameError(
      `Federated inner frame states ${inner.readUInt32LE(0) + 4} bytes but ${inner.length} follow`,
    );
  }
  const type = inner[OFF_TYPE];
  if (type !== FrameType.Message && type !== FrameType.Event) {
    throw new MalformedFrameError(`Federated inner frame has type ${String(type)}`);
  }
  if (type === FrameType.Event && HEADER_SIZE + inner.readUInt16LE(OFF_AUX) > inner.length) {
    throw new MalformedFrameError('Federated inner event name runs past the frame');
  }
}
