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
}

/** Per-entry bookkeeping beyond the frame bytes, so the byte limits also bound entry count. */
const ENTRY_OVERHEAD = 96;

/**
 * Every frame this process sends, from acceptance until the hub confirms it reached every
 * target (ack) or gives up (nack). Frames go out in sequence order, at most a window at a time;
 * after a failover every unconfirmed frame is written again, in order, before anything new, and
 * receivers drop the copies they already have.
 */
export class Outbox {
  /** Unconfirmed entries by sequence; a Map iterates in insertion (= sequence) order. */
  private readonly entries = new Map<number, OutboxEntry>();
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
    return this.entries.has(seq);
  }

  get pendingBytes(): number {
    return this.pending;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Unconfirmed entries that the hub is not holding: they are still this process's to deliver. */
  get unheldCount(): number {
    return this.unheld;
  }

  get hasSendable(): boolean {
    return this.head < this.queue.length && this.windowOpen();
  }

  add(seq: number, frame: Buffer): void {
    this.lastSeq = seq;
    const entry: OutboxEntry = { seq, frame, state: EntryState.Queued };
    this.entries.set(seq, entry);
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
    return this.settle(seq) !== undefined;
  }

  /** The hub gave up on this frame; returns its bytes for the undeliverable report. */
  nack(seq: number): Buffer | undefined {
    return this.settle(seq)?.frame;
  }

  /** The hub holds the frame for an absent peer: free its window slot. */
  held(seq: number): void {
    const entry = this.entries.get(seq);
    if (entry === undefined || entry.state !== EntryState.Sent) return;
    entry.state = EntryState.Held;
    this.unheld--;
    this.inflightFrames--;
    this.inflightBytes -= entry.frame.length;
    // It may wait seconds for its peer: give it its own memory instead of pinning a slab.
    entry.frame = Buffer.from(entry.frame);
  }

  /** The hub connection is gone: everything unconfirmed is to be written again, in order. */
  rewind(): void {
    this.queue = [...this.entries.values()];
    this.head = 0;
    for (const entry of this.queue) entry.state = EntryState.Queued;
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
    for (const e of this.entries.values()) {
      if (includeHeld || e.state !== EntryState.Held) frames.push(e.frame);
    }
    this.entries.clear();
    this.queue = [];
    this.head = 0;
    this.inflightFrames = this.inflightBytes = this.pending = this.unheld = 0;
    return frames;
  }

  private settle(seq: number): OutboxEntry | undefined {
    const entry = this.entries.get(seq);
    if (entry === undefined) return undefined;
    this.entries.delete(seq);
    if (entry.state === EntryState.Sent) {
      this.inflightFrames--;
      this.inflightBytes -= entry.frame.length;
    }
    if (entry.state !== EntryState.Held) this.unheld--;
    entry.state = EntryState.Settled;
    this.pending -= entry.frame.length + ENTRY_OVERHEAD;
    return entry;
  }

  private windowOpen(): boolean {
    return this.inflightFrames < this.windowFrames && this.inflightBytes < this.windowBytes;
  }
}
