import type { Socket } from 'node:net';
import { readJson } from '../wire/frame.js';
import { newNonce } from '../wire/handshake.js';
import { SocketDuplex } from '../io/socket-duplex.js';

/** How long connecting and the handshake may take before the link is dropped. */
const HANDSHAKE_TIMEOUT_MS = 5000;
/**
 * The largest frame read before the other end has proved itself. Anyone on the machine can reach
 * an abstract socket: a stranger must not make this process buffer a 64 MiB "frame". The sender
 * keeps this limit for good: the receiver writes only the handshake and acks.
 */
const HANDSHAKE_FRAME_BYTES = 4096;

/**
 * What both ends of a direct link share: a socket that reads small frames only until the
 * handshake is done, a nonce for the other end's proof, and a deadline that drops the link when
 * the handshake does not finish in time. The ends differ in what they read and write.
 */
export abstract class DirectLinkEnd {
  protected readonly duplex: SocketDuplex;
  protected readonly nonce = newNonce();
  /** The handshake deadline, until the link opens. */
  protected timer: NodeJS.Timeout | undefined;

  constructor(socket: Socket) {
    this.duplex = new SocketDuplex(socket, HANDSHAKE_FRAME_BYTES);
    this.duplex.onFrames = (frames) => this.receive(frames);
    this.duplex.onClose = () => this.finish();
    this.timer = setTimeout(() => this.duplex.destroy(), HANDSHAKE_TIMEOUT_MS);
    this.timer.unref();
  }

  /** Frames read from the other end, in order. */
  protected abstract receive(frames: Buffer[]): void;

  /** The connection is gone. */
  protected abstract finish(): void;

  /** A handshake frame's JSON body; undefined, and the link dropped, if it is not JSON. */
  protected readHandshake<T>(frame: Buffer): T | undefined {
    try {
      return readJson<T>(frame);
    } catch {
      this.duplex.destroy();
      return undefined;
    }
  }
}
