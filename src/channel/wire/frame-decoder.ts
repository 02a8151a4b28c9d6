import { FrameTooLargeError, MalformedFrameError } from '../errors.js';
import { MIN_LENGTH } from './frame.js';

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
  /** Bytes of a length prefix that was itself split across chunks. */
  private prefix = Buffer.alloc(4);
  private prefixFilled = 0;

  constructor(private maxFrameBytes: number) {}

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
      if (this.prefixFilled < 4) return;
      this.prefixFilled = 0;
      const length = this.prefix.readUInt32LE(0);
      if (!this.fits(length)) {
        this.refuse(length, Buffer.concat([this.prefix, chunk.subarray(off, off + TEXT_SHOWN)]));
      }
      this.startPartial(length);
      this.prefix.copy(this.partial!, 0, 0, 4);
      this.partialFilled = 4;
    }
    if (this.partial !== undefined) {
      off = this.fillPartial(chunk, off);
      if (this.partialFilled < this.partial.length) return;
      frames.push(this.takePartial());
    }

    while (off < end) {
      if (end - off < 4) {
        this.fillPrefix(chunk, off);
        return;
      }
      const length = chunk.readUInt32LE(off);
      if (!this.fits(length)) this.refuse(length, chunk.subarray(off, off + TEXT_SHOWN));
      const total = 4 + length;
      if (end - off >= total) {
        frames.push(chunk.subarray(off, off + total));
        off += total;
      } else {
        this.startPartial(length);
        off = this.fillPartial(chunk, off);
      }
    }
  }

  private fits(length: number): boolean {
    return length >= MIN_LENGTH && length + 4 <= this.maxFrameBytes;
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
    const n = Math.min(4 - this.prefixFilled, chunk.length - off);
    chunk.copy(this.prefix, this.prefixFilled, off, off + n);
    this.prefixFilled += n;
    return off + n;
  }
}
