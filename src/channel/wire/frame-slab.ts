/** Frames are carved out of slabs of this size; bigger frames get a buffer of their own. */
const SLAB_BYTES = 64 * 1024;
const OWN_BUFFER_FROM = 16 * 1024;

/**
 * Allocates outgoing frames one after another in shared slabs. Consecutive frames are then
 * adjacent in memory, so a flush can write a run of them as one buffer without copying them
 * together (see `coalesce`), and a string payload can be written straight into place.
 *
 * A frame keeps its slab alive until the frame is dropped; frames that may live long (held for
 * an absent peer) should be copied out.
 */
export class FrameSlab {
  private slab: Buffer = Buffer.allocUnsafe(0);
  private used = 0;

  /** Room left in the current slab. */
  get room(): number {
    return this.slab.length - this.used;
  }

  /** A buffer of exactly `size` bytes. */
  alloc(size: number): Buffer {
    if (size >= OWN_BUFFER_FROM) return Buffer.allocUnsafe(size);
    if (size > this.room) this.renew();
    const frame = this.slab.subarray(this.used, this.used + size);
    this.used += size;
    return frame;
  }

  /**
   * Writes a frame whose tail is the UTF-8 string `text`, without measuring the string first
   * when it surely fits (UTF-8 takes at most 3 bytes per UTF-16 unit). `head` bytes come first
   * and are left for the caller to fill.
   */
  allocWithText(head: number, text: string): Buffer {
    const worst = head + text.length * 3;
    if (worst < OWN_BUFFER_FROM) {
      if (worst > this.room) this.renew();
      const start = this.used;
      const written = this.slab.write(text, start + head, 'utf8');
      const frame = this.slab.subarray(start, start + head + written);
      this.used += head + written;
      return frame;
    }
    const frame = this.alloc(head + Buffer.byteLength(text));
    frame.write(text, head, 'utf8');
    return frame;
  }

  private renew(): void {
    this.slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.used = 0;
  }
}

/**
 * Merges runs of buffers that are adjacent views of the same memory into single views, so a
 * batch of slab-allocated frames is written as one or a few buffers, copied never.
 */
export function coalesce(buffers: Buffer[]): Buffer[] {
  if (buffers.length < 2) return buffers;
  const out: Buffer[] = [];
  let first = buffers[0]!;
  let end = first.byteOffset + first.length;
  let merged = false;
  const close = () => {
    out.push(merged ? Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset) : first);
  };
  for (let i = 1; i < buffers.length; i++) {
    const b = buffers[i]!;
    if (b.buffer === first.buffer && b.byteOffset === end) {
      end += b.length;
      merged = true;
    } else {
      close();
      first = b;
      end = b.byteOffset + b.length;
      merged = false;
    }
  }
  close();
  return out;
}
