import { FrameTooLargeError, MalformedFrameError } from '../errors.js';
import { FrameType, MIN_LENGTH, OFF_TYPE } from './frame.js';

/**
 * Before a connection has joined, the only frame it may send is its Join: anything else larger
 * than this is refused without being buffered, so a stranger costs a few KiB at most.
 */
export const PRE_JOIN_FRAME_BYTES = 4 * 1024;
/**
 * The largest Join: its `meta`, and on a rejoin the peers it expects back and what it consumed,
 * grow with the channel. A Join's size is judged by its type byte before anything is allocated.
 */
export const MAX_JOIN_BYTES = 64 * 1024;

/** Bytes of a text-looking stream quoted in its MalformedFrameError. */
const TEXT_SHOWN = 40;

/** Printable ASCII, tab, CR or LF only: what a text protocol's first bytes look like. */
function isText(bytes: Buffer): boolean {
  for (const b of bytes) {
    if (!((b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d)) return false;
  }
  return true;
}

/**
 * Splits a byte stream into frames. Whole frames inside one chunk are returned as views of that
 * chunk (no copy); a frame spread over chunks is gathered into one buffer of its exact size,
 * allocated only after its length passed the size check.
 *
 * A decoder belongs to one connection: a new connection gets a new decoder, so no state from a
 * dead connection can leak into the next one.
 */
export class FrameDecoder {
  /** The frame being gathered across chunks, if any. */
  private partial: Buffer | undefined;
  private partialFilled = 0;
  /** Bytes of a length prefix (and, before Join, the type byte) split across chunks. */
  private prefix = Buffer.alloc(5);
  private prefixFilled = 0;
  /** Bytes a frame's size is judged on: its length, and before Join its type too. */
  private head = 4;
  /** Until the first Join has passed: frames are judged by the pre-join limits. */
  private preJoin = false;

  /**
   * `preJoin`: the connection has not joined yet (a hub's side); until a Join frame has passed,
   * a Join may be up to MAX_JOIN_BYTES and any other frame up to PRE_JOIN_FRAME_BYTES.
   */
  constructor(
    private maxFrameBytes: number,
    preJoin = false,
  ) {
    if (preJoin) {
      this.preJoin = true;
      this.head = 5;
    }
  }

  /** Whether the pre-join limits still apply (no Join has passed yet). */
  get beforeJoin(): boolean {
    return this.preJoin;
  }

  /** Changes the largest frame accepted from here on (a link raises it once authenticated). */
  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  /** Bytes held that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.prefixFilled + this.partialFilled;
  }

  /**
   * Set once the stream is unusable (FrameTooLargeError or MalformedFrameError). Frames completed
   * before the fault are still returned, so a peer's valid messages are not lost with its
   * connection; after a fault the decoder returns nothing more.
   */
  error: FrameTooLargeError | MalformedFrameError | undefined;

  /** Feeds a chunk; returns the frames it completed, in order. Check `error` afterwards. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    if (this.error !== undefined) return frames;
    try {
      this.decode(chunk, frames);
    } catch (e) {
      if (e instanceof FrameTooLargeError || e instanceof MalformedFrameError) this.error = e;
      else throw e;
    }
    return frames;
  }

  private decode(chunk: Buffer, frames: Buffer[]): void {
    let off = 0;
    const end = chunk.length;

    if (this.prefixFilled > 0) {
      off = this.fillPrefix(chunk, 0);
      const filled = this.prefixFilled;
      if (filled < this.head) return;
      this.prefixFilled = 0;
      const length = this.prefix.readUInt32LE(0);
      if (!this.fits(length, this.prefix[OFF_TYPE]!)) {
        const head = this.prefix.subarray(0, filled);
        this.refuse(length, Buffer.concat([head, chunk.subarray(off, off + TEXT_SHOWN)]));
      }
      this.startPartial(length);
      this.prefix.copy(this.partial!, 0, 0, filled);
      this.partialFilled = filled;
    }
    if (this.partial !== undefined) {
      off = this.fillPartial(chunk, off);
      if (this.partialFilled < this.partial.length) return;
      this.passed(frames, this.takePartial());
    }

    while (off < end) {
      if (end - off < this.head) {
        this.fillPrefix(chunk, off);
        return;
      }
      const length = chunk.readUInt32LE(off);
      if (!this.fits(length, chunk[off + OFF_TYPE]!)) {
        this.refuse(length, chunk.subarray(off, off + TEXT_SHOWN));
      }
      const total = 4 + length;
      if (end - off >= total) {
        this.passed(frames, chunk.subarray(off, off + total));
        off += total;
      } else {
        this.startPartial(length);
        off = this.fillPartial(chunk, off);
      }
    }
  }

  /** Adds a complete frame; the first Join ends the pre-join limits. */
  private passed(frames: Buffer[], frame: Buffer): void {
    frames.push(frame);
    if (this.preJoin && frame[OFF_TYPE] === FrameType.Join) {
      this.preJoin = false;
      this.head = 4;
    }
  }

  /** The largest frame accepted now, for a frame of this type. */
  private limit(type: number): number {
    if (!this.preJoin) return this.maxFrameBytes;
    return Math.min(
      this.maxFrameBytes,
      type === FrameType.Join ? MAX_JOIN_BYTES : PRE_JOIN_FRAME_BYTES,
    );
  }

  private fits(length: number, type: number): boolean {
    return length >= MIN_LENGTH && length + 4 <= this.limit(type);
  }

  /** Throws the error for a length that does not fit; `sent` starts at its length prefix. */
  private refuse(length: number, sent: Buffer): never {
    if (length < MIN_LENGTH) {
      throw new MalformedFrameError(
        `length field ${length} is below the ${MIN_LENGTH}-byte header`,
      );
    }
    // Text where a length belongs is another protocol (an HTTP request or answer, a shell's
    // echo), not a frame too large: say what arrived, so whoever connected it can be found.
    if (isText(sent.subarray(0, 4))) {
      throw new MalformedFrameError(
        `the connection sent text, not frames of this protocol: ${JSON.stringify(sent.toString('latin1'))}`,
      );
    }
    if (this.preJoin) {
      throw new FrameTooLargeError(length + 4, this.limit(sent[OFF_TYPE] ?? 0), 'before-join');
    }
    throw new FrameTooLargeError(length + 4, this.maxFrameBytes, 'receive');
  }

  private startPartial(length: number): void {
    this.partial = Buffer.allocUnsafe(4 + length);
    this.partialFilled = 0;
  }

  private fillPartial(chunk: Buffer, off: number): number {
    const partial = this.partial!;
    const n = Math.min(partial.length - this.partialFilled, chunk.length - off);
    chunk.copy(partial, this.partialFilled, off, off + n);
    this.partialFilled += n;
    return off + n;
  }

  private takePartial(): Buffer {
    const frame = this.partial!;
    this.partial = undefined;
    this.partialFilled = 0;
    return frame;
  }

  private fillPrefix(chunk: Buffer, off: number): number {
    const n = Math.min(this.head - this.prefixFilled, chunk.length - off);
    chunk.copy(this.prefix, this.prefixFilled, off, off + n);
    this.prefixFilled += n;
    return off + n;
  }
}
