import { randomInt } from 'node:crypto';
import type { FrameDuplex } from '../io/frame-duplex.js';
import type { Log } from '../logger.js';
import {
  BRIDGE_ID,
  FrameType,
  OFF_INC,
  OFF_SEQ_HI,
  OFF_SEQ_LO,
  OFF_TYPE,
  countFrame,
  forEachInRanges,
  isDataType,
  jsonFrame,
  readJson,
} from '../wire/frame.js';
import {
  type Fault,
  type HubHello,
  type JoinRequest,
  type Nack,
  type Reject,
  type Welcome,
  newNonce,
} from '../wire/handshake.js';

/** The states of the bridge's connection to its hub. */
export enum BridgeLinkState {
  Idle = 'idle',
  /** Waiting for the HubHello, then the Welcome. */
  Joining = 'joining',
  Joined = 'joined',
  Closed = 'closed',
}

/** What the link reports to the bridge. */
export interface BridgeLinkEvents {
  joined(welcome: Welcome): void;
  /** A data frame for the bridge; `index` counts them from 1 (what a Receipt counts). */
  data(frame: Buffer, index: number): void;
  /** A notice about this host's members (PeerJoin, PeerLeave, PeerMeta, PeerRetire). */
  notice(type: FrameType, frame: Buffer): void;
  /** One of the bridge's own frames was delivered (`nack` undefined) or given up on. */
  settled(seq: number, nack: string | undefined): void;
  /** The connection is gone (the hub closed, or refused the bridge). */
  closed(): void;
}

const SEQ_TWO_32 = 0x1_0000_0000;

/**
 * The bridge's side of its hub connection: a small peer speaking the ordinary protocol. It joins
 * with BRIDGE_ID, numbers its own data frames, receipts what it was sent (when the bridge says it
 * is done with it), and turns Ack/Nack into `settled` per frame.
 */
export class BridgeLink {
  state = BridgeLinkState.Idle;
  private readonly incarnation = randomInt(1, 0xffff_ffff);
  private seq = 0;
  private received = 0;
  private receiptDue = 0;
  private receiptSent = 0;
  private out: Buffer[] = [];
  private flushScheduled = false;
  /** Frames the hub sent before start() (its HubHello comes as soon as it is attached). */
  private early: Buffer[] | undefined = [];

  /**
   * Takes over the connection's handlers at once: the hub greets a connection as soon as it is
   * attached, and what it sends before start() is kept for it.
   */
  constructor(
    private readonly duplex: FrameDuplex,
    private readonly maxFrameBytes: number,
    private readonly log: Log,
    private readonly events: BridgeLinkEvents,
  ) {
    duplex.onFrames = (frames) => {
      if (this.early !== undefined) this.early.push(...frames);
      else this.receive(frames);
    };
    duplex.onClose = () => this.gone();
    duplex.onFault = (e) => {
      this.log.warn(`federation bridge: its hub connection failed: ${e.message}`);
      duplex.destroy();
    };
  }

  /** Joins the hub (answering its HubHello, now or when it comes). */
  start(): void {
    if (this.state !== BridgeLinkState.Idle) return;
    this.state = BridgeLinkState.Joining;
    const early = this.early!;
    this.early = undefined;
    if (early.length > 0) this.receive(early);
  }

  /** Numbers a data frame (its seq and incarnation) and queues it for the hub; returns its seq. */
  send(frame: Buffer): number {
    const seq = ++this.seq;
    frame.writeUInt32LE(this.incarnation, OFF_INC);
    frame.writeUInt32LE(Math.floor(seq / SEQ_TWO_32), OFF_SEQ_HI);
    frame.writeUInt32LE(seq >>> 0, OFF_SEQ_LO);
    this.out.push(frame);
    this.scheduleFlush();
    return seq;
  }

  /** The bridge is done with the first `count` data frames it was sent: receipt them. */
  receipt(count: number): void {
    if (count <= this.receiptDue) return;
    this.receiptDue = count;
    this.scheduleFlush();
  }

  /** Closes the connection (the hub hears it as lost; what was not receipted is held again). */
  close(): void {
    if (this.state === BridgeLinkState.Closed) return;
    this.flush();
    this.state = BridgeLinkState.Closed;
    this.duplex.end();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.state !== BridgeLinkState.Joined) return;
    let frames = this.out;
    this.out = [];
    if (this.receiptDue > this.receiptSent) {
      this.receiptSent = this.receiptDue;
      frames = [countFrame(FrameType.Receipt, this.receiptDue), ...frames];
    }
    if (frames.length > 0) this.duplex.write(frames);
  }

  private receive(frames: Buffer[]): void {
    for (const frame of frames) {
      if (this.state === BridgeLinkState.Closed) return;
      const type = frame[OFF_TYPE]!;
      if (isDataType(type)) {
        this.events.data(frame, ++this.received);
        continue;
      }
      try {
        this.control(type, frame);
      } catch (e) {
        this.log.warn(
          `federation bridge: unreadable ${FrameType[type]} from its hub: ${String(e)}`,
        );
      }
    }
  }

  private control(type: number, frame: Buffer): void {
    switch (type) {
      case FrameType.HubHello:
        this.join(readJson<HubHello>(frame));
        break;
      case FrameType.Welcome:
        this.state = BridgeLinkState.Joined;
        this.events.joined(readJson<Welcome>(frame));
        this.flush();
        break;
      case FrameType.Reject:
        this.log.error(`federation bridge: its hub refused it: ${readJson<Reject>(frame).message}`);
        this.duplex.destroy();
        break;
      case FrameType.Fault:
        this.log.error(`federation bridge: its hub closed it: ${readJson<Fault>(frame).message}`);
        break;
      case FrameType.Ack:
        forEachInRanges(frame, (seq) => this.events.settled(seq, undefined));
        break;
      case FrameType.Nack: {
        const nack = readJson<Nack>(frame);
        for (const seq of nack.seqs) this.events.settled(seq, nack.reason);
        break;
      }
      case FrameType.PeerJoin:
      case FrameType.PeerLeave:
      case FrameType.PeerMeta:
      case FrameType.PeerRetire:
        this.events.notice(type, frame);
        break;
      default:
      // Held, Unconfirmed, Epoch, Handover, Bye: nothing for the bridge to do.
    }
  }

  private join(hello: HubHello): void {
    const request: JoinRequest = {
      protocol: hello.protocol,
      name: hello.name,
      codec: hello.codec,
      incarnation: this.incarnation,
      pid: process.pid,
      claim: BRIDGE_ID,
      kind: 'explicit',
      meta: null,
      maxFrameBytes: this.maxFrameBytes,
      nonce: newNonce(),
    };
    this.duplex.write([jsonFrame(FrameType.Join, request)]);
  }

  private gone(): void {
    this.early = undefined;
    this.state = BridgeLinkState.Closed;
    this.events.closed();
  }
}
