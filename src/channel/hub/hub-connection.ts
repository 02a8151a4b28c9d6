import type { DirectAddress, PeerRecord } from '../wire/handshake.js';
import type { FrameDuplex } from '../io/frame-duplex.js';

/** The life of one peer's connection, as the hub sees it. */
export enum ConnectionState {
  /** HubHello sent; waiting for Join. */
  Greeting = 'greeting',
  /** Join accepted, but the preferred id is still held by its previous process. */
  Waiting = 'waiting',
  /** Has an id; sends and receives data. */
  Joined = 'joined',
  /** Sent Leave; reads what is still coming, receives nothing new. */
  Left = 'left',
  Closed = 'closed',
}

/**
 * One frame routed by the hub, from acceptance until every target read it. A broadcast shares
 * one record among its targets; the sender gets its ack when `remaining` reaches zero.
 */
export interface DeliveryRecord {
  readonly from: HubConnection;
  readonly seq: number;
  /** The frame bytes; replaced by a private copy when the frame must be held. */
  frame: Buffer;
  copied: boolean;
  /** The sender has been told the frame is held (it then leaves the sender's window). */
  heldNotified: boolean;
  remaining: number;
  /** Unicast target id, or 0 for a broadcast. */
  readonly target: number;
  readonly noHold: boolean;
}

/** The hub's state for one connection. */
export class HubConnection {
  state = ConnectionState.Greeting;
  id = 0;
  incarnation = 0;
  pid = 0;
  meta: unknown = null;
  direct: DirectAddress | undefined;
  /** The largest frame this peer reads (its maxFrameBytes; unbounded if it did not say). */
  maxFrameBytes = Infinity;
  /** Asked for nothing new (graceful close); frames for its id are held for its successor. */
  retiring = false;
  /** For a retiring peer that rejoined: the last sequence it consumed per sender incarnation. */
  consumed: Map<number, number> | undefined;
  /** The nonce this hub sent in its HubHello (for the secret's proof). */
  readonly nonce: string;
  /** Frames waiting for the next flush, in order. */
  out: Buffer[] = [];
  /** Data frames written to this peer and not yet receipted, in order, from `pendingHead`. */
  pending: DeliveryRecord[] = [];
  pendingHead = 0;
  /** Data frames this peer has confirmed reading, as a running count. */
  receipted = 0;
  /** Sequence numbers of this peer's frames now delivered everywhere (flushed as one Ack). */
  acks: number[] = [];
  /** Sequence numbers of this peer's frames the hub now holds for an absent target. */
  held: number[] = [];
  /** Sequence numbers given up on, by reason. */
  nacks: Map<string, number[]> | undefined;
  dirty = false;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly transport: FrameDuplex,
    readonly local: boolean,
    nonce: string,
  ) {
    this.nonce = nonce;
  }

  record(): PeerRecord {
    const record: PeerRecord = {
      id: this.id,
      incarnation: this.incarnation,
      pid: this.pid,
      meta: this.meta,
    };
    if (this.retiring) record.retiring = true;
    if (this.direct !== undefined) record.direct = this.direct;
    return record;
  }

  /** Passes the next `count` pending records to `fn` and forgets them. */
  shiftPending(count: number, fn: (record: DeliveryRecord) => void): void {
    const end = Math.min(this.pendingHead + count, this.pending.length);
    while (this.pendingHead < end) fn(this.pending[this.pendingHead++]!);
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  /** Every record not yet receipted (the connection is gone). */
  takeAllPending(): DeliveryRecord[] {
    const rest = this.pending.slice(this.pendingHead);
    this.pending = [];
    this.pendingHead = 0;
    return rest;
  }

  addNack(reason: string, seq: number): void {
    this.nacks ??= new Map();
    let list = this.nacks.get(reason);
    if (list === undefined) this.nacks.set(reason, (list = []));
    list.push(seq);
  }
}
