import type { IpcChannelError } from '../errors.js';
import type { FrameDuplex } from './frame-duplex.js';

const noop = () => {};

/** Frames an InProcessDuplex hands over at a time (see deliver). */
const LOCAL_BATCH = 512;
/** Deliveries a process makes to itself before the event loop must turn. */
const LOCAL_HOPS_PER_TURN = 64;
let localHops = 0;
function resetLocalHops(): void {
  localHops = 0;
}

/**
 * The hub process's own peer talks to its hub through this pair: frames are passed by reference,
 * in batches, after the current callback (never inside the caller's stack), so the hub process
 * pays no syscalls for its own traffic and keeps the asynchronous ordering a socket would give.
 */
export class InProcessDuplex implements FrameDuplex {
  onFrames: (frames: Buffer[]) => void = noop;
  onClose: (error?: Error) => void = noop;
  onFault: (error: IpcChannelError) => void = noop;
  closed = false;
  private other!: InProcessDuplex;
  private inbox: Buffer[] = [];
  private inboxBytes = 0;
  private scheduled = false;
  private closing = false;

  static pair(): [InProcessDuplex, InProcessDuplex] {
    const a = new InProcessDuplex();
    const b = new InProcessDuplex();
    a.other = b;
    b.other = a;
    return [a, b];
  }

  get pendingBytes(): number {
    return this.other.inboxBytes;
  }

  write(frames: Buffer[]): void {
    if (this.closed || this.closing) return;
    const other = this.other;
    if (other.closed) return;
    for (const f of frames) {
      other.inbox.push(f);
      other.inboxBytes += f.length;
    }
    other.schedule();
  }

  end(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    // The other side reads what it was sent, then sees the end; like a socket's EOF.
    this.other.closing = true;
    this.other.schedule();
    this.schedule();
  }

  destroy(): void {
    if (this.closed) return;
    this.inbox = [];
    this.other.inbox = [];
    this.finish();
    this.other.finish();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (localHops < LOCAL_HOPS_PER_TURN) {
      // Frames reach the other side before the event loop turns, as a socket's would reach
      // the other process at once: the hub process answers a request without waiting for
      // extra loop iterations. Bounded, so a process that keeps messaging itself still lets
      // I/O and timers run.
      if (localHops++ === 0) setImmediate(resetLocalHops);
      process.nextTick(() => this.deliver());
    } else {
      setImmediate(() => this.deliver());
    }
  }

  private deliver(): void {
    this.scheduled = false;
    if (this.closed) return;
    if (this.inbox.length > 0) {
      let frames = this.inbox;
      if (frames.length <= LOCAL_BATCH) {
        this.inbox = [];
        this.inboxBytes = 0;
      } else {
        // A whole window at once would start thousands of handlers (and their promises) before
        // any could finish; they would outlive a young-generation GC and be copied to the old
        // one. A socket hands over about 64 KiB at a time; so does this, and the rest follows
        // in the next delivery, in order.
        this.inbox = frames.slice(LOCAL_BATCH);
        frames = frames.slice(0, LOCAL_BATCH);
        for (const f of frames) this.inboxBytes -= f.length;
        this.schedule();
      }
      this.onFrames(frames);
    }
    if (this.closing && this.inbox.length === 0 && this.other.inbox.length === 0) {
      this.finish();
      this.other.finish();
    } else if (this.closing) {
      this.schedule();
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}
