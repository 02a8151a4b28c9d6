import type { FrameDuplex } from '../io/frame-duplex.js';
import { Queue } from '../util/queue.js';
import { OFF_INC, readSeq } from '../wire/frame.js';
import type { DirectAddress, PeerRecord } from '../wire/handshake.js';
import type { DeliveryRecord } from './delivery-record.js';

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

/** The hub's state for one connection. */
export class HubConnection {
  state = ConnectionState.Greeting;
  id = 0;
  incarnation = 0;
  pid = 0;
  /** The PID namespace of `pid`, as the peer stated it (absent from older peers). */
  pidNs: string | undefined;
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
  /** The nonce the peer sent in its Join: the hub's Welcome proves the secret over it. */
  peerNonce = '';
  /** While Waiting: the id it waits for (its preferred id, held by another process). */
  wantedId = 0;
  /** Frames waiting for the next flush, in order. */
  out: Buffer[] = [];
  /** Data frames written to this peer and not yet receipted, in order. */
  readonly pending = new Queue<DeliveryRecord>();
  /** Data frames this peer has confirmed reading, as a running count. */
  receipted = 0;
  /** Sequence numbers of this peer's frames now delivered everywhere (flushed as one Ack). */
  acks: number[] = [];
  /** Sequence numbers of this peer's frames the hub now holds for an absent target. */
  held: number[] = [];
  /**
   * Sequence numbers of this peer's frames that reached a target whose connection then closed
   * unconfirmed (flushed as one Unconfirmed, before any Nack for them).
   */
  unconfirmed: number[] = [];
  /** Sequence numbers given up on, by reason. */
  nacks: Map<string, number[]> | undefined;
  dirty = false;
  // Liveness, looked at on each of the hub's heartbeat ticks (see HubLiveness).
  /** Something arrived from the peer since the last tick. */
  heard = false;
  /** Something was written to the peer since the last tick. */
  spoke = false;
  /** Since when nothing arrived from the peer (ms since the epoch). */
  silentSince = Date.now();
  /** The receipt count at the last tick. */
  receiptedAtTick = 0;
  /** The bridge: how many data frames it had been written by the last tick. */
  writtenAtTick = 0;
  /**
   * The bridge: the federation store is behind (what it was written a tick ago is not stored
   * yet). Until it stores something again, each frame written to it is reported held to its
   * sender, so cross-host frames waiting on the store leave the sender's window.
   */
  behind = false;
  /** Since when the peer has had frames pending and confirmed none of them. */
  stalledSince = this.silentSince;
  /** The handshake timeout, then (while Waiting) the wait for the preferred id. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly duplex: FrameDuplex,
    readonly local: boolean,
    nonce: string,
    /**
     * The bridge between hosts (Hub.attachBridge): it alone may join with BRIDGE_ID, lives in the
     * hub's own process, is no member (never announced) and hears of every member.
     */
    readonly bridge = false,
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
    if (this.pidNs !== undefined) record.pidNs = this.pidNs;
    if (this.retiring) record.retiring = true;
    if (this.direct !== undefined) record.direct = this.direct;
    return record;
  }

  /** Whether this retiring peer said it had already read `frame` (a sender's resend). */
  hasConsumed(frame: Buffer): boolean {
    const last = this.consumed?.get(frame.readUInt32LE(OFF_INC));
    return last !== undefined && readSeq(frame) <= last;
  }

  addNack(reason: string, seq: number): void {
    this.nacks ??= new Map();
    let list = this.nacks.get(reason);
    if (list === undefined) this.nacks.set(reason, (list = []));
    list.push(seq);
  }
}
