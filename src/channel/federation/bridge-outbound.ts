import type { Log } from '../logger.js';
import {
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  MAX_PEER_ID,
  OFF_AUX,
  OFF_FLAGS,
  OFF_INC,
  OFF_SENDER,
  OFF_TARGET,
  OFF_TYPE,
  TARGET_ALL,
  TARGET_OTHERS,
  readIncarnation,
  readSender,
  readSeq,
  readTarget,
} from '../wire/frame.js';
import { readFederated, writeFederated } from '../wire/federated.js';
import type { BatchAuth } from './batch-auth.js';
import type { FederationAdapter } from './federation-adapter.js';
import { Backoff, type StoreHealth } from './store-health.js';

/** Most frames, and bytes, one append carries; what arrives meanwhile waits for the next. */
const MAX_BATCH_FRAMES = 512;
const MAX_BATCH_BYTES = 1024 * 1024;
/** The flags a peer's send keeps when it crosses hosts. */
const KEPT_FLAGS = FrameFlag.NoHold | FrameFlag.ToProcess;

export interface BridgeOutboundOptions {
  /** This host's name (the origin of what it forwards). */
  readonly host: string;
  readonly auth: BatchAuth;
  readonly health: StoreHealth;
  readonly log: Log;
  /** The other hosts known now (those a broadcast goes to). */
  readonly otherHosts: () => Iterable<string>;
  /** The first `count` data frames the hub sent the bridge are stored (or dropped): receipt. */
  readonly done: (count: number) => void;
}

interface Item {
  readonly frame: Buffer;
  readonly index: number;
}

interface HostQueue {
  readonly items: Item[];
  /** The next batch to append (again, after a failure), until the store has it. */
  flight: { items: Item[]; batch: Buffer } | undefined;
  /** An append call is under way. */
  appending: boolean;
  timer: NodeJS.Timeout | undefined;
  readonly backoff: Backoff;
}

/**
 * Frames from this host's peers to other hosts. Each goes, wrapped with its origin, into the
 * destination host's inbox: per host, one append is in flight at a time and what arrives
 * meanwhile makes the next batch. A frame is receipted to the hub only once every inbox it goes
 * to has it, in the order the hub sent them, so its sender is acked only then. A failed append
 * is retried, with back-off, for as long as it takes: nothing is dropped. While the store is down
 * senders feel it through their highWaterMark and maxQueueBytes: the hub reports what waits on
 * the store past a heartbeat held, so it leaves their in-flight windows (see HubLiveness).
 */
export class BridgeOutbound {
  private adapter: FederationAdapter | undefined;
  private readonly queues = new Map<string, HostQueue>();
  /** Per frame index not yet stored everywhere: how many inboxes it still waits for. */
  private readonly waiting = new Map<number, number>();
  private taken = 0;
  private stored = 0;
  private stopped = false;
  /**
   * Frames taken before the other hosts were known, in order. A broadcast cannot be addressed
   * before (after a hub failover its resend would reach no host), and what follows it waits
   * behind it: a receiver drops a frame older than one it has from the same sender.
   */
  private early: Item[] | undefined = [];

  constructor(private readonly options: BridgeOutboundOptions) {}

  /** The store is connected: appends start. */
  ready(adapter: FederationAdapter): void {
    this.adapter = adapter;
    for (const host of this.queues.keys()) this.pump(host);
  }

  /** The other hosts are known (the store was read once): frames taken so far are addressed. */
  hostsKnown(): void {
    const early = this.early;
    if (early === undefined) return;
    this.early = undefined;
    for (const item of early) this.address(item.frame, item.index);
    this.advance();
  }

  /** A data frame the hub routed to the bridge, `index` counting from 1. */
  take(frame: Buffer, index: number): void {
    this.taken = index;
    if (this.early !== undefined) {
      // Held by reference: the hub keeps the frame, unchanged, until the bridge receipts it.
      this.waiting.set(index, 0);
      this.early.push({ frame, index });
      return;
    }
    this.address(frame, index);
    this.advance();
  }

  private address(frame: Buffer, index: number): void {
    this.waiting.delete(index);
    const type = frame[OFF_TYPE];
    const target = readTarget(frame);
    if (type === FrameType.Federated) this.forward(frame, index);
    else if (target === TARGET_ALL || target === TARGET_OTHERS) this.broadcast(frame, index);
    else this.options.log.warn(`federation bridge: dropped a frame of type ${type} for ${target}`);
  }

  /** Stops retrying (the bridge closes); what was not stored is sent again by its senders. */
  stop(): void {
    this.stopped = true;
    for (const queue of this.queues.values()) clearTimeout(queue.timer);
  }

  /** Frames waiting for the store, for every host. */
  get backlog(): number {
    return this.waiting.size;
  }

  /** A peer's Federated frame for one peer of another host. */
  private forward(frame: Buffer, index: number): void {
    let dest;
    try {
      dest = readFederated(frame);
    } catch (e) {
      this.options.health.warnRarely(
        'outbound-malformed',
        `federation bridge: dropped a malformed frame from peer ${readSender(frame)}: ${(e as Error).message}`,
      );
      return;
    }
    if (dest.peer < 1 || dest.peer > MAX_PEER_ID) {
      this.options.health.warnRarely(
        'outbound-target',
        `federation bridge: dropped a frame from peer ${readSender(frame)} for invalid peer id ${dest.peer} on host '${dest.host}'`,
      );
      return;
    }
    const wrapped = writeFederated(
      { target: dest.peer, flags: frame[OFF_FLAGS]! & KEPT_FLAGS, incarnation: 0, seq: 0 },
      this.origin(frame),
      dest.inner,
    );
    this.enqueue(dest.host, wrapped, index);
  }

  /** A local broadcast (not HostOnly): to every other known host, as ALL there. */
  private broadcast(frame: Buffer, index: number): void {
    // The inner frame's target, sender, incarnation and seq are not read: zero, as specified.
    const inner = Buffer.from(frame);
    inner[OFF_FLAGS] = 0;
    inner.fill(0, OFF_TARGET, OFF_AUX);
    inner.fill(0, OFF_INC, HEADER_SIZE);
    let wrapped: Buffer | undefined;
    for (const host of this.options.otherHosts()) {
      wrapped ??= writeFederated(
        { target: TARGET_ALL, flags: FrameFlag.HostOnly, incarnation: 0, seq: 0 },
        this.origin(frame),
        inner,
      );
      this.enqueue(host, wrapped, index);
    }
  }

  private origin(frame: Buffer) {
    return {
      host: this.options.host,
      peer: frame.readUInt16LE(OFF_SENDER),
      incarnation: readIncarnation(frame),
      seq: readSeq(frame),
    };
  }

  private enqueue(host: string, frame: Buffer, index: number): void {
    this.waiting.set(index, (this.waiting.get(index) ?? 0) + 1);
    let queue = this.queues.get(host);
    if (queue === undefined) {
      queue = {
        items: [],
        flight: undefined,
        appending: false,
        timer: undefined,
        backoff: new Backoff(),
      };
      this.queues.set(host, queue);
    }
    queue.items.push({ frame, index });
    this.pump(host);
  }

  /** Appends the next batch for `host`, unless one is in flight or waits to be retried. */
  private pump(host: string): void {
    const queue = this.queues.get(host)!;
    const adapter = this.adapter;
    if (adapter === undefined || this.stopped || queue.appending || queue.timer !== undefined)
      return;
    if (queue.flight === undefined) {
      if (queue.items.length === 0) return;
      let bytes = 0;
      let n = 0;
      while (n < queue.items.length && n < MAX_BATCH_FRAMES) {
        bytes += queue.items[n]!.frame.length;
        n++;
        if (bytes >= MAX_BATCH_BYTES) break;
      }
      const items = queue.items.splice(0, n);
      const batch = this.options.auth.seal(Buffer.concat(items.map((i) => i.frame)));
      queue.flight = { items, batch };
    }
    const flight = queue.flight;
    queue.appending = true;
    adapter.append(host, flight.batch).then(
      () => {
        queue.appending = false;
        queue.flight = undefined;
        queue.backoff.reset();
        this.options.health.ok();
        for (const item of flight.items) this.stored1(item.index);
        this.advance();
        this.pump(host);
      },
      (e: unknown) => {
        queue.appending = false;
        if (this.stopped) return;
        this.options.health.failed(`append to host '${host}'s inbox`, e);
        queue.timer = setTimeout(() => {
          queue.timer = undefined;
          this.pump(host);
        }, queue.backoff.next());
        queue.timer.unref();
      },
    );
  }

  private stored1(index: number): void {
    const left = (this.waiting.get(index) ?? 1) - 1;
    if (left > 0) this.waiting.set(index, left);
    else this.waiting.delete(index);
  }

  /** Receipts the longest prefix of frames that need nothing more. */
  private advance(): void {
    let stored = this.stored;
    while (stored < this.taken && !this.waiting.has(stored + 1)) stored++;
    if (stored === this.stored) return;
    this.stored = stored;
    this.options.done(stored);
  }
}
