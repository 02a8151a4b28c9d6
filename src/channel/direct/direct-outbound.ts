import { connect } from 'node:net';
import {
  type DirectHello,
  type DirectWelcome,
  type PeerName,
  directProof,
  proofsMatch,
} from '../wire/handshake.js';
import { FrameType, OFF_TYPE, jsonFrame, readCount } from '../wire/frame.js';
import { Queue } from '../util/queue.js';
import { DirectLinkEnd } from './direct-link-end.js';
import type { RoutedFrame } from './direct-routes.js';

/** The states of a direct link, seen from the peer that sends on it. */
export enum OutboundState {
  Connecting = 'connecting',
  /** Connected; DirectHello / DirectJoin / DirectWelcome. */
  Handshaking = 'handshaking',
  /** Data may be written. */
  Open = 'open',
  /** The receiver said goodbye, or the connection is gone: nothing more is written. */
  Closed = 'closed',
}

/** What an outbound link needs from the process that owns it. */
export interface OutboundOwner {
  /** This process's id and incarnation. */
  readonly self: PeerName;
  /** The link opened: frames may take it from the next flush. */
  opened(link: OutboundLink): void;
  /** The receiver read these entries. */
  confirmed(entries: RoutedFrame[]): void;
  /**
   * The link is closed with these entries unconfirmed; `read`: whether the receiver may have
   * read them (false when it said goodbye, naming the last one it read).
   */
  closed(link: OutboundLink, unconfirmed: RoutedFrame[], mayHaveRead: boolean): void;
}

/**
 * The sending end of a direct link to one peer process (one incarnation of one id). It writes
 * the outbox entries routed to it and hands them back confirmed, or, when the link closes,
 * unconfirmed, for the hub to carry. A link that does not open in time leaves its frames to the
 * hub path.
 */
export class OutboundLink extends DirectLinkEnd {
  state = OutboundState.Connecting;
  /** Whether it ever opened (a link that never did carried nothing). */
  wasOpen = false;
  /** Entries written and not yet confirmed, in sequence order. */
  private readonly unconfirmed = new Queue<RoutedFrame>();
  /** Frames routed here since the last flush. */
  private batch: Buffer[] = [];
  private saidBye = false;
  /** Confirmations so far, and as the last stall check saw them (see stalledFor). */
  private confirmations = 0;
  private confirmationsAtCheck = 0;
  private stalledSince = Date.now();

  /**
   * `secret`: what this process and the peer alone can derive (from each one's key pair and the
   * other's public key, announced through the hub).
   */
  constructor(
    readonly peer: number,
    readonly incarnation: number,
    path: string,
    private readonly secret: Buffer,
    private readonly owner: OutboundOwner,
  ) {
    const socket = connect({ path });
    super(socket);
    socket.once('connect', () => {
      if (this.state === OutboundState.Connecting) this.state = OutboundState.Handshaking;
    });
  }

  private get receiver(): PeerName {
    return [this.peer, this.incarnation];
  }

  /** Whether entries were routed here since the last flush. */
  get hasBatch(): boolean {
    return this.batch.length > 0;
  }

  /** Routes an entry here; it is written at the next flush. */
  send(entry: RoutedFrame): void {
    this.unconfirmed.push(entry);
    this.batch.push(entry.frame);
  }

  /** Adds an ack for the peer's own link to this process to the frames about to go. */
  addAck(ack: Buffer): void {
    this.batch.push(ack);
  }

  /** The peer read this process's frames up to `seq` (an ack that rode with its data). */
  acked(seq: number): void {
    if (this.state === OutboundState.Open) this.confirmUpTo(seq);
  }

  flush(): void {
    if (this.batch.length === 0) return;
    const frames = this.batch;
    this.batch = [];
    this.duplex.write(frames);
  }

  /** Closes after what was written (the sender is leaving; everything is confirmed by now). */
  end(): void {
    this.duplex.end();
  }

  /** Drops the link now (its peer left); what is unconfirmed goes through the hub. */
  destroy(): void {
    this.duplex.destroy();
  }

  protected receive(frames: Buffer[]): void {
    for (const frame of frames) {
      if (this.state === OutboundState.Closed) return;
      switch (frame[OFF_TYPE]) {
        case FrameType.DirectAck:
          this.confirmUpTo(readCount(frame));
          break;
        case FrameType.DirectBye:
          // Read up to there and nothing after: the rest is safe to send through the hub.
          this.confirmUpTo(readCount(frame));
          this.saidBye = true;
          this.duplex.destroy();
          return;
        case FrameType.DirectHello:
          this.join(frame);
          break;
        case FrameType.DirectWelcome:
          this.welcome(frame);
          break;
        default:
          this.duplex.destroy();
          return;
      }
    }
  }

  private join(frame: Buffer): void {
    const hello = this.readHandshake<DirectHello>(frame);
    if (hello === undefined) return;
    if (this.state === OutboundState.Open || typeof hello.nonce !== 'string') {
      this.duplex.destroy();
      return;
    }
    const [id, incarnation] = this.owner.self;
    const proof = directProof(this.secret, 'join', hello.nonce, this.owner.self, this.receiver);
    this.duplex.write([
      jsonFrame(FrameType.DirectJoin, { id, incarnation, nonce: this.nonce, proof }),
    ]);
  }

  private welcome(frame: Buffer): void {
    const welcome = this.readHandshake<DirectWelcome>(frame);
    if (welcome === undefined) return;
    // Only the peer that announced the key can answer: whoever else listens at that address
    // (after the peer died, say) gets no data.
    const expected = directProof(
      this.secret,
      'welcome',
      this.nonce,
      this.receiver,
      this.owner.self,
    );
    if (this.state === OutboundState.Open || !proofsMatch(expected, welcome.proof)) {
      this.duplex.destroy();
      return;
    }
    clearTimeout(this.timer);
    this.state = OutboundState.Open;
    this.wasOpen = true;
    this.owner.opened(this);
  }

  /**
   * For how long the receiver has had frames unconfirmed and confirmed none (0 if it has not).
   * Called once per heartbeat tick; `resumed`: this process itself was not running.
   */
  stalledFor(now: number, resumed: boolean): number {
    if (
      this.unconfirmed.length === 0 ||
      this.confirmations !== this.confirmationsAtCheck ||
      resumed
    ) {
      this.confirmationsAtCheck = this.confirmations;
      this.stalledSince = now;
      return 0;
    }
    return now - this.stalledSince;
  }

  private confirmUpTo(seq: number): void {
    const queue = this.unconfirmed;
    let count = 0;
    while (count < queue.length && queue.at(count)!.seq <= seq) count++;
    if (count === 0) return;
    this.confirmations++;
    this.owner.confirmed(queue.take(count));
  }

  protected finish(): void {
    clearTimeout(this.timer);
    this.state = OutboundState.Closed;
    const rest = this.unconfirmed.takeAll();
    this.batch = [];
    this.owner.closed(this, rest, !this.saidBye);
  }
}
