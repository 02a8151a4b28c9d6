import { MalformedFrameError } from '../errors.js';
import type { Log } from '../logger.js';
import {
  FrameFlag,
  FrameType,
  MAX_PEER_ID,
  MIN_LENGTH,
  OFF_FLAGS,
  OFF_TARGET,
  OFF_TYPE,
  TARGET_ALL,
  TARGET_OTHERS,
  readTarget,
} from '../wire/frame.js';
import { readFederated } from '../wire/federated.js';
import type { BatchAuth } from './batch-auth.js';
import type { FederationAdapter, InboxEntry } from './federation-adapter.js';
import { Backoff, type StoreHealth } from './store-health.js';

/** Entries asked for per read, and how long a read waits for new ones. */
const READ_MAX = 64;
const READ_BLOCK_MS = 1000;
/** Frames handed to the hub and not yet settled, past which the bridge reads no more. */
const MAX_IN_FLIGHT = 4096;

export interface BridgeInboundOptions {
  readonly auth: BatchAuth;
  readonly health: StoreHealth;
  readonly log: Log;
  /** Sends a data frame to the hub as the bridge's own; returns its seq. */
  readonly send: (frame: Buffer) => number;
}

/** An inbox entry whose frames are with the hub. */
interface Delivery {
  readonly id: string;
  remaining: number;
}

/**
 * This host's inbox, into the hub: the bridge reads it (entries read before and never
 * acknowledged come first: the adapter's job), hands each entry's frames to the hub as its own
 * data frames, and acknowledges the entry in the store once the hub has settled every one of them
 * (all their targets read them, or the hub gave up on one: logged). A bridge that dies first
 * leaves the entry to be read again by the next; receivers drop the copies by origin.
 */
export class BridgeInbound {
  private adapter: FederationAdapter | undefined;
  private running = false;
  private readonly bySeq = new Map<number, Delivery>();
  private acks: string[] = [];
  private acking = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff();
  private readonly ackBackoff = new Backoff();

  constructor(private readonly options: BridgeInboundOptions) {}

  /** Starts reading (the store is connected). */
  start(adapter: FederationAdapter): void {
    if (this.running) return;
    this.adapter = adapter;
    this.running = true;
    void this.loop();
  }

  /** Stops reading; what is not acknowledged is read again by the next bridge. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
  }

  /** Resolves once the acknowledgements under way are done (or failed). */
  async acksDone(): Promise<void> {
    while (this.acking) await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }

  /** One of the bridge's frames settled at the hub (`nack`: given up on, for that reason). */
  settled(seq: number, nack: string | undefined): void {
    const delivery = this.bySeq.get(seq);
    if (delivery === undefined) return;
    this.bySeq.delete(seq);
    if (nack !== undefined) {
      this.options.health.warnRarely(
        `nack-${nack}`,
        `federation bridge: a message from another host was not delivered here (${nack})`,
      );
    }
    if (--delivery.remaining === 0) this.acknowledge(delivery.id);
    if (this.bySeq.size < MAX_IN_FLIGHT / 2) this.wake?.();
  }

  private async loop(): Promise<void> {
    const adapter = this.adapter!;
    while (this.running) {
      if (this.bySeq.size >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      let entries: InboxEntry[];
      try {
        entries = await adapter.read(READ_MAX, READ_BLOCK_MS);
      } catch (e) {
        if (!this.running) return;
        this.options.health.failed("read this host's inbox", e);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, this.backoff.next());
        });
        this.wake = undefined;
        continue;
      }
      this.backoff.reset();
      this.options.health.ok();
      if (!this.running) return;
      for (const entry of entries) this.deliver(entry);
    }
  }

  /** Hands an entry's frames to the hub, or drops a forged or broken one (acknowledged). */
  private deliver(entry: InboxEntry): void {
    const body = this.options.auth.open(entry.batch);
    let frames: Buffer[] | undefined;
    if (body === undefined) {
      this.options.health.warnRarely(
        'batch-auth',
        `federation bridge: dropped an inbox entry (${entry.id}) that does not carry this channel's secret: a store client without it wrote it, or the hosts have different secrets`,
      );
    } else {
      try {
        frames = splitBatch(body);
      } catch (e) {
        this.options.health.warnRarely(
          'batch-malformed',
          `federation bridge: dropped a malformed inbox entry (${entry.id}): ${(e as Error).message}`,
        );
      }
    }
    if (frames === undefined || frames.length === 0) {
      this.acknowledge(entry.id);
      return;
    }
    const delivery: Delivery = { id: entry.id, remaining: frames.length };
    for (const frame of frames) this.bySeq.set(this.options.send(frame), delivery);
  }

  private acknowledge(id: string): void {
    this.acks.push(id);
    if (!this.acking) void this.flushAcks();
  }

  /** Acknowledges in the store what was delivered, retrying until the store takes it. */
  private async flushAcks(): Promise<void> {
    this.acking = true;
    while (this.acks.length > 0 && this.adapter !== undefined) {
      const ids = this.acks;
      this.acks = [];
      try {
        await this.adapter.ack(ids);
        this.ackBackoff.reset();
      } catch (e) {
        this.acks = ids.concat(this.acks);
        if (!this.running) break;
        this.options.health.failed('acknowledge inbox entries', e);
        await new Promise<void>((resolve) => setTimeout(resolve, this.ackBackoff.next()).unref());
      }
    }
    this.acking = false;
  }
}

/**
 * Splits an inbox batch into its frames, each a private copy checked so that the hub takes it
 * from the bridge: a Federated frame for one peer id or for ALL (OTHERS is taken as ALL, the
 * sender being on another host), with HostOnly set on broadcasts. Throws MalformedFrameError.
 */
export function splitBatch(body: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let off = 0;
  while (off < body.length) {
    if (off + 4 > body.length) throw new MalformedFrameError('batch ends inside a length field');
    const length = body.readUInt32LE(off);
    if (length < MIN_LENGTH || off + 4 + length > body.length) {
      throw new MalformedFrameError(`batch frame length ${length} does not fit`);
    }
    const frame = Buffer.from(body.subarray(off, off + 4 + length));
    off += 4 + length;
    if (frame[OFF_TYPE] !== FrameType.Federated) {
      throw new MalformedFrameError(`batch frame of type ${frame[OFF_TYPE]}, not Federated`);
    }
    readFederated(frame);
    const target = readTarget(frame);
    if (target === TARGET_ALL || target === TARGET_OTHERS) {
      frame.writeUInt16LE(TARGET_ALL, OFF_TARGET);
      frame[OFF_FLAGS] = frame[OFF_FLAGS]! | FrameFlag.HostOnly;
    } else if (target < 1 || target > MAX_PEER_ID) {
      throw new MalformedFrameError(`batch frame for invalid peer id ${target}`);
    }
    frames.push(frame);
  }
  return frames;
}
