/**
 * The wire format. Every frame is a 4-byte little-endian length followed by a fixed header and a
 * payload. The hub routes on the header alone and never looks at data payloads.
 *
 * ```
 * offset size field
 *  0      4   length: bytes after this field (header rest + payload)
 *  4      1   type
 *  5      1   flags
 *  6      2   target peer id (or ALL / OTHERS)
 *  8      2   sender peer id (stamped by the hub; senders may not lie)
 * 10      2   aux: for EVENT frames, the byte length of the event name
 * 12      4   sender incarnation (random per process; resets dedup when a peer restarts)
 * 16      4   sequence, high 21 bits
 * 20      4   sequence, low 32 bits
 * 24      .   payload
 * ```
 */

export const PROTOCOL_VERSION = 1;

export const HEADER_SIZE = 24;
/** Smallest legal value of the length field. */
export const MIN_LENGTH = HEADER_SIZE - 4;

export const OFF_TYPE = 4;
export const OFF_FLAGS = 5;
export const OFF_TARGET = 6;
export const OFF_SENDER = 8;
export const OFF_AUX = 10;
export const OFF_INC = 12;
export const OFF_SEQ_HI = 16;
export const OFF_SEQ_LO = 20;

/** Target value meaning every joined peer, the sender included. */
export const TARGET_ALL = 0xffff;
/** Target value meaning every joined peer but the sender. */
export const TARGET_OTHERS = 0xfffe;
/**
 * The id of the bridge between hosts (federation): a connection of the hub in its own process,
 * the only one that may join with this id. Peers send frames for other hosts to it.
 */
export const BRIDGE_ID = 0xfffd;
/** Highest id a peer may hold. */
export const MAX_PEER_ID = 0xfffc;

/** Frame types. Values below DATA_MIN are control frames between a peer and the hub. */
export enum FrameType {
  // hub → peer
  HubHello = 1,
  Welcome = 2,
  Reject = 3,
  PeerJoin = 4,
  PeerLeave = 5,
  PeerMeta = 6,
  Ack = 7,
  Held = 8,
  Nack = 9,
  Handover = 10,
  Bye = 11,
  Fault = 12,
  /** Everything sent to the retiring peer before its Retire precedes this frame. */
  Retired = 13,
  PeerRetire = 14,
  /** The hub's epoch rose (a rejoining peer had seen a higher one); body `{ epoch }`. */
  Epoch = 15,
  /**
   * These frames of yours (seq ranges) were written to their target, whose connection closed
   * before it confirmed reading them: that process may have read them. They are held again for
   * the id's next holder, or given up on; whatever their fate, a failure is no longer certain.
   */
  Unconfirmed = 22,
  /**
   * Either way between a peer and its hub: I am alive. Sent only on a connection that carried
   * nothing else from its sender for a heartbeat interval (any frame is proof of life).
   */
  Heartbeat = 23,
  // peer → hub
  Join = 16,
  Receipt = 17,
  SetMeta = 18,
  Leave = 19,
  /** Send me nothing new: hold it for the next process to take my id. */
  Retire = 20,
  /** Answer to Handover: everything the hub sent before it has been receipted. */
  HandoverDone = 21,
  // direct link between two peers (the hub is not involved)
  /** Receiver → sender, first frame: `{ nonce }`. */
  DirectHello = 24,
  /** Sender → receiver: `{ id, incarnation, nonce, proof }`, proved with the pair's secret. */
  DirectJoin = 25,
  /** Receiver → sender: `{ proof }`; data frames may follow. */
  DirectWelcome = 26,
  /** Receiver → sender: every data frame up to this sequence has been read (count frame). */
  DirectAck = 27,
  /** Receiver → sender: read up to this sequence, and nothing after; the link closes. */
  DirectBye = 28,
  // data, peer → hub → peer
  Message = 32,
  Event = 33,
  /**
   * A Message or Event crossing hosts, wrapped with its destination (peer → bridge) or its
   * origin (bridge → peer): see federated.ts. Routed by its header like the others.
   */
  Federated = 34,
}

export const DATA_MIN = 32;

/** Data frame flags. */
export enum FrameFlag {
  /** Do not hold this frame for an absent target: nack it at once (used by requests). */
  NoHold = 1,
  /**
   * For the process that holds the target id now, even while it retires: an answer to, or the
   * cancel of, work that process started. Other frames for a retiring id wait for its successor.
   */
  ToProcess = 2,
  /**
   * On a broadcast (ALL or OTHERS): for this host's peers only. Without it, a broadcast from a
   * local peer also goes to the bridge, which forwards it to every other host.
   */
  HostOnly = 4,
}

export function isDataType(type: number): boolean {
  return type === FrameType.Message || type === FrameType.Event || type === FrameType.Federated;
}

const TWO_32 = 0x1_0000_0000;

/** Writes the header of a frame whose buffer is already allocated at its full size. */
export function writeHeader(
  frame: Buffer,
  type: number,
  flags: number,
  target: number,
  aux: number,
  incarnation: number,
  seq: number,
): void {
  frame.writeUInt32LE(frame.length - 4, 0);
  frame[OFF_TYPE] = type;
  frame[OFF_FLAGS] = flags;
  frame.writeUInt16LE(target, OFF_TARGET);
  frame.writeUInt16LE(0, OFF_SENDER);
  frame.writeUInt16LE(aux, OFF_AUX);
  frame.writeUInt32LE(incarnation, OFF_INC);
  frame.writeUInt32LE(Math.floor(seq / TWO_32), OFF_SEQ_HI);
  frame.writeUInt32LE(seq >>> 0, OFF_SEQ_LO);
}

export function readSeq(frame: Buffer): number {
  return frame.readUInt32LE(OFF_SEQ_HI) * TWO_32 + frame.readUInt32LE(OFF_SEQ_LO);
}

export function readTarget(frame: Buffer): number {
  return frame.readUInt16LE(OFF_TARGET);
}

export function readSender(frame: Buffer): number {
  return frame.readUInt16LE(OFF_SENDER);
}

export function readIncarnation(frame: Buffer): number {
  return frame.readUInt32LE(OFF_INC);
}

/** A control frame carrying a payload (JSON text or raw bytes). */
export function controlFrame(type: FrameType, payload?: Buffer | string): Buffer {
  const size =
    payload === undefined
      ? 0
      : typeof payload === 'string'
        ? Buffer.byteLength(payload)
        : payload.length;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + size);
  writeHeader(frame, type, 0, 0, 0, 0, 0);
  if (typeof payload === 'string') frame.write(payload, HEADER_SIZE, 'utf8');
  else if (payload !== undefined) payload.copy(frame, HEADER_SIZE);
  return frame;
}

export function jsonFrame(type: FrameType, body: unknown): Buffer {
  return controlFrame(type, JSON.stringify(body));
}

/** Parses the JSON payload of a control frame; throws if it is not JSON. */
export function readJson<T>(frame: Buffer): T {
  return JSON.parse(frame.toString('utf8', HEADER_SIZE)) as T;
}

/**
 * Sequence ranges are sent as pairs of float64 (exact for integers below 2^53), so one ACK frame
 * can confirm thousands of frames delivered in order.
 */
export function rangesFrame(type: FrameType, seqs: number[]): Buffer {
  // Acks nearly always come in order; only sort when they do not.
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i]! < seqs[i - 1]!) {
      seqs.sort((a, b) => a - b);
      break;
    }
  }
  const ranges: number[] = [];
  let from = seqs[0]!;
  let to = from;
  for (let i = 1; i < seqs.length; i++) {
    const s = seqs[i]!;
    if (s === to + 1) {
      to = s;
    } else if (s !== to) {
      ranges.push(from, to);
      from = to = s;
    }
  }
  ranges.push(from, to);
  const payload = Buffer.allocUnsafe(ranges.length * 8);
  for (let i = 0; i < ranges.length; i++) payload.writeDoubleLE(ranges[i]!, i * 8);
  return controlFrame(type, payload);
}

/** Calls `fn(seq)` for every sequence number in a ranges frame. */
export function forEachInRanges(frame: Buffer, fn: (seq: number) => void): void {
  const end = frame.length - ((frame.length - HEADER_SIZE) % 16);
  for (let off = HEADER_SIZE; off < end; off += 16) {
    const from = frame.readDoubleLE(off);
    const to = frame.readDoubleLE(off + 8);
    for (let s = from; s <= to; s++) fn(s);
  }
}

export function countFrame(type: FrameType, count: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + 8);
  writeHeader(frame, type, 0, 0, 0, 0, 0);
  frame.writeDoubleLE(count, HEADER_SIZE);
  return frame;
}

export function readCount(frame: Buffer): number {
  if (frame.length < HEADER_SIZE + 8) return NaN;
  return frame.readDoubleLE(HEADER_SIZE);
}
