import type { Socket } from 'node:net';
import { type IpcChannelError, MalformedFrameError } from '../errors.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { coalesce } from '../wire/frame-slab.js';

/**
 * A connection that carries whole frames, in order, both ways. The hub and the peer link speak
 * frames only; whether bytes cross a Unix socket or stay inside the hub's own process is the
 * transport's business.
 */
export interface FrameDuplex {
  /** Called with frames as they complete, in order. */
  onFrames: (frames: Buffer[]) => void;
  /** Called once, when the connection is gone; `error` tells why if it was not a clean end. */
  onClose: (error?: Error) => void;
  /**
   * Called when the incoming bytes are not valid framing; nothing more is read. The default
   * destroys the connection; the hub replaces it to send a Fault frame first.
   */
  onFault: (error: IpcChannelError) => void;
  /** Queues frames for the other side, in order. */
  write(frames: Buffer[]): void;
  /** Closes after queued frames are handed over. */
  end(): void;
  /** Closes now; queued frames are dropped. */
  destroy(error?: Error): void;
  readonly closed: boolean;
  /** Bytes queued in this process and not yet handed to the OS. */
  readonly pendingBytes: number;
}

const noop = () => {};

/** Up to this size, many scattered frames are copied into one buffer rather than written apart. */
const CONCAT_LIMIT = 256 * 1024;

export class SocketDuplex implements FrameDuplex {
  onFrames: (frames: Buffer[]) => void = noop;
  onClose: (error?: Error) => void = noop;
  onFault: (error: IpcChannelError) => void = (e) => this.destroy(e);
  closed = false;
  private readonly decoder: FrameDecoder;
  private error: Error | undefined;
  private faulted = false;

  constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (e) => {
      this.error ??= e;
    });
    socket.on('close', () => this.finish());
    // A peer that ends its side has nothing more to say; answer with our end so 'close' follows.
    socket.on('end', () => socket.end());
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  /** Changes the largest frame accepted from here on. */
  setMaxFrameBytes(bytes: number): void {
    this.decoder.setMaxFrameBytes(bytes);
  }

  write(frames: Buffer[]): void {
    if (this.closed || this.socket.destroyed || frames.length === 0) return;
    // Slab-allocated frames sent in order are adjacent in memory: one view, no copy.
    const runs = coalesce(frames);
    if (runs.length === 1) {
      this.socket.write(runs[0]!);
      return;
    }
    let total = 0;
    for (const r of runs) total += r.length;
    // Many small scattered pieces (a hub forwarding from several reads) are cheaper to copy
    // once than to hand to writev one by one.
    if (runs.length > 8 && total <= CONCAT_LIMIT) {
      this.socket.write(Buffer.concat(runs, total));
      return;
    }
    this.socket.cork();
    for (const r of runs) this.socket.write(r);
    this.socket.uncork();
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never closes its side must not keep the connection open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(error?: Error): void {
    if (error) this.error ??= error;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    const frames = this.decoder.push(chunk);
    if (frames.length > 0) this.onFrames(frames);
    if (this.decoder.error !== undefined && !this.closed && !this.faulted) {
      this.faulted = true;
      this.error ??= this.decoder.error;
      this.onFault(this.decoder.error);
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.error === undefined && this.decoder.bufferedBytes > 0) {
      this.error = new MalformedFrameError(
        `the connection ended ${this.decoder.bufferedBytes} bytes into an unfinished frame`,
      );
    }
    this.onClose(this.error);
  }
}

/** Frames a InProcessDuplex hands over at a time (see deliver). */
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
