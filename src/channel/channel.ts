import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type ChannelOptions,
  type ResolvedOptions,
  checkMeta,
  resolveOptions,
} from './channel-options.js';
import { type Codec, decodeJsonAt, jsonCodec, resolveCodec } from './wire/codec.js';
import { Dedup } from './peer/dedup.js';
import { DirectLinks, type DirectLinksOwner } from './direct/direct-links.js';
import { EventNames } from './peer/event-names.js';
import { FrameSlab } from './wire/frame-slab.js';
import { type Endpoint, ensurePrivateDirectory, resolveEndpoint } from './endpoint/endpoint.js';
import type { TransportKind } from './endpoint/endpoint-choice.js';
import {
  ChannelClosedError,
  ConnectTimeoutError,
  DecodeError,
  EncodeError,
  FrameTooLargeError,
  InvalidEventNameError,
  InvalidTargetError,
  IpcChannelError,
  ProtocolError,
  QueueFullError,
  UndeliverableError,
  type UndeliverableReason,
} from './errors.js';
import {
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  MAX_PEER_ID,
  OFF_AUX,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  PROTOCOL_VERSION,
  TARGET_ALL,
  TARGET_OTHERS,
  controlFrame,
  countFrame,
  forEachInRanges,
  jsonFrame,
  readJson,
  readSeq,
  readTarget,
  writeHeader,
} from './wire/frame.js';
import type {
  EpochNotice,
  Fault,
  Handover,
  Nack,
  PeerLeave,
  PeerMetaUpdate,
  Welcome,
} from './wire/handshake.js';
import type { PeerRecord } from './wire/handshake.js';
import type { ExpectedPeer } from './hub/hub.js';
import { HubLink, HubLinkState } from './peer/hub-link.js';
import { Log } from './logger.js';
import { Membership, type PeerInfo } from './peer/membership.js';
import { Outbox, type OutboxEntry } from './peer/outbox.js';
import { ChannelTarget, type SendOptions, type TargetSpec } from './channel-target.js';

/** Errors nobody listens to are printed at most once per code in this long. */
const UNHEARD_WARNING_MS = 5000;
/** Frames in flight to the hub before the sender waits for acks. */
const WINDOW_FRAMES = 8192;
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Event names remembered after their first check (a bound against unbounded name sets). */
const MAX_CACHED_NAMES = 1024;
/** How often peers presumed alive after a failover are checked for death. */
const PRESUMED_CHECK_MS = 200;
/**
 * How long a hub hosted by a process that has never joined waits before its process leads:
 * survivors of a hub that just died may be rejoining it, and they know the epoch it must
 * exceed. (A process that was joined before knows it already and leads at once.)
 */
const FRESH_HUB_SETTLE_MS = 300;

/** Writes an event name after the header: a short one byte by byte, cheaper than a native copy. */
function copyName(name: Buffer, frame: Buffer): void {
  if (name.length > 64) {
    name.copy(frame, HEADER_SIZE);
    return;
  }
  for (let i = 0; i < name.length; i++) frame[HEADER_SIZE + i] = name[i]!;
}

/**
 * The epoch of a hub that knows no history: the wall clock, in milliseconds. Nothing is kept on
 * disk, so a channel whose every process stopped cannot remember its last epoch; counting from 1
 * again would make a store that kept the highest epoch refuse the new leader. Each later hub of
 * a channel takes one above the highest seen, and a channel goes through far fewer leaders than
 * milliseconds, so an earlier run of it ended below the clock of a later one.
 */
function freshEpoch(): number {
  return Math.max(1, Date.now());
}

/** Event names the channel emits itself; `emit()` refuses them so they cannot be spoofed. */
const RESERVED_EVENTS = new Set([
  'message',
  'connect',
  'disconnect',
  'join',
  'leave',
  'hub',
  'meta',
  'drain',
  'retiring',
  'leader',
  'follower',
  'error',
  'close',
  'newListener',
  'removeListener',
]);

/** The listener signatures of the lifecycle events. */
export interface ChannelEventMap {
  /** `to(x).send(msg)` from `sender`. */
  message: [sender: number, message: unknown];
  /** Joined (first time, or again after a failover); `id` is this process's peer id. */
  connect: [id: number];
  /** Lost the hub; the channel is already electing a new one. */
  disconnect: [error: Error | undefined];
  join: [id: number];
  leave: [id: number];
  /** A hub took over; `hubId` is the peer id of the process hosting it (0 while unknown). */
  hub: [hubId: number];
  meta: [id: number, meta: unknown];
  /** A peer started shutting down: it takes no new messages and will leave. */
  retiring: [id: number];
  /** This process became the leader (see Channel.isLeader), or its epoch rose while leading. */
  leader: [epoch: number];
  /** This process stopped being the leader; emitted before it does anything else. */
  follower: [epoch: number];
  drain: [];
  error: [error: IpcChannelError];
  close: [];
}

type Listener<K extends keyof ChannelEventMap> = (...args: ChannelEventMap[K]) => void;

/**
 * Queued frames at which a send writes at once instead of at the end of the tick: a burst of
 * replies or requests then reaches the other process in pieces it can start on while this one
 * is still producing the rest, so both sides work at the same time instead of taking turns.
 */
const EARLY_FLUSH_FRAMES = 16;

/**
 * A channel of processes on one machine that hosts its own hub. The first process up binds a
 * local socket and routes for the others; when it dies the others elect a new hub and resend
 * whatever was not confirmed, so nothing accepted by `send`/`emit` is lost or delivered twice
 * while its target lives.
 *
 * ```ts
 * const ch = new Channel({ name: 'orders' });
 * ch.on('price', (sender, sku, cents) => console.log(sender, sku, cents));
 * await ch.connect();
 * ch.to('others').emit('price', 'A-1', 1299);
 * ```
 */
export class Channel extends EventEmitter {
  /** The channel name (see ChannelOptions.name). */
  readonly name: string;
  /** Where this channel's hub is found: the socket path, the pipe name, or the tcp endpoint file. */
  readonly endpoint: string;
  /** The endpoint kind in use: `'unix'`, `'pipe'` or `'tcp'` (see the `transport` option). */
  readonly transport: TransportKind;

  private readonly opts: ResolvedOptions;
  private readonly codec: Codec;
  private readonly log: Log;
  private readonly ep: Endpoint;
  private readonly link: HubLink;
  /** Links straight to other peers (undefined where the platform or option rules them out). */
  private readonly direct: DirectLinks | undefined;
  private readonly outbox = new Outbox(WINDOW_FRAMES, WINDOW_BYTES);
  private readonly dedup = new Dedup();
  private readonly membership = new Membership();
  private readonly incarnation: number;
  private readonly targets = new Map<number, ChannelTarget>();
  private readonly encodedNames = new Map<string, Buffer>();
  private readonly undeliverableClaims = new Map<string, (error: UndeliverableError) => void>();
  /** Events a layer above reads itself, with their arguments as one array (see _read). */
  private readonly readers = new Map<string, (sender: number, args: unknown[]) => void>();
  private readonly names = new EventNames();
  private readonly slab = new FrameSlab();
  private meta: unknown;
  private selfId = 0;
  private currentHubId = 0;
  /** The epoch of the hub this process last joined (0 before its first join). */
  private epochSeen = 0;
  /** Whether this process leads, as last announced by 'leader' / 'follower'. */
  private leading = false;
  /** A hub this process hosts is waiting for FRESH_HUB_SETTLE_MS before its process leads. */
  private leaderSettling: NodeJS.Timeout | undefined;
  /** close() has begun: no longer a candidate to lead. */
  private closeBegun = false;
  /** `retiring`: takes nothing new, still sends (replies) until close() leaves. */
  private state: 'new' | 'connecting' | 'open' | 'retiring' | 'closing' | 'closed' = 'new';
  private retireRequested = false;
  private retirement: Promise<void> | undefined;
  private onRetired: (() => void) | undefined;
  /** The last hub went without a handover since this process last joined (see Outbox.rewind). */
  private hubDied = false;
  /** When each error code was last printed as a process warning (see warnUnheard). */
  private readonly unheardWarnedAt = new Map<string, number>();
  /** What this process had consumed when the hub confirmed its drain (see Drained). */
  private consumedAtRetire: [number, number][] | undefined;
  private sendLimit: number;
  /** Data frames read on the current hub connection (the running count sent as Receipt). */
  private received = 0;
  /** The count last sent in a Receipt. */
  private receiptSent = 0;
  private flushScheduled = false;
  private receiptScheduled = false;
  private needDrain = false;
  private presumedTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private settleConnect: ((error?: IpcChannelError) => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ChannelOptions = {}) {
    super();
    this.opts = resolveOptions(options);
    this.codec = resolveCodec(options.codec);
    this.log = new Log(options.logger);
    this.name = this.opts.name;
    this.ep = resolveEndpoint(this.opts.name, {
      dir: this.opts.dir,
      transport: this.opts.transport,
    });
    this.endpoint = this.ep.path;
    this.transport = this.ep.kind;
    this.meta = options.meta ?? null;
    this.sendLimit = this.opts.maxFrameBytes;
    this.incarnation = randomBytes(4).readUInt32LE(0) || 1;
    this.direct =
      this.opts.directLinks && DirectLinks.supported(this.ep.kind)
        ? new DirectLinks(this.directOwner(), this.opts.maxFrameBytes, this.log)
        : undefined;
    this.link = new HubLink(
      {
        endpoint: this.ep,
        name: this.opts.name,
        codec: this.codec.name,
        secret: this.opts.secret,
        maxFrameBytes: this.opts.maxFrameBytes,
        hub: {
          graceMs: this.opts.graceMs,
          preferredIdWaitMs: this.opts.preferredIdWaitMs,
          maxHeldBytes: this.opts.maxHeldBytes,
          handshakeTimeoutMs: 10_000,
          onFault: (error) => this.reportError(error),
          firstEpoch: () => this.firstHubEpoch(),
          onStop: () => this.updateLeadership(),
        },
        log: this.log,
      },
      {
        joinRequest: () => ({
          protocol: PROTOCOL_VERSION,
          name: this.opts.name,
          codec: this.codec.name,
          incarnation: this.incarnation,
          pid: process.pid,
          ...this.claim(),
          waitMs: this.opts.preferredIdWaitMs,
          expected: this.selfId !== 0 ? this.expectedPeers() : undefined,
          retiring: this.retireRequested || undefined,
          // The hub counts this process as retiring from this Join on: what it reads from here
          // is answers only, which must not count as consumed (see Drained).
          consumed: this.retireRequested
            ? (this.consumedAtRetire ??= this.consumedMarks())
            : undefined,
          meta: this.meta,
          direct: this.retireRequested ? undefined : this.direct?.address,
          maxFrameBytes: this.opts.maxFrameBytes,
          epoch: this.epochSeen || undefined,
        }),
        expectedPeers: () => this.expectedPeers(),
        joined: (welcome, hubMax) => this.onJoined(welcome, hubMax),
        frames: (frames) => this.onFrames(frames),
        disconnected: (error, handover) => this.onDisconnected(error, handover),
        failed: (error, initial) => this.onFailed(error, initial),
        error: (error) => this.reportError(error),
      },
    );
  }

  // ---- state -------------------------------------------------------------------------------

  /** This process's peer id, or undefined until it has joined. */
  get id(): number | undefined {
    return this.selfId === 0 ? undefined : this.selfId;
  }

  /** Whether this process is joined right now (false while a new hub is being elected). */
  get connected(): boolean {
    return this.link.state === HubLinkState.Joined;
  }

  /** Whether this process hosts the hub. */
  get isHub(): boolean {
    return this.link.hub !== undefined;
  }

  /** The peer id of the process hosting the hub (undefined while unknown). */
  get hubId(): number | undefined {
    return this.currentHubId === 0 ? undefined : this.currentHubId;
  }

  /**
   * Whether this process is the channel's leader: it hosts the hub, its own peer is joined, it
   * is not shutting down, and the hub's socket is still the published one (checked on each
   * read, one `lstat`). At most one process of a channel sees `true` at any moment; after the
   * leader dies another one leads as soon as it hosts the new hub. `'leader'` and `'follower'`
   * tell when it changes.
   */
  get isLeader(): boolean {
    return this.leading && this.link.hub?.ownsPublication() === true;
  }

  /**
   * The leadership epoch of the hub this process is joined to (or last was): every new hub
   * takes one above the highest any of its peers has seen, so a leader's epoch is greater than
   * every earlier leader's. Use it as a fencing token. 0 before joining. A channel started from
   * nothing (no process of it running) begins at the wall clock in milliseconds, so the epoch
   * keeps rising across full restarts too, unless the system clock was set back meanwhile.
   */
  get epoch(): number {
    return this.epochSeen;
  }

  /** Ids of every joined peer, self included, ascending. */
  get peers(): number[] {
    return [...this.membership.ids()];
  }

  /** The `meta` a peer announced (undefined for unknown peers). */
  peerMeta(id: number): unknown {
    return this.membership.get(id)?.meta;
  }

  /**
   * What this process knows of a peer: its pid, its meta, and whether it is shutting down
   * (retiring: it takes no new messages). Undefined for ids that are not joined.
   */
  peerInfo(id: number): { id: number; pid: number; meta: unknown; retiring: boolean } | undefined {
    const p = this.membership.get(id);
    return p === undefined
      ? undefined
      : { id: p.id, pid: p.pid, meta: p.meta, retiring: p.retiring };
  }

  /**
   * Peer ids this process now sends to over a direct link, not through the hub (see the
   * `directLinks` option). A link opens the first time a peer is sent something.
   */
  get directPeers(): number[] {
    return this.direct?.peers ?? [];
  }

  /** Bytes accepted by send/emit and not yet confirmed delivered. */
  get pendingBytes(): number {
    return this.outbox.pendingBytes;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Joins the channel: connects to the hub, or becomes it. Resolves once this process has an
   * id. Sends made before are queued and go out then. Rejects with a typed error if the
   * directory is unsafe, the id is taken, the secret or codec differ, or `connectTimeoutMs`
   * passes.
   */
  connect(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') {
      return Promise.reject(new ChannelClosedError('connect'));
    }
    if (this.connecting !== undefined) return this.connecting;
    this.state = 'connecting';
    this.connecting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(new ConnectTimeoutError(this.opts.connectTimeoutMs, this.endpoint));
      }, this.opts.connectTimeoutMs);
      const settle = (error?: IpcChannelError) => {
        clearTimeout(timer);
        this.settleConnect = undefined;
        if (error === undefined) {
          resolve();
          return;
        }
        reject(error);
        void this.shutDown(false);
      };
      this.settleConnect = settle;
      try {
        if (this.ep.dir !== '') ensurePrivateDirectory(this.ep.dir);
      } catch (e) {
        settle(e as IpcChannelError);
        return;
      }
      // Listening for direct links first: the Join announces where.
      if (this.direct === undefined) this.link.start();
      else
        void this.direct.listen().then(() => {
          if (this.state === 'connecting') this.link.start();
        });
    });
    return this.connecting;
  }

  /**
   * Stops new messages to this process: from now on the hub keeps what is sent to this peer id
   * for the next process that takes the id (a PM2 reload's successor), and requests to it fail
   * at once so their senders can retry elsewhere. Resolves once everything sent to this
   * process before has been read. Sending still works (to answer what was received) until
   * `close()`, which retires first.
   */
  retire(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.resolve();
    if (this.retirement !== undefined) return this.retirement;
    this.retireRequested = true;
    this.link.retiring = true;
    this.updateLeadership();
    // Senders learn what was read on each direct link and send the rest through the hub, which
    // keeps it for this id's next process like anything else sent from here on. Also while no
    // hub is joined: links do not wait for one.
    this.direct?.stopReceiving();
    if (this.state === 'new' || !this.link.joined) {
      // Nothing can be on its way to a process that is not joined; a later join retires at once.
      if (this.state === 'open' || this.state === 'connecting') this.state = 'retiring';
      this.retirement = Promise.resolve();
      return this.retirement;
    }
    this.state = 'retiring';
    this.retirement = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onRetired = undefined;
        resolve();
      };
      // Bounded: a hub that never answers must not keep a process from exiting.
      const timer = setTimeout(done, this.opts.closeTimeoutMs);
      timer.unref();
      this.onRetired = done;
    });
    this.link.write([controlFrame(FrameType.Retire)]);
    return this.retirement;
  }

  /**
   * Leaves the channel gracefully: waits (up to `closeTimeoutMs`) until every accepted message
   * is confirmed, tells the hub, and, if this process is the hub, hands the hub to another peer.
   * Messages still unconfirmed after the timeout are reported as undeliverable.
   */
  close(): Promise<void> {
    return this.shutDown(true);
  }

  /** Replaces this process's `meta`; other peers get a `'meta'` event. */
  setMeta(meta: unknown): void {
    checkMeta(meta, 'setMeta(meta)');
    this.meta = meta;
    if (this.link.joined) {
      this.link.write([jsonFrame(FrameType.SetMeta, meta ?? null)]);
      this.membership.setMeta(this.selfId, meta);
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  /**
   * Addresses one peer by id, every peer (`'all'`, this one included) or every other peer.
   * `ch.to(2).send(msg)`, `ch.to('all').emit('event', ...args)`.
   */
  to(target: TargetSpec, options?: SendOptions): ChannelTarget {
    let code: number;
    if (target === 'all') code = TARGET_ALL;
    else if (target === 'others') code = TARGET_OTHERS;
    else if (
      typeof target === 'number' &&
      Number.isInteger(target) &&
      target >= 1 &&
      target <= MAX_PEER_ID
    ) {
      code = target;
    } else {
      throw new InvalidTargetError(target);
    }
    const flags =
      (options?.hold === false ? FrameFlag.NoHold : 0) |
      (options?._toProcess === true ? FrameFlag.ToProcess : 0);
    const key = code * 4 + flags;
    let t = this.targets.get(key);
    if (t === undefined) {
      t = new ChannelTarget(this, code, flags);
      this.targets.set(key, t);
    }
    return t;
  }

  /**
   * @internal Accepts one message (`event` null, from send) or event for delivery. Null, not
   * undefined, marks a send: an emit whose name is missing must fail the name check.
   */
  _enqueue(code: number, flags: number, event: string | null, value: unknown): boolean {
    if (this.state === 'closing' || this.state === 'closed') {
      throw new ChannelClosedError(event === null ? 'send' : `emit '${String(event)}'`);
    }
    const name = event === null ? undefined : this.eventName(event);
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
    const head = HEADER_SIZE + (name === undefined ? 0 : name.length);
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
    if (this.outbox.pendingBytes + frame.length > this.opts.maxQueueBytes) {
      throw new QueueFullError(this.outbox.pendingBytes, this.opts.maxQueueBytes);
    }
    const seq = this.outbox.nextSeq();
    writeHeader(
      frame,
      name === undefined ? FrameType.Message : FrameType.Event,
      flags,
      code,
      name === undefined ? 0 : name.length,
      this.incarnation,
      seq,
    );
    if (name !== undefined) copyName(name, frame);
    this.outbox.add(seq, frame, code);
    if (this.outbox.queuedCount >= EARLY_FLUSH_FRAMES && this.link.joined) this.flush();
    else this.scheduleFlush();
    if (this.outbox.pendingBytes < this.opts.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** @internal The sequence number of the last message accepted by send/emit. */
  get _lastSeq(): number {
    return this.outbox.last;
  }

  /**
   * @internal Whether the message with this sequence number is still unconfirmed: not yet read
   * by its target (in flight, or held for its id), and not given up on.
   */
  _isUnconfirmed(seq: number): boolean {
    return this.outbox.has(seq);
  }

  /** An event name, checked and encoded once: senders repeat the same few names. */
  private eventName(event: string): Buffer {
    const known = this.encodedNames.get(event);
    if (known !== undefined) return known;
    if (typeof event !== 'string' || event.length === 0) {
      throw new InvalidEventNameError(event, 'it must be a non-empty string');
    }
    if (RESERVED_EVENTS.has(event)) {
      throw new InvalidEventNameError(
        event,
        'the channel emits it itself; use send() or another name',
      );
    }
    const bytes = Buffer.from(event, 'utf8');
    if (bytes.length > 1024) throw new InvalidEventNameError(event, 'it is over 1024 bytes');
    if (this.encodedNames.size < MAX_CACHED_NAMES) this.encodedNames.set(event, bytes);
    return bytes;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      // A receipt alone waits for the receipt flush: a reply still settling in promises would
      // otherwise follow it in a second write, and wake the hub twice.
      if (this.canTakeSendable()) this.flush();
    });
  }

  /**
   * Whether the outbox has frames and a path that may take some: the hub, or (while a new hub
   * is elected) an open direct link.
   */
  private canTakeSendable(): boolean {
    return this.outbox.hasSendable && (this.link.joined || this.direct?.anyOpen === true);
  }

  private scheduleReceipt(): void {
    if (this.receiptScheduled) return;
    this.receiptScheduled = true;
    setImmediate(() => {
      this.receiptScheduled = false;
      this.flush();
    });
  }

  /**
   * Writes what is ready, the receipt for what was read first. A receipt goes out in the first
   * flush after reading, never later: a process that dies right after reading must already
   * have said so, or its successor under the same id would be sent those messages again. It
   * costs no extra write in request/response traffic: the reply (even from an async Nest
   * handler, which settles in microtasks) is flushed at the end of the tick and carries it; a
   * receipt with nothing to carry it waits only for the end of this turn of the event loop.
   */
  private flush(): void {
    const joined = this.link.joined;
    const direct = this.direct;
    let frames: Buffer[] = [];
    // Direct links keep carrying what they can while a new hub is elected.
    if (this.canTakeSendable()) frames = this.outbox.takeSendable(direct, joined);
    direct?.flushAcks();
    direct?.flushWrites();
    if (!joined && this.link.state !== HubLinkState.Leaving) return;
    if (this.received > this.receiptSent) {
      this.receiptSent = this.received;
      const receipt = countFrame(FrameType.Receipt, this.received);
      frames = frames.length === 0 ? [receipt] : [receipt].concat(frames);
    }
    if (frames.length > 0) this.link.write(frames);
  }

  /** What the direct links see of this channel. */
  private directOwner(): DirectLinksOwner {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- getters below need the channel
    const channel = this;
    return {
      get selfId() {
        return channel.selfId;
      },
      incarnation: this.incarnation,
      peer: (id) => this.membership.get(id),
      frames: (frames) => this.onFrames(frames, false),
      confirmed: (entries: OutboxEntry[]) => {
        for (const entry of entries) this.outbox.confirm(entry);
        this.afterSettle();
      },
      unroute: (entries: OutboxEntry[], mayHaveRead: boolean) => {
        this.outbox.unroute(entries, mayHaveRead);
        this.scheduleFlush();
      },
      flushSoon: () => this.scheduleFlush(),
      ackSoon: () => this.scheduleReceipt(),
    };
  }

  // ---- receiving ---------------------------------------------------------------------------

  /** Frames from the hub (`fromHub`), or data frames from a peer's direct link. */
  private onFrames(frames: Buffer[], fromHub = true): void {
    let data = 0;
    let thrown: unknown;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const type = frame[OFF_TYPE]!;
      if (type === FrameType.Message || type === FrameType.Event) {
        // Counted as it is read: a control frame later in this batch (Handover) may send a
        // receipt right away, and it must cover these.
        if (fromHub) this.received++;
        data++;
        if (!this.dedup.accept(frame.readUInt32LE(OFF_INC), readSeq(frame))) continue;
        try {
          this.dispatch(type, frame);
        } catch (e) {
          thrown ??= { e };
        }
        continue;
      }
      this.control(type, frame);
    }
    if (data > 0 && fromHub) this.scheduleReceipt();
    if (thrown !== undefined) {
      // A listener threw: that is the application's exception, not ours to swallow. It surfaces
      // as it would from any EventEmitter, after the channel's own bookkeeping is consistent.
      const { e } = thrown as { e: unknown };
      process.nextTick(() => {
        throw e;
      });
    }
  }

  private dispatch(type: number, frame: Buffer): void {
    const sender = frame.readUInt16LE(OFF_SENDER);
    if (type === FrameType.Message) {
      let message: unknown;
      try {
        message = this.decodeAt(frame, HEADER_SIZE);
      } catch (e) {
        this.reportError(new DecodeError(this.codec.name, sender, e));
        return;
      }
      this.emit('message', sender, message);
      return;
    }
    const nameBytes = frame.readUInt16LE(OFF_AUX);
    const start = HEADER_SIZE + nameBytes;
    let args: unknown;
    try {
      if (start > frame.length) throw new RangeError('event name runs past the frame');
      args = this.decodeAt(frame, start);
      if (!Array.isArray(args)) throw new TypeError('event arguments are not an array');
    } catch (e) {
      this.reportError(new DecodeError(this.codec.name, sender, e));
      return;
    }
    const event = this.names.read(frame, HEADER_SIZE, start);
    if (RESERVED_EVENTS.has(event)) return;
    const reader = this.readers.get(event);
    if (reader !== undefined) reader(sender, args as unknown[]);
    else this.emit(event, sender, ...(args as unknown[]));
  }

  private decodeAt(frame: Buffer, start: number): unknown {
    return this.codec === jsonCodec
      ? decodeJsonAt(frame, start)
      : this.codec.decode(frame.subarray(start));
  }

  private control(type: number, frame: Buffer): void {
    switch (type) {
      case FrameType.Ack:
        forEachInRanges(frame, (seq) => this.outbox.ack(seq));
        this.afterSettle();
        break;
      case FrameType.Held:
        forEachInRanges(frame, (seq) => this.outbox.held(seq));
        this.scheduleFlush();
        this.closeWaiter?.(); // held messages no longer keep close() waiting
        break;
      case FrameType.Nack: {
        const nack = readJson<Nack>(frame);
        for (const seq of nack.seqs) {
          const lost = this.outbox.nack(seq);
          if (lost === undefined) continue;
          // The new hub finds no holder; the one that died may have handed it over first, to a
          // process that died with it. "Absent" would promise it never ran.
          const reason = nack.reason as UndeliverableReason;
          this.reportUndeliverable(
            lost.frame,
            lost.resent && reason === 'peer-absent' ? 'peer-left' : reason,
          );
        }
        this.afterSettle();
        break;
      }
      case FrameType.PeerJoin: {
        const record = readJson<PeerRecord & { hub?: boolean }>(frame);
        const change = this.membership.applyJoin(record);
        this.announce(change.left, change.joined);
        if (record.hub && this.currentHubId !== record.id) {
          this.currentHubId = record.id;
          this.emit('hub', record.id);
        }
        break;
      }
      case FrameType.PeerLeave: {
        const leave = readJson<PeerLeave>(frame);
        const peer = this.membership.applyLeave(leave.id, leave.incarnation);
        if (peer !== undefined) this.left(peer);
        break;
      }
      case FrameType.PeerMeta: {
        const update = readJson<PeerMetaUpdate>(frame);
        if (this.membership.setMeta(update.id, update.meta) !== undefined) {
          this.emit('meta', update.id, update.meta);
        }
        break;
      }
      case FrameType.Handover:
        this.link.noteHandover(readJson<Handover>(frame).successor);
        // Answer with the last receipt, so the hub can ack what was read before it goes.
        this.flush();
        this.link.write([controlFrame(FrameType.HandoverDone)]);
        break;
      case FrameType.Bye:
        this.link.noteBye();
        break;
      case FrameType.Retired:
        // Everything read so far was sent before the hub saw the drain; from here on only
        // answers to this process's own requests arrive. A hub taking over must not count those
        // as consumed frames of the streams whose rest waits for the successor.
        this.consumedAtRetire ??= this.consumedMarks();
        this.onRetired?.();
        break;
      case FrameType.PeerRetire: {
        const notice = readJson<{ id: number; incarnation: number }>(frame);
        if (this.membership.applyRetire(notice.id, notice.incarnation) !== undefined) {
          this.emit('retiring', notice.id);
        }
        break;
      }
      case FrameType.Epoch: {
        const { epoch } = readJson<EpochNotice>(frame);
        if (Number.isSafeInteger(epoch) && epoch > this.epochSeen) {
          this.epochSeen = epoch;
          if (this.leading) this.announceLeadership('leader');
        }
        break;
      }
      case FrameType.Fault: {
        const fault = readJson<Fault>(frame);
        this.reportError(
          new ProtocolError(fault.code, `The hub closed this connection: ${fault.message}`),
        );
        break;
      }
      default:
        break;
    }
  }

  private afterSettle(): void {
    this.scheduleFlush();
    if (this.needDrain && this.outbox.pendingBytes <= this.opts.highWaterMark / 2) {
      this.needDrain = false;
      this.emit('drain');
    }
    this.closeWaiter?.();
  }

  private reportUndeliverable(frame: Buffer, reason: UndeliverableReason): void {
    const target = readTarget(frame);
    let event = 'message';
    let data: unknown;
    try {
      if (frame[OFF_TYPE] === FrameType.Event) {
        const start = HEADER_SIZE + frame.readUInt16LE(OFF_AUX);
        event = frame.toString('utf8', HEADER_SIZE, start);
        data = this.codec.decode(frame.subarray(start));
      } else {
        data = this.codec.decode(frame.subarray(HEADER_SIZE));
      }
    } catch {
      data = undefined;
    }
    const error = new UndeliverableError(target, reason, event, data);
    const claimant = this.undeliverableClaims.get(event);
    if (claimant !== undefined) claimant(error);
    else this.reportError(error);
  }

  /**
   * @internal Reports the UndeliverableError of every `event` message to `claimant` instead of
   * 'error': a layer above that answers for those messages itself (the Nest binding fails the
   * request that was not delivered) keeps them from reaching the application twice.
   */
  _claimUndeliverable(event: string, claimant: (error: UndeliverableError) => void): void {
    this.undeliverableClaims.set(event, claimant);
  }

  /**
   * @internal Hands every received `event` to `reader` with its arguments as one array, instead
   * of emitting it: the Nest binding reads its own messages this way, without a spread and an
   * EventEmitter call per message.
   */
  _read(event: string, reader: (sender: number, args: unknown[]) => void): void {
    this.readers.set(event, reader);
  }

  private reportError(error: IpcChannelError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else if (this.log.enabled) this.log.warn(error.message);
    else this.warnUnheard(error);
  }

  /**
   * With no 'error' listener and no logger, a lost message would go unnoticed: Node prints a
   * process warning instead, at most one per error code every few seconds.
   */
  private warnUnheard(error: IpcChannelError): void {
    const now = Date.now();
    if ((this.unheardWarnedAt.get(error.code) ?? -Infinity) > now - UNHEARD_WARNING_MS) return;
    this.unheardWarnedAt.set(error.code, now);
    process.emitWarning(
      `${error.message} (listen with channel.on('error') or pass a logger to handle these)`,
      { type: error.name, code: error.code },
    );
  }

  // ---- membership --------------------------------------------------------------------------

  private claim(): { claim: number; kind: 'explicit' | 'rejoin' | 'preferred' | 'none' } {
    if (this.selfId !== 0) return { claim: this.selfId, kind: 'rejoin' };
    if (this.opts.id !== undefined) return { claim: this.opts.id, kind: 'explicit' };
    if (this.opts.preferredId !== undefined)
      return { claim: this.opts.preferredId, kind: 'preferred' };
    return { claim: 0, kind: 'none' };
  }

  /** What this process has consumed from each known peer (for a retiring rejoin). */
  private consumedMarks(): [number, number][] {
    const incarnations: number[] = [];
    for (const id of this.membership.ids()) {
      const peer = this.membership.get(id);
      if (peer !== undefined) incarnations.push(peer.incarnation);
    }
    return this.dedup.marks(incarnations);
  }

  private expectedPeers(): ExpectedPeer[] {
    return this.membership
      .presumedAlive()
      .filter((p) => p.id !== this.selfId)
      .map((p) => ({ id: p.id, pid: p.pid, incarnation: p.incarnation }));
  }

  private onJoined(welcome: Welcome, hubMaxFrameBytes: number): void {
    const first = this.selfId === 0;
    this.selfId = welcome.id;
    this.received = 0;
    this.receiptSent = 0;
    this.sendLimit = Math.min(this.opts.maxFrameBytes, hubMaxFrameBytes || this.opts.maxFrameBytes);
    const change = this.membership.applySnapshot(welcome.peers);
    this.outbox.rewind(this.hubDied);
    this.hubDied = false;
    this.flush();
    if (this.state === 'connecting' || this.state === 'new')
      this.state = this.retireRequested ? 'retiring' : 'open';
    // A reloaded worker may host the new hub under the old hub's id: a new epoch still tells.
    const hubChanged =
      welcome.hubId !== this.currentHubId ||
      (Number.isSafeInteger(welcome.epoch) && welcome.epoch !== this.epochSeen);
    this.currentHubId = welcome.hubId;
    if (Number.isSafeInteger(welcome.epoch)) this.epochSeen = welcome.epoch;

    this.log.info(
      `${first ? 'joined' : 'rejoined'} channel '${this.name}' as peer ${welcome.id}` +
        (this.isHub ? ' (hosting the hub)' : ` (hub: peer ${welcome.hubId || '?'})`),
    );
    // A process that was retiring when the hub changed tells the new hub too.
    if (this.retireRequested) this.link.write([controlFrame(FrameType.Retire)]);
    this.settleConnect?.();
    this.emit('connect', welcome.id);
    if (hubChanged && welcome.hubId !== 0) this.emit('hub', welcome.hubId);
    this.announce(
      change.left,
      change.joined.filter((p) => p.id !== this.selfId),
    );
    this.updateLeadership();
  }

  private announce(left: PeerInfo[], joined: PeerInfo[]): void {
    for (const p of left) this.left(p);
    for (const p of joined) this.emit('join', p.id);
  }

  private left(peer: PeerInfo): void {
    this.direct?.peerGone(peer.id, peer.incarnation);
    this.emit('leave', peer.id);
  }

  private onDisconnected(error: Error | undefined, handover: boolean): void {
    if (!handover) this.hubDied = true;
    this.updateLeadership();
    if (handover) {
      this.log.info(`the hub of channel '${this.name}' is handing over; joining the next one`);
    } else {
      this.log.warn(
        `lost the hub of channel '${this.name}'${error ? ` (${error.message})` : ''}; electing a new one`,
      );
    }
    const dead = this.membership.presumeAll(this.selfId);
    this.emit('disconnect', error);
    for (const p of dead) this.left(p);
    this.watchPresumed();
  }

  /**
   * Peers presumed alive after a failover are checked again every few hundred ms (a peer killed
   * together with the hub leaves as soon as its death is visible) and dropped after graceMs.
   */
  private watchPresumed(): void {
    clearInterval(this.presumedTimer);
    const deadline = Date.now() + this.opts.graceMs;
    this.presumedTimer = setInterval(() => {
      const left =
        Date.now() >= deadline
          ? this.membership.expirePresumed()
          : this.membership.dropDeadPresumed();
      for (const p of left) this.left(p);
      if (Date.now() >= deadline || !this.membership.anyPresumed())
        clearInterval(this.presumedTimer);
    }, PRESUMED_CHECK_MS);
    this.presumedTimer.unref();
  }

  // ---- leadership --------------------------------------------------------------------------

  /** The epoch a hub this process hosts starts with (asked once, as the hub is created). */
  private firstHubEpoch(): number {
    if (this.epochSeen === 0) {
      // Knowing no history, this process cannot tell a new channel from a hub that just died:
      // it leads only once the survivors (if any) have had time to rejoin and raise the epoch.
      clearTimeout(this.leaderSettling);
      this.leaderSettling = setTimeout(() => {
        this.leaderSettling = undefined;
        this.updateLeadership();
      }, FRESH_HUB_SETTLE_MS);
      this.leaderSettling.unref();
    }
    return this.epochSeen === 0 ? freshEpoch() : this.epochSeen + 1;
  }

  /** Recomputes whether this process leads; announces a change. */
  private updateLeadership(): void {
    const hub = this.link.hub;
    const leads =
      hub !== undefined &&
      !hub.stopped &&
      this.link.joined &&
      !this.retireRequested &&
      !this.closeBegun &&
      this.leaderSettling === undefined;
    if (leads === this.leading) return;
    this.leading = leads;
    this.log.info(
      leads
        ? `peer ${this.selfId} leads channel '${this.name}' (epoch ${this.epochSeen})`
        : `peer ${this.selfId} no longer leads channel '${this.name}'`,
    );
    this.announceLeadership(leads ? 'leader' : 'follower');
  }

  /**
   * Runs from inside the hub's and the link's state changes: a listener that throws must not
   * leave them half done, so its exception surfaces afterwards, as any EventEmitter's would.
   */
  private announceLeadership(event: 'leader' | 'follower'): void {
    try {
      this.emit(event, this.epochSeen);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
    }
  }

  private onFailed(error: IpcChannelError, initial: boolean): void {
    if (initial && this.settleConnect !== undefined) {
      this.settleConnect(error);
      return;
    }
    this.reportError(error);
  }

  // ---- closing -----------------------------------------------------------------------------

  private closeWaiter: (() => void) | undefined;

  private async shutDown(graceful: boolean): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const wasOpen = this.state === 'open' || this.state === 'retiring';
    const hostedHub = this.isHub;
    this.closeBegun = true;
    clearTimeout(this.leaderSettling);
    this.updateLeadership();
    this.closing = (async () => {
      const started = Date.now();
      if (graceful && wasOpen) {
        // Take nothing new, read what is on its way, answer it: then leave.
        this.log.info(`closing: peer ${this.selfId} takes nothing new`);
        await this.retire();
        if (!this.outboxSettled()) await this.waitForOutbox();
      }
      this.state = 'closing';
      if (graceful && wasOpen && !this.outboxSettled()) await this.waitForOutbox();
      if (graceful && this.link.joined) {
        await this.link.leave(1000);
        this.flush(); // the final Receipt for what arrived before Bye
      }
      await this.link.close();
      this.direct?.close();
      clearInterval(this.presumedTimer);
      // Messages the hub holds for an absent peer stay in its custody after a peer leaves; only
      // a hub process takes its own held messages with it.
      for (const frame of this.outbox.takeAll(hostedHub)) {
        this.reportUndeliverable(frame, 'channel-closed');
      }
      this.settleConnect?.(new ChannelClosedError('join the channel'));
      this.state = 'closed';
      this.log.info(`closed channel '${this.name}' in ${Date.now() - started} ms`);
      this.emit('close');
    })();
    return this.closing;
  }

  /**
   * Whether close() may proceed: nothing is waiting to reach the hub. Messages the hub holds for
   * an absent peer survive this process leaving, except when this process is the hub.
   */
  private outboxSettled(): boolean {
    return this.isHub ? this.outbox.size === 0 : this.outbox.unheldCount === 0;
  }

  private waitForOutbox(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.closeWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.opts.closeTimeoutMs);
      this.closeWaiter = () => {
        if (this.outboxSettled()) done();
      };
      this.scheduleFlush();
    });
  }

  // ---- typed listeners ---------------------------------------------------------------------

  /** Listens to a lifecycle event, or to a user event `(sender, ...args)`. */
  override on<K extends keyof ChannelEventMap>(event: K, listener: Listener<K>): this;
  override on(event: string, listener: (sender: number, ...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends keyof ChannelEventMap>(event: K, listener: Listener<K>): this;
  override once(event: string, listener: (sender: number, ...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  override off<K extends keyof ChannelEventMap>(event: K, listener: Listener<K>): this;
  override off(event: string, listener: (sender: number, ...args: any[]) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}
