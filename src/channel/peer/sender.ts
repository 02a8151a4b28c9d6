import {
  ChannelClosedError,
  EncodeError,
  FrameTooLargeError,
  InvalidTargetError,
  QueueFullError,
} from '../errors.js';
import type { RemotePeer } from '../channel-target.js';
import { BRIDGE_ID, FrameType, HEADER_SIZE, countFrame, writeHeader } from '../wire/frame.js';
import { federatedPrefixBytes, writeAddress } from '../wire/federated.js';
import { FrameSlab } from '../wire/frame-slab.js';
import { EventNameEncoder } from './event-name-encoder.js';
import { HubLinkState } from './hub-link.js';
import { type PeerContext, PeerPart } from './peer-part.js';

/**
 * Queued frames at which a send writes at once instead of at the end of the tick: a burst of
 * replies or requests then reaches the other process in pieces it can start on while this one
 * is still producing the rest, so both sides work at the same time instead of taking turns.
 */
const EARLY_FLUSH_FRAMES = 16;
/** Remote host names remembered after their first encoding. */
const MAX_HOST_NAMES = 1024;

/** Writes an event name after the header: a short one byte by byte, cheaper than a native copy. */
function copyName(name: Buffer, frame: Buffer): void {
  if (name.length > 64) {
    name.copy(frame, HEADER_SIZE);
    return;
  }
  for (let i = 0; i < name.length; i++) frame[HEADER_SIZE + i] = name[i]!;
}

/**
 * Everything that leaves this process: it turns each send into a frame in the outbox, and
 * writes what the outbox lets go, to the hub or over direct links, together with the receipt
 * for what was read. It also tells senders when to wait ('drain') and close() when the outbox
 * has settled.
 */
export class Sender extends PeerPart {
  /** Data frames read on the current hub connection (the running count sent as Receipt). */
  received = 0;
  /** The count last sent in a Receipt. */
  private receiptSent = 0;
  /** The largest frame this process may send: its own limit, or the hub's if lower. */
  private sendLimit: number;
  private flushScheduled = false;
  private receiptScheduled = false;
  /** A send returned false: 'drain' is due once the outbox is half empty. */
  private needDrain = false;
  /** Told of each send accepted before connect() was called (see Lifecycle.expectConnect). */
  queuedWhileNew: (() => void) | undefined;
  /** close() waits until the outbox has settled (see waitUntilSettled). */
  private settleWaiter: (() => void) | undefined;
  private readonly names = new EventNameEncoder();
  /** Host names of remote targets, encoded once each. */
  private readonly hostNames = new Map<string, Buffer>();
  private readonly slab = new FrameSlab();
  /** What scheduleFlush runs at the end of the tick (one function, made once). */
  private readonly flushAtTickEnd = (): void => {
    this.flushScheduled = false;
    // A receipt alone waits for the receipt flush: a reply still settling in promises would
    // otherwise follow it in a second write, and wake the hub twice.
    if (this.canTakeSendable()) this.flush();
  };
  /** What scheduleReceipt runs before the event loop waits again. */
  private readonly flushForReceipt = (): void => {
    this.receiptScheduled = false;
    this.flush();
  };

  constructor(ctx: PeerContext) {
    super(ctx);
    this.sendLimit = ctx.options.maxFrameBytes;
  }

  /**
   * Accepts one message or event (see enqueue) and returns a promise for its verdict; what
   * `enqueue` would throw is the rejection.
   */
  enqueueConfirmed(
    code: number,
    flags: number,
    event: string | null,
    value: unknown,
    remote?: RemotePeer,
  ): Promise<void> {
    try {
      this.enqueue(code, flags, event, value, remote);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.outbox.confirmations.watch(this.outbox.last);
  }

  /**
   * Accepts one message (`event` null, from send) or event for delivery: encodes it into a frame
   * in the outbox. Returns false when the caller should wait for 'drain'. A message for a peer on
   * another host is built exactly the same, inside a Federated frame to the bridge.
   */
  enqueue(
    code: number,
    flags: number,
    event: string | null,
    value: unknown,
    remote?: RemotePeer,
  ): boolean {
    const phase = this.state.phase;
    if (phase === 'closing' || phase === 'closed') {
      throw new ChannelClosedError(event === null ? 'send' : `emit '${String(event)}'`);
    }
    const name = event === null ? undefined : this.names.encode(event);
    let encoded: Uint8Array | string;
    try {
      encoded = this.codec.encode(value);
    } catch (e) {
      throw new EncodeError(this.codec.name, e);
    }
    if (typeof encoded !== 'string' && !(encoded instanceof Uint8Array)) {
      const got = encoded === null ? 'null' : typeof encoded;
      throw new EncodeError(this.codec.name, new TypeError(`encode() returned ${got}`));
    }
    const host = remote === undefined ? undefined : this.hostBytes(remote.host);
    const at = host === undefined ? 0 : federatedPrefixBytes(host.length);
    const head = at + HEADER_SIZE + (name === undefined ? 0 : name.length);
    // A UTF-8 string has at least as many bytes as UTF-16 units: refuse the surely-too-large
    // before allocating anything for it.
    if (head + encoded.length > this.sendLimit) {
      const size =
        head + (typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.byteLength);
      if (size > this.sendLimit) throw new FrameTooLargeError(size, this.sendLimit, 'send');
    }
    let frame: Buffer;
    if (typeof encoded === 'string') {
      frame = this.slab.allocWithText(head, encoded);
    } else {
      frame = this.slab.alloc(head + encoded.byteLength);
      frame.set(encoded, head);
    }
    if (frame.length > this.sendLimit)
      throw new FrameTooLargeError(frame.length, this.sendLimit, 'send');
    const outbox = this.outbox;
    if (outbox.pendingBytes + frame.length > this.options.maxQueueBytes) {
      throw new QueueFullError(outbox.pendingBytes, this.options.maxQueueBytes);
    }
    const seq = outbox.nextSeq();
    const type = name === undefined ? FrameType.Message : FrameType.Event;
    const aux = name === undefined ? 0 : name.length;
    if (host === undefined) {
      writeHeader(frame, type, flags, code, aux, this.state.incarnation, seq);
      if (name !== undefined) copyName(name, frame);
    } else {
      // The bridge stamps the origin on the inner frame's way out: its ids here are 0.
      const inner = frame.subarray(at);
      writeHeader(inner, type, flags, 0, aux, 0, 0);
      if (name !== undefined) copyName(name, inner);
      writeHeader(frame, FrameType.Federated, flags, BRIDGE_ID, 0, this.state.incarnation, seq);
      writeAddress(frame, host, code);
    }
    outbox.add(seq, frame, host === undefined ? code : BRIDGE_ID);
    if (phase === 'new') this.queuedWhileNew?.();
    this.state.counters.sent(frame.length);
    if (outbox.queuedCount >= EARLY_FLUSH_FRAMES && this.hubLink.joined) this.flush();
    else this.scheduleFlush();
    if (outbox.pendingBytes < this.options.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** The UTF-8 bytes of a remote host's name, checked once (a Federated frame holds 1..255). */
  private hostBytes(host: string): Buffer {
    let bytes = this.hostNames.get(host);
    if (bytes === undefined) {
      bytes = Buffer.from(host, 'utf8');
      if (bytes.length > 255) throw new InvalidTargetError(`${host}/1`);
      if (this.hostNames.size < MAX_HOST_NAMES) this.hostNames.set(host, bytes);
    }
    return bytes;
  }

  /**
   * Writes what is ready, the receipt for what was read first. A receipt goes out in the first
   * flush after reading, never later: a process that dies right after reading must already
   * have said so, or its successor under the same id would be sent those messages again. It
   * costs no extra write in request/response traffic: the reply (even from an async Nest
   * handler, which settles in microtasks) is flushed at the end of the tick and carries it; a
   * receipt with nothing to carry it waits only for the end of this turn of the event loop.
   */
  flush(): void {
    const joined = this.hubLink.joined;
    const direct = this.state.direct;
    let frames: Buffer[] = [];
    // Direct links keep carrying what they can while a new hub is elected.
    if (this.canTakeSendable()) frames = this.outbox.takeSendable(direct, joined);
    direct?.flushAcks();
    direct?.flushWrites();
    if (!joined && this.hubLink.state !== HubLinkState.Leaving) return;
    if (this.received > this.receiptSent) {
      this.receiptSent = this.received;
      const receipt = countFrame(FrameType.Receipt, this.received);
      frames = frames.length === 0 ? [receipt] : [receipt].concat(frames);
    }
    if (frames.length > 0) this.hubLink.write(frames);
  }

  /** Flushes at the end of this tick, once however many sends come before. */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flushAtTickEnd);
  }

  /** Flushes before the event loop waits again: a receipt (or direct ack) is due. */
  scheduleReceipt(): void {
    if (this.receiptScheduled) return;
    this.receiptScheduled = true;
    setImmediate(this.flushForReceipt);
  }

  /** Joined a hub: counts receipts afresh and writes again everything it has not confirmed. */
  joined(hubMaxFrameBytes: number): void {
    this.received = 0;
    this.receiptSent = 0;
    const own = this.options.maxFrameBytes;
    this.sendLimit = Math.min(own, hubMaxFrameBytes || own);
    this.outbox.rewind(this.state.hubDied);
    this.state.hubDied = false;
    this.flush();
  }

  /** Entries were confirmed or given up on: the window reopens, and 'drain' may be due. */
  afterSettle(): void {
    this.scheduleFlush();
    const confirmations = this.outbox.confirmations;
    if (confirmations.active) confirmations.settled(this.outbox.oldest);
    if (this.needDrain && this.outbox.pendingBytes <= this.options.highWaterMark / 2) {
      this.needDrain = false;
      this.channel.emit('drain');
    }
    this.settleWaiter?.();
  }

  /** The hub holds entries for an absent peer: they leave the window; close() checks again. */
  afterHeld(): void {
    this.scheduleFlush();
    this.settleWaiter?.();
  }

  /**
   * Whether close() may proceed: nothing is waiting to reach the hub. Messages the hub holds for
   * an absent peer survive this process leaving, except when this process is the hub.
   */
  settled(): boolean {
    return this.hubLink.hub !== undefined ? this.outbox.size === 0 : this.outbox.unheldCount === 0;
  }

  /** Resolves once the outbox has settled, or after `timeoutMs`. */
  waitUntilSettled(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.settleWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.settleWaiter = () => {
        if (this.settled()) done();
      };
      this.scheduleFlush();
    });
  }

  /**
   * Whether the outbox has frames and a path that may take some: the hub, or (while a new hub
   * is elected) an open direct link.
   */
  private canTakeSendable(): boolean {
    return this.outbox.hasSendable && (this.hubLink.joined || this.state.direct?.anyOpen === true);
  }
}
