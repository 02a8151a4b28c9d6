import { randomBytes } from 'node:crypto';
import { type ChannelOptions, checkMeta, hubLimits, resolveOptions } from './channel-options.js';
import { ChannelEmitter, type PeerDetails } from './channel-events.js';
import {
  ChannelTarget,
  type PeerId,
  type RemotePeer,
  type SendOptions,
  type TargetSpec,
  sendFlags,
  targetRoute,
} from './channel-target.js';
import { DirectLinks } from './direct/direct-links.js';
import { resolveEndpoint } from './endpoint/endpoint.js';
import type { TransportKind } from './endpoint/endpoint-choice.js';
import type { DeliveryFailure } from './errors.js';
import { Log } from './logger.js';
import { BridgeHost } from './peer/bridge-host.js';
import { Dedup } from './peer/dedup.js';
import { DirectAdapter } from './peer/direct-adapter.js';
import { ErrorReporter } from './peer/error-reporter.js';
import { HubControl } from './peer/hub-control.js';
import { HubLink, HubLinkState } from './peer/hub-link.js';
import { Leadership } from './peer/leadership.js';
import { Lifecycle } from './peer/lifecycle.js';
import { Membership } from './peer/membership.js';
import { Outbox } from './peer/outbox.js';
import type { PeerContext } from './peer/peer-part.js';
import { PeerDirectory } from './peer/peer-directory.js';
import { PeerState } from './peer/peer-state.js';
import { Presence } from './peer/presence.js';
import { Receiver } from './peer/receiver.js';
import { RemoteMembership } from './peer/remote-membership.js';
import { Sender } from './peer/sender.js';
import type { ChannelStats } from './peer/stats.js';
import { resolveCodec } from './wire/codec.js';

export type { ChannelEventMap } from './channel-events.js';

/** Frames in flight to the hub before the sender waits for acks. */
const WINDOW_FRAMES = 8192;
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Targets remembered by to() (remote peers make the set open-ended). */
const MAX_CACHED_TARGETS = 4096;

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
export class Channel extends ChannelEmitter {
  /** The channel name (see ChannelOptions.name). */
  readonly name: string;
  /** Where this channel's hub is found: the socket path, the pipe name, or the tcp endpoint file. */
  readonly endpoint: string;
  /** The endpoint kind in use: `'unix'`, `'pipe'` or `'tcp'` (see the `transport` option). */
  readonly transport: TransportKind;
  /** The `highWaterMark` in effect: above it in pendingBytes, send/emit return false. */
  readonly highWaterMark: number;
  /** This host's name when federated (see the `federation` option), else undefined. */
  readonly host: string | undefined;

  // The parts in peer/, each created once here and wired to the others it calls.
  private readonly state: PeerState;
  private readonly hubLink: HubLink;
  private readonly outbox = new Outbox(WINDOW_FRAMES, WINDOW_BYTES);
  private readonly membership = new Membership();
  private readonly errors: ErrorReporter;
  private readonly leadership: Leadership;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly presence: Presence;
  private readonly lifecycle: Lifecycle;
  private readonly targets = new Map<number | string, ChannelTarget>();
  private readonly directory: PeerDirectory;

  constructor(options: ChannelOptions = {}) {
    super();
    const opts = resolveOptions(options);
    const codec = resolveCodec(options.codec);
    const log = new Log(options.logger);
    this.name = opts.name;
    const hubAddress = resolveEndpoint(opts.name, { dir: opts.dir, transport: opts.transport });
    this.endpoint = hubAddress.path;
    this.transport = hubAddress.kind;
    this.highWaterMark = opts.highWaterMark;
    this.host = opts.host;
    const state = new PeerState(randomBytes(4).readUInt32LE(0) || 1, options.meta ?? null);
    this.state = state;
    this.errors = new ErrorReporter(this, log, codec, this.outbox.confirmations, opts.graceMs);
    const bridges = BridgeHost.of(opts, log, {
      onLease: () => this.leadership.update(),
      onError: (error) => this.errors.report(error),
    });
    // The link calls back into parts created after it; it calls nothing before start().
    this.hubLink = new HubLink(
      {
        endpoint: hubAddress,
        name: opts.name,
        codec: codec.name,
        secret: opts.secret,
        maxFrameBytes: opts.maxFrameBytes,
        hub: {
          ...hubLimits(opts),
          onFault: (error) => this.errors.report(error),
          firstEpoch: () => this.leadership.firstHubEpoch(),
          onStop: () => this.leadership.update(),
          federated: bridges !== undefined,
        },
        log,
        bridges,
      },
      {
        joinRequest: () => this.presence.joinRequest(),
        expectedPeers: () => this.presence.expectedPeers(),
        joined: (welcome, hubMaxFrameBytes) => this.presence.joined(welcome, hubMaxFrameBytes),
        frames: (frames) => this.receiver.onFrames(frames, true),
        disconnected: (error, handover) => this.presence.disconnected(error, handover),
        failed: (error, initial) => this.lifecycle.failed(error, initial),
        error: (error) => this.errors.report(error),
      },
    );
    const ctx: PeerContext = {
      channel: this,
      state,
      options: opts,
      codec,
      log,
      hubLink: this.hubLink,
      outbox: this.outbox,
      membership: this.membership,
      errors: this.errors,
    };
    const dedup = new Dedup();
    const remote = new RemoteMembership(this);
    this.directory = new PeerDirectory(this.membership, remote, opts.host);
    this.leadership = new Leadership(ctx, bridges);
    this.sender = new Sender(ctx);
    this.presence = new Presence(ctx, dedup, this.sender, this.leadership);
    const control = new HubControl(ctx, this.sender, this.presence, this.leadership);
    this.receiver = new Receiver(ctx, dedup, this.sender, control, remote);
    if (opts.directLinks && DirectLinks.supported(hubAddress.kind)) {
      const adapter = new DirectAdapter(ctx, this.sender, this.receiver);
      state.direct = new DirectLinks(adapter, opts.maxFrameBytes, log, opts);
    }
    this.lifecycle = new Lifecycle(ctx, hubAddress, this.sender, this.presence, this.leadership);
  }

  // ---- state -------------------------------------------------------------------------------

  /** This process's peer id, or undefined until it has joined. */
  get id(): number | undefined {
    return this.state.selfId === 0 ? undefined : this.state.selfId;
  }

  /** Whether this process is joined right now (false while a new hub is being elected). */
  get connected(): boolean {
    return this.hubLink.state === HubLinkState.Joined;
  }

  /** Whether this process hosts the hub. */
  get isHub(): boolean {
    return this.hubLink.hub !== undefined;
  }

  /** The peer id of the process hosting the hub (undefined while unknown). */
  get hubId(): number | undefined {
    return this.state.hubId === 0 ? undefined : this.state.hubId;
  }

  /**
   * Whether this process is the channel's leader: it hosts the hub, its own peer is joined, it
   * is not shutting down, and the hub's socket is still the published one (checked on each
   * read, one `lstat`). At most one process of a channel sees `true` at any moment; after the
   * leader dies another one leads as soon as it hosts the new hub. `'leader'` and `'follower'`
   * tell when it changes.
   */
  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  /**
   * The leadership epoch of the hub this process is joined to (or last was): every new hub
   * takes one above the highest any of its peers has seen, so a leader's epoch is greater than
   * every earlier leader's. Use it as a fencing token. 0 before joining. A channel started from
   * nothing (no process of it running) begins at the wall clock in milliseconds, so the epoch
   * keeps rising across full restarts too, unless the system clock was set back meanwhile.
   */
  get epoch(): number {
    return this.state.epoch;
  }

  /**
   * Ids of every joined peer, self included: this host's ascending, then (federated) those of
   * other hosts as `'<host>/<id>'`, by host, then id.
   */
  get peers(): PeerId[] {
    return this.directory.peers();
  }

  /** Known hosts, this one included, sorted (federated channels; empty otherwise). */
  get hosts(): string[] {
    return this.directory.hosts();
  }

  /** The `meta` a peer announced (undefined for unknown peers). */
  peerMeta(id: PeerId): unknown {
    return this.directory.info(id)?.meta;
  }

  /**
   * What this process knows of a peer: its pid, its meta, whether it is shutting down
   * (retiring: it takes no new messages) and, federated, its host. Undefined for unknown ids.
   */
  peerInfo(id: number): PeerDetails<number> | undefined;
  peerInfo(id: PeerId): PeerDetails | undefined;
  peerInfo(id: PeerId): PeerDetails | undefined {
    return this.directory.info(id);
  }

  /**
   * Peer ids this process now sends to over a direct link, not through the hub (see the
   * `directLinks` option). A link opens the first time a peer is sent something.
   */
  get directPeers(): number[] {
    return this.state.direct?.peers ?? [];
  }

  /** Bytes accepted by send/emit and not yet confirmed delivered. */
  get pendingBytes(): number {
    return this.outbox.pendingBytes;
  }

  /** Messages accepted by send/emit and not yet confirmed delivered. */
  get pendingMessages(): number {
    return this.outbox.size;
  }

  /**
   * What this process's side of the channel has sent, received and lived through, and what it
   * holds now, as plain numbers: cheap enough to read on every metrics scrape.
   */
  stats(): ChannelStats {
    return this.state.counters.snapshot(this.outbox);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Joins the channel: connects to the hub, or becomes it. Resolves once this process has an
   * id. Sends made before are queued and go out then. Rejects with a typed error if the
   * directory is unsafe, the id is taken, the secret or codec differ, or `connectTimeoutMs`
   * passes.
   */
  connect(): Promise<void> {
    return this.lifecycle.connect();
  }

  /**
   * Stops new messages to this process: from now on the hub keeps what is sent to this peer id
   * for the next process that takes the id (a PM2 reload's successor), and requests to it fail
   * at once so their senders can retry elsewhere. Resolves once everything sent to this
   * process before has been read. Sending still works (to answer what was received) until
   * `close()`, which retires first.
   */
  retire(): Promise<void> {
    return this.lifecycle.retire();
  }

  /**
   * Leaves the channel gracefully: waits (up to `closeTimeoutMs`) until every accepted message
   * is confirmed, tells the hub, and, if this process is the hub, hands the hub to another peer.
   * Messages still unconfirmed after the timeout are reported as undeliverable.
   */
  close(): Promise<void> {
    return this.lifecycle.shutDown(true);
  }

  /**
   * Resolves once every message accepted so far (by `send`, `emit` and their confirmed forms)
   * has been read by its targets: the moment to exit or report "saved" after a batch. Rejects
   * with the first UndeliverableError or DeliveryUncertainError among them; each failure is
   * still reported as usual (`'error'`, or its own `sendConfirmed` promise). Messages sent
   * after the call are not waited for. Resolves at once when nothing is unconfirmed.
   */
  allConfirmed(): Promise<void> {
    return this.outbox.confirmations.watchAll(this.outbox.last, this.outbox.oldest);
  }

  /** Replaces this process's `meta`; other peers get a `'meta'` event. */
  setMeta(meta: unknown): void {
    checkMeta(meta, 'setMeta(meta)');
    this.presence.setMeta(meta);
  }

  // ---- sending -----------------------------------------------------------------------------

  /**
   * Addresses one peer (a local id, or `'<host>/<id>'` on another host), every peer (`'all'`,
   * this one included), every other peer (`'others'`), or every peer of this host (`'host'`).
   * `ch.to(2).send(msg)`, `ch.to('all').emit('event', ...args)`. Throws InvalidTargetError for
   * anything else. A peer on a host not known yet is sent to anyway: that host may be starting.
   */
  to(target: TargetSpec, options?: SendOptions): ChannelTarget {
    const flags = sendFlags(options);
    const key = typeof target === 'number' ? target * 8 + flags : `${target}|${flags}`;
    let t = this.targets.get(key);
    if (t === undefined) {
      const route = targetRoute(target, this.host);
      t = new ChannelTarget(this, route.code, route.flags | flags, route.remote);
      if (this.targets.size < MAX_CACHED_TARGETS) this.targets.set(key, t);
    }
    return t;
  }

  /**
   * @internal Accepts one message (`event` null, from send) or event for delivery. Null, not
   * undefined, marks a send: an emit whose name is missing must fail the name check.
   */
  _enqueue(
    code: number,
    flags: number,
    event: string | null,
    value: unknown,
    remote?: RemotePeer,
  ): boolean {
    return this.sender.enqueue(code, flags, event, value, remote);
  }

  /**
   * @internal Accepts one message or event (see _enqueue) and returns a promise for its
   * verdict; what `_enqueue` would throw is the rejection.
   */
  _enqueueConfirmed(
    code: number,
    flags: number,
    event: string | null,
    value: unknown,
    remote?: RemotePeer,
  ): Promise<void> {
    return this.sender.enqueueConfirmed(code, flags, event, value, remote);
  }

  /** @internal A promise for the verdict on the message with this sequence number. */
  _confirmation(seq: number): Promise<void> {
    return this.outbox.has(seq) ? this.outbox.confirmations.watch(seq) : Promise.resolve();
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

  /** @internal Whether the channel has joined and is now waiting for a new hub. */
  get _betweenHubs(): boolean {
    const phase = this.state.phase;
    return (phase === 'open' || phase === 'retiring') && !this.connected;
  }

  // ---- receiving and errors ----------------------------------------------------------------

  /**
   * @internal Reports the failure (UndeliverableError or DeliveryUncertainError) of every `event`
   * message to `claimant` instead of 'error': a layer above that answers for those messages
   * itself (the Nest binding fails the request that was not delivered) keeps them from reaching the application twice.
   */
  _claimUndeliverable(event: string, claimant: (error: DeliveryFailure) => void): void {
    this.errors.claim(event, claimant);
  }

  /**
   * @internal Hands every received `event` to `reader` with its arguments as one array, instead
   * of emitting it: the Nest binding reads its own messages this way, without a spread and an
   * EventEmitter call per message.
   */
  _read(event: string, reader: (sender: number, args: unknown[]) => void): void;
  _read(event: string, reader: (sender: PeerId, args: unknown[]) => void): void;
  _read(event: string, reader: (sender: any, args: unknown[]) => void): void {
    this.receiver.read(event, reader);
  }
}
