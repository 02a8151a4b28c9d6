import type { Socket } from 'node:net';
import { type IpcChannelError, MalformedFrameError } from '../errors.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { coalesce } from '../wire/frame-slab.js';
import type { FrameDuplex } from './frame-duplex.js';

const noop = () => {};

/** Up to this size, many scattered frames are copied into one buffer rather than written apart. */
const CONCAT_LIMIT = 256 * 1024;

/**
 * Frames over a socket (Unix, named pipe or TCP): read through a FrameDecoder, whose size limit
 * can be raised once the other side is trusted, and written in as few writes as their memory
 * layout allows.
 */
export class SocketDuplex implements FrameDuplex {
  onFrames: (frames: Buffer[]) => void = noop;
  onClose: (error?: Error) => void = noop;
  onFault: (error: IpcChannelError) => void = (e) => this.destroy(e);
  closed = false;
  private readonly decoder: FrameDecoder;
  private error: Error | undefined;
  private faulted = false;

  /** `preJoin`: the hub's side of a connection that has not joined (see FrameDecoder). */
  constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
    preJoin = false,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes, preJoin);
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
