import type { IpcChannelError } from '../errors.js';

/**
 * A connection that carries whole frames, in order, both ways. The hub and the peer link speak
 * frames only; whether bytes cross a socket (SocketDuplex) or stay inside the hub's own process
 * (InProcessDuplex) is the implementation's business.
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
