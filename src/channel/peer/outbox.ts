import type { DirectRoutes, RoutedFrame } from '../direct/direct-routes.js';
import { MAX_PEER_ID, readTarget } from '../wire/frame.js';
import { Queue } from '../util/queue.js';
import { Confirmations } from './confirmations.js';
import { PathCounts } from './path-counts.js';

/** Where an accepted frame stands. */
const enum EntryState {
  /** Accepted, not yet written to the current hub. */
  Queued = 0,
  /** Written to the hub; counts against the window until acked. */
  Sent = 1,
  /** The hub holds it for an absent target; out of the window, still resent after a failover. */
  Held = 2,
  /** Acked or nacked while still in the send queue; skipped when the queue reaches it. */
  Settled = 3,
}

/** `OutboxEntry.via` of an entry not written anywhere yet. */
const NOT_ROUTED = -1;
/** `OutboxEntry.via` of an entry written to the hub. */
const VIA_HUB = 0;

/** One accepted frame. The frame buffer is kept until the hub (or its target) confirms it. */
export interface OutboxEntry extends RoutedFrame {
  state: EntryState;
  /**
   * Its target may have read it: it was written to a hub or a direct link that went away since,
   * or the hub said its target's connection closed before confirming it (Unconfirmed). A
   * failure is then reported as uncertain (DeliveryUncertainError), never as "not delivered".
   */
  mayHaveBeenRead: boolean;
  /** Where it was written: NOT_ROUTED, VIA_HUB, or the peer id of the direct link that took it. */
  via: number;
}

/** A frame that will not be confirmed, and whether its target may have read it. */
export interface FailedFrame {
  readonly frame: Buffer;
  readonly mayHaveBeenRead: boolean;
}

const RELEASED = Buffer.alloc(0);

/** Per-entry bookkeeping beyond the frame bytes, so the byte limits also bound entry count. */
const ENTRY_OVERHEAD = 96;

/**
 * Every frame this process sends, from acceptance until the hub confirms it reached every
 * target (ack) or gives up (nack). Frames go out in sequence order, at most a window at a time;
 * after a failover every unconfirmed frame is written again, in order, before anything new, and
 * receivers drop the copies they already have.
 */
export class Outbox {
  /**
   * Accepted entries in sequence order, from `first`. Settled ones stay (with their frame
   * released) until they reach the front or `compact` drops them. Every ack looks an entry up by
   * its sequence, so this is an array indexed directly: a Map would cost a set and a delete per
   * message, and a Queue's bounds checks on every lookup.
   */
  private slots: OutboxEntry[] = [];
  private first = 0;
  /** Settled entries still in `slots` after `first`. */
  private dead = 0;
  /** Unconfirmed entries. */
  private live = 0;
  /** Entries not yet written to the current hub, in order. */
  private readonly queue = new Queue<OutboxEntry>();
  private inflightFrames = 0;
  private inflightBytes = 0;
  /** Bytes of all unconfirmed entries (queued, sent and held). */
  private pending = 0;
  /** Entries the hub has not taken custody of yet (queued or sent, not held). */
  private unheld = 0;
  private lastSeq = 0;
  /** Entries written and not yet confirmed, per path and target. */
  private readonly paths = new PathCounts();
  /** Who waits for a verdict (told of each confirmation only while someone does). */
  readonly confirmations = new Confirmations();

  constructor(
    private readonly windowFrames: number,
    private readonly windowBytes: number,
  ) {}

  /** The sequence number the next accepted frame gets. */
  nextSeq(): number {
    return this.lastSeq + 1;
  }

  /** The sequence number of the last accepted frame. */
  get last(): number {
    return this.lastSeq;
  }

  /** The sequence number of the oldest unconfirmed frame (the next one's when there is none). */
  get oldest(): number {
    return this.live === 0 ? this.lastSeq + 1 : this.slots[this.first]!.seq;
  }

  /** Whether the frame with this sequence is still waiting for the hub's ack or nack. */
  has(seq: number): boolean {
    return this.find(seq) !== undefined;
  }

  get pendingBytes(): number {
    return this.pending;
  }

  get size(): number {
    return this.live;
  }

  /** Unconfirmed entries that the hub is not holding: they are still this process's to deliver. */
  get unheldCount(): number {
    return this.unheld;
  }

  /** Entries accepted and not yet written (an upper bound: a few may have settled meanwhile). */
  get queuedCount(): number {
    return this.queue.length;
  }

  get hasSendable(): boolean {
    return this.queue.length > 0 && this.windowOpen();
  }

  /** Unconfirmed entries written to direct links. */
  get directSize(): number {
    return this.paths.direct;
  }

  add(seq: number, frame: Buffer, target = frame.length >= 8 ? readTarget(frame) : 0): void {
    this.lastSeq = seq;
    const entry: OutboxEntry = {
      seq,
      target,
      frame,
      state: EntryState.Queued,
      mayHaveBeenRead: false,
      via: NOT_ROUTED,
    };
    this.slots.push(entry);
    this.live++;
    this.queue.push(entry);
    this.pending += frame.length + ENTRY_OVERHEAD;
    this.unheld++;
  }

  /**
   * Takes the frames that fit in the window, marking them sent, and returns those for the hub.
   * With `direct`, a unicast goes over its target's direct link when one is open and nothing
   * for that target is on the hub path; a frame for the hub whose receivers still have direct
   * frames unconfirmed waits (and everything after it) until they are. Without `hubOpen` (the
   * hub is being replaced), only frames for direct links go, up to the first one for the hub.
   */
  takeSendable(direct?: DirectRoutes, hubOpen = true): Buffer[] {
    const out: Buffer[] = [];
    const queue = this.queue;
    let entry: OutboxEntry | undefined;
    while ((entry = queue.peek()) !== undefined && this.windowOpen()) {
      if (entry.state !== EntryState.Queued) {
        queue.shift();
        continue;
      }
      if (direct !== undefined) {
        const t = entry.target;
        const unicast = t >= 1 && t <= MAX_PEER_ID;
        if (unicast && this.paths.directAllowed(t) && direct.canSend(t)) {
          queue.shift();
          this.markSent(entry, t);
          direct.send(t, entry);
          continue;
        }
        if (!hubOpen || this.paths.hubBlocked(t, unicast)) break;
      }
      queue.shift();
      this.markSent(entry, VIA_HUB);
      out.push(entry.frame);
    }
    return out;
  }

  /** The hub confirmed delivery; returns whether the entry was still unconfirmed. */
  ack(seq: number): boolean {
    const entry = this.onHubPath(seq);
    return entry !== undefined && this.confirm(entry);
  }

  /** The target of a direct link confirmed reading this entry. */
  confirm(entry: OutboxEntry): boolean {
    if (entry.state === EntryState.Settled) return false;
    this.settleEntry(entry);
    entry.frame = RELEASED; // a settled entry may linger in `slots`: it must not pin a slab
    if (this.confirmations.active) this.confirmations.confirmed(entry.seq);
    return true;
  }

  /**
   * A direct link closed with these entries unconfirmed: they go to the hub instead, in sequence
   * order, before anything later for their target. `mayHaveRead`: the link broke, so its target
   * may have read some of them (a link that said goodbye names what it read, and these it did not).
   */
  unroute(entries: readonly OutboxEntry[], mayHaveRead: boolean): void {
    let moved = 0;
    for (const entry of entries) {
      if (entry.state !== EntryState.Sent || entry.via <= VIA_HUB) continue;
      this.unmark(entry);
      entry.state = EntryState.Queued;
      entry.via = NOT_ROUTED;
      if (mayHaveRead) entry.mayHaveBeenRead = true;
      moved++;
    }
    if (moved === 0) return;
    this.compact();
    this.queue.clear();
    for (const e of this.slots) if (e.state === EntryState.Queued) this.queue.push(e);
  }

  /**
   * The hub gave up on this frame; returns its bytes for the failure report, and whether its
   * target may have read it (see OutboxEntry.mayHaveBeenRead).
   */
  nack(seq: number): FailedFrame | undefined {
    const entry = this.onHubPath(seq);
    if (entry === undefined) return undefined;
    this.settleEntry(entry);
    const frame = entry.frame;
    entry.frame = RELEASED;
    return { frame, mayHaveBeenRead: entry.mayHaveBeenRead };
  }

  /** The hub wrote this frame to a target whose connection then closed unconfirmed. */
  unconfirmed(seq: number): void {
    const entry = this.onHubPath(seq);
    if (entry !== undefined) entry.mayHaveBeenRead = true;
  }

  /** The hub holds the frame for an absent peer: free its window slot. */
  held(seq: number): void {
    const entry = this.onHubPath(seq);
    if (entry === undefined || entry.state !== EntryState.Sent) return;
    entry.state = EntryState.Held;
    this.unheld--;
    this.inflightFrames--;
    this.inflightBytes -= entry.frame.length;
    // It may wait seconds for its peer: give it its own memory instead of pinning a slab.
    entry.frame = Buffer.from(entry.frame);
  }

  /**
   * The hub connection is gone: everything unconfirmed is to be written again, in order.
   * `hubDied`: it went without a handover, so what it had may have reached its target unacked.
   * (A hub that hands over first collects its peers' last receipts, and tells each sender which
   * of its frames went to a peer that did not confirm them: see Unconfirmed.)
   */
  rewind(hubDied: boolean): void {
    this.compact();
    this.queue.clear();
    this.inflightFrames = 0;
    this.inflightBytes = 0;
    this.paths.clearHub();
    for (const entry of this.slots) {
      // Frames on direct links never reached the hub; their links confirm them.
      if (entry.via > VIA_HUB) {
        this.inflightFrames++;
        this.inflightBytes += entry.frame.length;
        continue;
      }
      if (hubDied && entry.state !== EntryState.Queued) entry.mayHaveBeenRead = true;
      entry.state = EntryState.Queued;
      entry.via = NOT_ROUTED;
      this.queue.push(entry);
    }
    this.unheld = this.slots.length;
  }

  /**
   * Removes every unconfirmed entry (the channel is closing for good) and returns the frames
   * that were not delivered: all of them, or only those the hub was not holding. One written
   * and not yet confirmed may have been read.
   */
  takeAll(includeHeld: boolean): FailedFrame[] {
    const frames: FailedFrame[] = [];
    for (let i = this.first; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e.state === EntryState.Settled) continue;
      if (includeHeld || e.state !== EntryState.Held) {
        const mayHaveBeenRead = e.mayHaveBeenRead || e.state === EntryState.Sent;
        frames.push({ frame: e.frame, mayHaveBeenRead });
      }
    }
    this.slots = [];
    this.first = this.dead = this.live = 0;
    this.queue.clear();
    this.inflightFrames = this.inflightBytes = this.pending = this.unheld = 0;
    this.paths.clear();
    return frames;
  }

  /**
   * The unconfirmed entry with this sequence, unless a direct link carries it: the hub's acks,
   * nacks and holds concern only what it was given (or may still be given).
   */
  private onHubPath(seq: number): OutboxEntry | undefined {
    const entry = this.find(seq);
    return entry === undefined || entry.via > VIA_HUB ? undefined : entry;
  }

  /** The unconfirmed entry with this sequence, if any. */
  private find(seq: number): OutboxEntry | undefined {
    const slots = this.slots;
    if (this.first >= slots.length) return undefined;
    // Sequences are consecutive until settled entries are compacted away: guess, then search.
    let i = this.first + seq - slots[this.first]!.seq;
    if (slots[i]?.seq !== seq) {
      let lo = this.first;
      let hi = slots.length - 1;
      i = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const at = slots[mid]!.seq;
        if (at === seq) {
          i = mid;
          break;
        }
        if (at < seq) lo = mid + 1;
        else hi = mid - 1;
      }
      if (i < 0) return undefined;
    }
    const entry = slots[i]!;
    return entry.state === EntryState.Settled ? undefined : entry;
  }

  private markSent(entry: OutboxEntry, via: number): void {
    entry.state = EntryState.Sent;
    entry.via = via;
    this.inflightFrames++;
    this.inflightBytes += entry.frame.length;
    this.paths.add(entry.target, via !== VIA_HUB);
  }

  /** Undoes markSent's path counts (the entry settles, or goes back to the queue). */
  private unmark(entry: OutboxEntry): void {
    if (entry.state === EntryState.Sent) {
      this.inflightFrames--;
      this.inflightBytes -= entry.frame.length;
    }
    if (entry.via !== NOT_ROUTED) this.paths.remove(entry.target, entry.via !== VIA_HUB);
  }

  private settleEntry(entry: OutboxEntry): void {
    this.unmark(entry);
    if (entry.state !== EntryState.Held) this.unheld--;
    entry.state = EntryState.Settled;
    entry.via = NOT_ROUTED;
    this.pending -= entry.frame.length + ENTRY_OVERHEAD;
    this.live--;
    this.dead++;
    const slots = this.slots;
    while (this.first < slots.length && slots[this.first]!.state === EntryState.Settled) {
      this.first++;
      this.dead--;
    }
    if (this.first === slots.length) {
      this.slots = [];
      this.first = this.dead = 0;
    } else if (this.dead > 1024 && this.dead * 2 > slots.length - this.first) {
      // An old entry still waits (a slow reader, a held frame) while later ones settle.
      this.compact();
    } else if (this.first > 4096 && this.first * 2 > slots.length) {
      this.slots = slots.slice(this.first);
      this.first = 0;
    }
  }

  /** Keeps only the unconfirmed entries, in order. */
  private compact(): void {
    const kept: OutboxEntry[] = [];
    for (let i = this.first; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e.state !== EntryState.Settled) kept.push(e);
    }
    this.slots = kept;
    this.first = 0;
    this.dead = 0;
  }

  private windowOpen(): boolean {
    return this.inflightFrames < this.windowFrames && this.inflightBytes < this.windowBytes;
  }
}
