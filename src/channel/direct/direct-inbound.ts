import type { Socket } from 'node:net';
import { type DirectJoin, directProof, proofsMatch } from '../wire/handshake.js';
import {
  FrameType,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  countFrame,
  isDataType,
  jsonFrame,
  readCount,
  readSeq,
} from '../wire/frame.js';
import { DirectLinkEnd } from './direct-link-end.js';

/** The states of a direct link, seen from the peer that receives on it. */
export enum InboundState {
  /** DirectHello sent; waiting for the sender's DirectJoin. */
  Greeting = 'greeting',
  /** Waiting until this process knows the sender as a member, to check its proof. */
  Vetting = 'vetting',
  /** Data flows; acks go back. */
  Open = 'open',
  /** DirectBye sent: nothing more is read. */
  Closed = 'closed',
}

/** What an inbound link needs from the process that owns it. */
export interface InboundOwner {
  /** This process's id and incarnation. */
  self(): readonly [number, number];
  /**
   * The secret this process shares with the member of this id and incarnation; undefined while
   * it is not known as one (not yet, or no more).
   */
  secretWith(id: number, incarnation: number): Buffer | undefined;
  /** Data frames read, in order, with the sender field stamped. */
  frames(link: InboundLink, frames: Buffer[]): void;
  /** The sender read this process's frames up to `seq` (an ack riding with its own data). */
  acked(link: InboundLink, seq: number): void;
  /** The link needs its ack written at the next flush. */
  needsAck(link: InboundLink): void;
  closed(link: InboundLink): void;
}

/** How often a proven sender that is not a member yet (its join is on its way) is checked. */
const VETTING_CHECK_MS = 20;

/**
 * The receiving end of one peer's direct link. Like the hub, it stamps the sender's id on every
 * frame (a frame cannot claim another sender) and confirms what it read, cumulatively; unlike
 * the hub it forwards nothing.
 */
export class InboundLink extends DirectLinkEnd {
  state = InboundState.Greeting;
  /** The sender's peer id and incarnation, once it has joined. */
  id = 0;
  incarnation = 0;
  /** Sequence of the last data frame read, and the last one acked. */
  private readUpTo = 0;
  private ackedUpTo = 0;

  constructor(
    socket: Socket,
    private readonly maxFrameBytes: number,
    private readonly owner: InboundOwner,
  ) {
    super(socket);
    this.duplex.write([jsonFrame(FrameType.DirectHello, { nonce: this.nonce })]);
  }

  /** Writes the ack for what was read since the last one. */
  flushAck(): void {
    const ack = this.takeAck();
    if (ack !== undefined) this.duplex.write([ack]);
  }

  /**
   * The ack for what was read since the last one, as a frame the caller sends on this process's
   * own link to the same peer, with its data: one write, one wakeup, instead of two.
   */
  takeAck(): Buffer | undefined {
    if (this.state !== InboundState.Open || this.readUpTo === this.ackedUpTo) return undefined;
    this.ackedUpTo = this.readUpTo;
    return countFrame(FrameType.DirectAck, this.readUpTo);
  }

  /**
   * The link that carried this one's last acks closed: they may be lost with it, so the next
   * flush sends the ack again, here (acks are cumulative; a repeat is harmless).
   */
  reAck(): boolean {
    if (this.state !== InboundState.Open || this.readUpTo === 0) return false;
    this.ackedUpTo = 0;
    return true;
  }

  /**
   * Reads nothing more: tells the sender what was read, so it sends the rest through the hub,
   * and closes. Used when this process retires or closes.
   */
  bye(): void {
    if (this.state === InboundState.Closed) return;
    const wasOpen = this.state === InboundState.Open;
    this.state = InboundState.Closed;
    clearTimeout(this.timer);
    if (wasOpen) this.duplex.write([countFrame(FrameType.DirectBye, this.readUpTo)]);
    this.duplex.end();
  }

  /** Drops the link at once (its sender left). */
  destroy(): void {
    this.state = InboundState.Closed;
    this.duplex.destroy();
  }

  protected receive(frames: Buffer[]): void {
    if (this.state === InboundState.Open) {
      this.data(frames);
      return;
    }
    if (this.state !== InboundState.Greeting) return;
    const first = frames[0]!;
    if (first[OFF_TYPE] !== FrameType.DirectJoin) {
      this.duplex.destroy();
      return;
    }
    const join = this.readHandshake<DirectJoin>(first);
    if (join === undefined) return;
    if (!Number.isInteger(join.id) || join.id < 1 || typeof join.nonce !== 'string') {
      this.duplex.destroy();
      return;
    }
    this.id = join.id;
    this.incarnation = join.incarnation >>> 0;
    this.state = InboundState.Vetting;
    // The sender learned this process from the hub; this process may learn of the sender a
    // moment later, from the same hub. Its proof can only be checked then. An honest sender
    // writes no data before the Welcome.
    const vet = () => {
      if (this.state !== InboundState.Vetting) return;
      const secret = this.owner.secretWith(this.id, this.incarnation);
      if (secret === undefined) {
        setTimeout(vet, VETTING_CHECK_MS).unref();
        return;
      }
      const self = this.owner.self();
      const sender = [this.id, this.incarnation] as const;
      if (!proofsMatch(directProof(secret, 'join', this.nonce, sender, self), join.proof)) {
        this.duplex.destroy();
        return;
      }
      clearTimeout(this.timer);
      this.state = InboundState.Open;
      this.duplex.setMaxFrameBytes(this.maxFrameBytes);
      const proof = directProof(secret, 'welcome', join.nonce, self, sender);
      this.duplex.write([jsonFrame(FrameType.DirectWelcome, { proof })]);
    };
    vet();
  }

  private data(frames: Buffer[]): void {
    let data = frames;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const type = frame[OFF_TYPE]!;
      if (type === FrameType.DirectAck) {
        // Acks for this process's own link to the sender ride here: take them out.
        if (data === frames) data = frames.slice(0, i);
        this.owner.acked(this, readCount(frame));
        continue;
      }
      // Otherwise a sender writes only data here, and only its own: anything else ends the link.
      if (!isDataType(type) || frame.readUInt32LE(OFF_INC) !== this.incarnation) {
        this.duplex.destroy();
        if (data === frames) data = frames.slice(0, i);
        if (data.length > 0) this.deliver(data);
        return;
      }
      frame.writeUInt16LE(this.id, OFF_SENDER);
      if (data !== frames) data.push(frame);
    }
    if (data.length > 0) this.deliver(data);
  }

  private deliver(frames: Buffer[]): void {
    this.readUpTo = readSeq(frames[frames.length - 1]!);
    this.owner.frames(this, frames);
    this.owner.needsAck(this);
  }

  protected finish(): void {
    clearTimeout(this.timer);
    this.state = InboundState.Closed;
    this.owner.closed(this);
  }
}
