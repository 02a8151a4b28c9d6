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

/** One accepted frame. The frame buffer is kept until the hub acks or nacks it. */
export interface OutboxEntry {
  readonly seq: number;
  frame: Buffer;
  state: EntryState;
  /** Written to a hub that died since: its target may have read it there. */
  resent: boolean;
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
   * released) until they reach the front or `compact` drops them: an array indexed by sequence
   * costs a fraction of a Map's set and delete, which every message paid twice.
   */
  private slots: OutboxEntry[] = [];
  private first = 0;
  /** Settled entries still in `slots` after `first`. */
  private dead = 0;
  /** Unconfirmed entries. */
  private live = 0;
  /** Entries not yet written to the current hub, in order, from `head`. */
  private queue: OutboxEntry[] = [];
  private head = 0;
  private inflightFrames = 0;
  private inflightBytes = 0;
  /** Bytes of all unconfirmed entries (queued, sent and held). */
  private pending = 0;
  /** Entries the hub has not taken custody of yet (queued or sent, not held). */
  private unheld = 0;
  private lastSeq = 0;

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
    return this.queue.length - this.head;
  }

  get hasSendable(): boolean {
    return this.head < this.queue.length && this.windowOpen();
  }

  add(seq: number, frame: Buffer): void {
    this.lastSeq = seq;
    const entry: OutboxEntry = { seq, frame, state: EntryState.Queued, resent: false };
    this.slots.push(entry);
    this.live++;
    this.queue.push(entry);
    this.pending += frame.length + ENTRY_OVERHEAD;
    this.unheld++;
  }

  /** Takes the frames that fit in the window, marking them sent. */
  takeSendable(): Buffer[] {
    const out: Buffer[] = [];
    while (this.head < this.queue.length && this.windowOpen()) {
      const entry = this.queue[this.head++]!;
      if (entry.state !== EntryState.Queued) continue;
      entry.state = EntryState.Sent;
      this.inflightFrames++;
      this.inflightBytes += entry.frame.length;
      out.push(entry.frame);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** The hub confirmed delivery; returns whether the entry was still unconfirmed. */
  ack(seq: number): boolean {
    const entry = this.settle(seq);
    if (entry === undefined) return false;
    entry.frame = RELEASED; // a settled entry may linger in `slots`: it must not pin a slab
    return true;
  }

  /**
   * The hub gave up on this frame; returns its bytes for the undeliverable report, and whether
   * an earlier hub had it (its target may then have read it before that hub went away).
   */
  nack(seq: number): { frame: Buffer; resent: boolean } | undefined {
    const entry = this.settle(seq);
    if (entry === undefined) return undefined;
    const frame = entry.frame;
    entry.frame = RELEASED;
    return { frame, resent: entry.resent };
  }

  /** The hub holds the frame for an absent peer: free its window slot. */
  held(seq: number): void {
    const entry = this.find(seq);
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
   * `hubDied`: it went without a handover, so what it had may have reached its target unacked
   * (a graceful hub first acks everything its peers read).
   */
  rewind(hubDied: boolean): void {
    this.compact();
    this.queue = this.slots.slice();
    this.head = 0;
    for (const entry of this.queue) {
      if (hubDied && entry.state !== EntryState.Queued) entry.resent = true;
      entry.state = EntryState.Queued;
    }
    this.unheld = this.queue.length;
    this.inflightFrames = 0;
    this.inflightBytes = 0;
  }

  /**
   * Removes every unconfirmed entry (the channel is closing for good) and returns the frames
   * that were not delivered: all of them, or only those the hub was not holding.
   */
  drain(includeHeld: boolean): Buffer[] {
    const frames: Buffer[] = [];
    for (let i = this.first; i < this.slots.length; i++) {
      const e = this.slots[i]!;
      if (e.state === EntryState.Settled) continue;
      if (includeHeld || e.state !== EntryState.Held) frames.push(e.frame);
    }
    this.slots = [];
    this.first = this.dead = this.live = 0;
    this.queue = [];
    this.head = 0;
    this.inflightFrames = this.inflightBytes = this.pending = this.unheld = 0;
    return frames;
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

  private settle(seq: number): OutboxEntry | undefined {
    const entry = this.find(seq);
    if (entry === undefined) return undefined;
    if (entry.state === EntryState.Sent) {
      this.inflightFrames--;
      this.inflightBytes -= entry.frame.length;
    }
    if (entry.state !== EntryState.Held) this.unheld--;
    entry.state = EntryState.Settled;
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
    return entry;
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
