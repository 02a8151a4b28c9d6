import { type IpcChannelError, MalformedFrameError } from '../errors.js';
import type { Log } from '../logger.js';
import {
  BRIDGE_ID,
  FrameFlag,
  FrameType,
  MAX_PEER_ID,
  OFF_FLAGS,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  TARGET_ALL,
  TARGET_OTHERS,
  readSeq,
  readTarget,
} from '../wire/frame.js';
import type { ConsumedMarks } from '../wire/handshake.js';
import { DeliveryRecord } from './delivery-record.js';
import { HoldQueues } from './hold-queues.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';
import type { ExpectedPeer, IdAllocator } from './id-allocator.js';
import type { OutputBatcher } from './output-batcher.js';
import type { Roster } from './roster.js';

export interface RouterOptions {
  readonly output: OutputBatcher;
  readonly roster: Roster;
  readonly ids: IdAllocator;
  readonly graceMs: number;
  readonly maxHeldBytes: number;
  /**
   * How long a process that connected to take an id waits for it (see IdAllocator): held
   * frames for the id are kept that much past graceMs while it waits.
   */
  readonly preferredIdWaitMs?: number;
  readonly log: Log;
  /** Closes a connection for what it sent (a data frame with an impossible target). */
  readonly fault: (conn: HubConnection, error: IpcChannelError) => void;
}

/**
 * Routes data frames by their header and keeps each one's delivery record until every target
 * has read it: the sender is then acked, or nacked if a target never will. Frames for an id
 * that nobody holds (a restarting process, a survivor reconnecting, a retired peer's successor)
 * are held for it, up to graceMs.
 */
export class Router {
  private readonly output: OutputBatcher;
  private readonly joined: readonly HubConnection[];
  private readonly roster: Roster;
  private readonly holders: ReadonlyMap<number, HubConnection>;
  private readonly reservations: ReadonlyMap<number, ExpectedPeer>;
  private readonly ids: IdAllocator;
  private readonly holds: HoldQueues;
  /**
   * Ids whose holder retired and is gone, until a successor takes the id or graceMs pass
   * (a PM2 reload): broadcasts are held for the successor, as unicasts are.
   */
  private readonly awaitingSuccessor = new Map<number, number>();
  /** Retired processes' consumed marks, by id, until graceMs after they left. */
  private readonly retiredMarks = new Map<number, { marks: ConsumedMarks; until: number }>();
  /**
   * This hub has (or is about to have) a bridge to other hosts: while none is joined, broadcasts
   * are held for it, as frames addressed to it are.
   */
  bridged = false;

  constructor(private readonly options: RouterOptions) {
    this.output = options.output;
    this.joined = options.roster.joined;
    this.roster = options.roster;
    this.holders = options.ids.holders;
    this.reservations = options.ids.reservations;
    this.ids = options.ids;
    this.holds = new HoldQueues({
      graceMs: options.graceMs,
      maxBytes: options.maxHeldBytes,
      onExpire: (record) => this.expire(record),
      successorStarting: (id) => this.ids.isWanted(id),
      startingMs: options.preferredIdWaitMs ?? 0,
    });
  }

  route(from: HubConnection, frame: Buffer): void {
    // Both halves of the sender's identity come from its Join, never from the frame: receivers
    // dedup by incarnation, so a forged one could make them drop another peer's frames.
    frame.writeUInt16LE(from.id, OFF_SENDER);
    frame.writeUInt32LE(from.incarnation, OFF_INC);
    const target = readTarget(frame);
    const seq = readSeq(frame);
    if (target === TARGET_ALL || target === TARGET_OTHERS) {
      if (frame[OFF_TYPE] === FrameType.Federated && !from.bridge) {
        this.options.fault(from, new MalformedFrameError('a broadcast Federated frame'));
        return;
      }
      const record = new DeliveryRecord(from, seq, frame, 0, false);
      const joined = this.joined;
      for (let i = 0; i < joined.length; i++) {
        const conn = joined[i]!;
        if (target === TARGET_OTHERS && conn === from) continue;
        if (conn.retiring) {
          // Shutting down: whoever takes the id next gets it, unless this process read it
          // before a failover (a sender's resend).
          if (conn.hasConsumed(frame) || !this.holdsForSuccessor(conn.id, from)) continue;
          record.remaining++;
          this.holdOrGiveUp(conn.id, record, false);
          continue;
        }
        record.remaining++;
        this.deliver(conn, record);
      }
      for (const id of this.reservations.keys()) {
        if (this.holders.has(id)) continue;
        record.remaining++;
        this.holdOrGiveUp(id, record, false);
      }
      if (this.awaitingSuccessor.size > 0) this.holdForSuccessors(record, target === TARGET_OTHERS);
      // Other hosts get it through the bridge, unless it is for this host only or came from them.
      const bridge = this.roster.bridge;
      if (!from.bridge && (frame[OFF_FLAGS]! & FrameFlag.HostOnly) === 0) {
        if (bridge !== undefined) {
          record.remaining++;
          this.deliver(bridge, record);
        } else if (this.bridged) {
          // A bridge is coming (a new hub starts it once its own peer joined): it gets it then.
          record.remaining++;
          this.holdOrGiveUp(BRIDGE_ID, record, false);
        }
      }
      this.settle(record);
      return;
    }
    if (!this.validTarget(from, frame, target)) {
      this.options.fault(from, new MalformedFrameError(`invalid target ${target}`));
      return;
    }
    // The bridge is absent only while a new hub starts it: frames for other hosts wait for it.
    const noHold = (frame[OFF_FLAGS]! & FrameFlag.NoHold) !== 0 && target !== BRIDGE_ID;
    const record = new DeliveryRecord(from, seq, frame, target, noHold);
    const conn = this.holders.get(target);
    if (conn !== undefined && (!conn.retiring || record.forProcess())) this.deliver(conn, record);
    else if (conn !== undefined && conn.hasConsumed(frame)) this.settle(record);
    else if (noHold && conn !== undefined) this.giveUp(record, 'peer-retiring');
    else if (noHold && !this.reservations.has(target)) this.giveUp(record, 'peer-absent');
    // Absent, or shutting down: the next process to hold the id gets it.
    else this.holdOrGiveUp(target, record, false);
  }

  /**
   * A unicast target is a peer id, or the bridge: only frames for other hosts (Federated) go to
   * it, and only the bridge sends Federated frames anywhere else (to this host's peers).
   */
  private validTarget(from: HubConnection, frame: Buffer, target: number): boolean {
    if (target === BRIDGE_ID) return !from.bridge && frame[OFF_TYPE] === FrameType.Federated;
    if (target === 0 || target > MAX_PEER_ID) return false;
    return from.bridge || frame[OFF_TYPE] !== FrameType.Federated;
  }

  /** `conn` read `count` data frames in all: those of its pending records settle. */
  receipt(conn: HubConnection, count: number): void {
    let n = count - conn.receipted;
    if (!(n > 0)) return;
    conn.receipted = count;
    conn.behind = false;
    for (; n > 0; n--) {
      const record = conn.pending.shift();
      if (record === undefined) break;
      this.settle(record);
    }
  }

  /**
   * `conn` was just granted its id: it gets what was held for the id, and for a retiring peer
   * what it had already read settles. Returns how many frames it was handed.
   */
  deliverHeld(conn: HubConnection): number {
    const id = conn.id;
    if (!conn.retiring) this.awaitingSuccessor.delete(id);
    // A retiring process rejoining after a failover gets only the answers to its own requests
    // that waited for it; the rest waits for its successor.
    const held = conn.retiring
      ? this.holds.remove(id, (r) => r.forProcess())
      : this.holds.release(id);
    for (const record of held) this.deliver(conn, record);
    // What a retiring peer already read (resent by senders after a failover) is delivered.
    if (conn.consumed !== undefined) {
      for (const record of this.holds.remove(id, (r) => conn.hasConsumed(r.frame)))
        this.settle(record);
    }
    return held.length;
  }

  /**
   * `conn` closed: what was written to it but never receipted goes back on hold, ahead of
   * anything held since, so the next holder of the id reads it in order. Its process may have
   * read some of it before it died, and only its senders outlive both: each is told which of its
   * frames those were, so that a later failure is reported as uncertain, never as "not
   * delivered". Returns how many there were.
   */
  requeueUnread(conn: HubConnection): number {
    const unread = conn.pending.takeAll();
    for (let i = unread.length - 1; i >= 0; i--) {
      const record = unread[i]!;
      if (record.target === 0) {
        // Broadcasts the bridge did not store wait for the next bridge of this hub.
        if (conn.bridge) this.holdOrGiveUp(BRIDGE_ID, record, true);
        else this.settle(record);
        continue;
      }
      this.noteUnconfirmed(record);
      if (record.noHold) this.giveUp(record, 'peer-left');
      else this.holdOrGiveUp(record.target, record, true);
    }
    return unread.length;
  }

  /**
   * A retired peer left: its id waits for its successor, broadcasts included, and for graceMs
   * every process that takes the id learns what it had consumed (see predecessorConsumed).
   */
  awaitSuccessor(id: number, consumed: ReadonlyMap<number, number> | undefined): void {
    const until = Date.now() + this.options.graceMs;
    this.awaitingSuccessor.set(id, until);
    for (const [other, marks] of this.retiredMarks) {
      if (marks.until <= Date.now()) this.retiredMarks.delete(other);
    }
    if (consumed !== undefined && consumed.size > 0) {
      this.retiredMarks.set(id, { marks: [...consumed], until });
    }
  }

  /**
   * What the id's last process had consumed when it retired, if it left less than graceMs ago.
   * A sender that rejoins after a failover writes again what the hub before had not acked; the
   * retired process read some of it, and its successor must drop those as copies.
   */
  predecessorConsumed(id: number): ConsumedMarks | undefined {
    const retired = this.retiredMarks.get(id);
    return retired !== undefined && retired.until > Date.now() ? retired.marks : undefined;
  }

  /**
   * The hub's own process started retiring: its broadcasts held for successors that are not
   * waiting yet are let go (see holdsForSuccessor). Messages to an absent id still wait.
   */
  releaseOwnBroadcasts(local: HubConnection): void {
    const mine = (r: DeliveryRecord) => r.target === 0 && r.from === local;
    for (const id of this.holds.targets()) {
      if (this.reservations.has(id) || this.holdsForSuccessor(id, local)) continue;
      for (const record of this.holds.remove(id, mine)) this.settle(record);
    }
  }

  /**
   * Nobody is expected under `id` any more: requests held for it (FrameFlag.NoHold) are
   * refused, while messages still wait their graceMs for whoever takes the id next.
   */
  refuseHeldRequests(id: number): void {
    for (const record of this.holds.remove(id, (r) => r.noHold)) this.giveUp(record, 'peer-absent');
  }

  /** Forgets what is held (the hub is closing; senders still hold their copies). */
  clear(): void {
    this.holds.clear();
  }

  /** Holds a broadcast for each id whose retired holder left and whose successor is not here yet. */
  private holdForSuccessors(record: DeliveryRecord, others: boolean): void {
    const now = Date.now();
    for (const [id, until] of this.awaitingSuccessor) {
      if (until <= now) {
        this.awaitingSuccessor.delete(id);
        continue;
      }
      if (this.holders.has(id) || this.reservations.has(id)) continue;
      if (others && id === record.from.id) continue;
      if (!this.holdsForSuccessor(id, record.from)) continue;
      record.remaining++;
      this.holdOrGiveUp(id, record, false);
    }
  }

  /**
   * Whether a broadcast from `from` waits for the successor of a retired id. Not when it comes
   * from the hub's own process while that retires, unless a successor already waits for the
   * id: what the hub holds goes with it, and holding it for a successor that may never come
   * (`pm2 scale` down) would hold the process's close up for graceMs, past PM2's kill_timeout,
   * turning a handover into a crash.
   */
  private holdsForSuccessor(id: number, from: HubConnection): boolean {
    return !(from.local && from.retiring) || this.ids.isWanted(id, from);
  }

  private deliver(conn: HubConnection, record: DeliveryRecord): void {
    if (record.frame.length > conn.maxFrameBytes) {
      // Its reader would fault on it and reconnect, to be handed the same frame again.
      if (record.target !== 0) {
        this.giveUp(record, 'frame-too-large');
      } else {
        this.options.log.warn(
          `hub: peer ${conn.id} did not get a ${record.frame.length}-byte broadcast from peer ${record.from.id}: it reads frames up to its maxFrameBytes (${conn.maxFrameBytes}). Give every process the same maxFrameBytes.`,
        );
        this.settle(record);
      }
      return;
    }
    conn.out.push(record.frame);
    conn.pending.push(record);
    this.output.markDirty(conn);
    if (conn.behind) this.noteHeld(record);
  }

  /** One target has the frame; when all have, the sender gets its ack. */
  private settle(record: DeliveryRecord): void {
    if (--record.remaining !== 0) return;
    const from = record.from;
    if (from.state === ConnectionState.Closed) return;
    from.acks.push(record.seq);
    this.output.markDirty(from);
  }

  /** The hub goes while `conn` has frames it has not confirmed: their senders are told. */
  noteUnconfirmedPending(conn: HubConnection): void {
    for (const record of conn.pending) if (record.target !== 0) this.noteUnconfirmed(record);
  }

  private noteUnconfirmed(record: DeliveryRecord): void {
    const from = record.from;
    if (from.state === ConnectionState.Closed) return;
    from.unconfirmed.push(record.seq);
    this.output.markDirty(from);
  }

  /** The frame will not reach its target: the sender is nacked with `reason`. */
  private giveUp(record: DeliveryRecord, reason: string): void {
    record.remaining = 0;
    const from = record.from;
    if (from.state === ConnectionState.Closed) return;
    from.addNack(reason, record.seq);
    this.output.markDirty(from);
  }

  private holdOrGiveUp(target: number, record: DeliveryRecord, front: boolean): void {
    const ok = front ? this.holds.holdFront(target, record) : this.holds.hold(target, record);
    if (!ok) {
      if (record.target !== 0) this.giveUp(record, 'hold-full');
      else this.settle(record);
      return;
    }
    this.noteHeld(record);
  }

  /**
   * The bridge stored nothing of what it was written for a heartbeat interval (the federation
   * store is slow or down): the senders of those frames, and of every frame written to it until
   * it stores one, are told the frames are held. They stay queued at their senders (counted in
   * pendingBytes, resent after a failover, acked once stored) but leave the senders' windows, so
   * a peer waiting on other hosts goes on sending to this one.
   */
  bridgeBehind(bridge: HubConnection): void {
    if (bridge.behind) return;
    bridge.behind = true;
    for (const record of bridge.pending) this.noteHeld(record);
  }

  /** Tells the sender once, so the frame stops counting against its window. */
  private noteHeld(record: DeliveryRecord): void {
    const from = record.from;
    if (record.heldNotified || from.state === ConnectionState.Closed) return;
    record.heldNotified = true;
    from.held.push(record.seq);
    this.output.markDirty(from);
  }

  /** A frame was held graceMs and nobody took its id. */
  private expire(record: DeliveryRecord): void {
    this.options.log.debug(`hub: a frame held for ${record.target || 'a broadcast'} expired`);
    if (record.target !== 0) this.giveUp(record, 'grace-expired');
    else this.settle(record);
  }
}
