import type { IpcChannelError } from '../errors.js';
import type { FrameDuplex } from '../io/frame-duplex.js';
import type { Log } from '../logger.js';
import type { FrameType } from '../wire/frame.js';
import type { Welcome } from '../wire/handshake.js';
import { BatchAuth } from './batch-auth.js';
import { BridgeInbound } from './bridge-inbound.js';
import { BridgeLink } from './bridge-link.js';
import { BridgeOutbound } from './bridge-outbound.js';
import { createAdapter } from './create-adapter.js';
import type { FederationAdapter } from './federation-adapter.js';
import { FederationDependencyError } from './federation-errors.js';
import type { ResolvedFederationOptions } from './federation-options.js';
import { HostDirectory } from './host-directory.js';
import { LeaderLease } from './leader-lease.js';
import { Backoff, StoreHealth } from './store-health.js';

export { resolveFederation } from './federation-options.js';

/** How long close() waits for its last store calls (release, acks, withdrawal). */
const CLOSE_WAIT_MS = 500;

/** Runs `work`, waiting for it CLOSE_WAIT_MS at most; its failure is ignored. */
async function bounded(work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work().catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
  ]);
  clearTimeout(timer);
}

/** What a Bridge is made with (by the hub link of the process hosting the hub). */
export interface BridgeOptions {
  readonly channel: string;
  readonly host: string;
  /** The channel's secret: with one, everything stored for other hosts is authenticated. */
  readonly secret: string | Buffer | undefined;
  readonly federation: ResolvedFederationOptions;
  readonly heartbeatIntervalMs: number;
  readonly maxFrameBytes: number;
  readonly log: Log;
  /** Leadership changed (held, lost, or a new epoch). */
  readonly onLease: () => void;
  /** A problem worth reporting (the store unreachable, ioredis missing); the bridge carries on. */
  readonly onError: (e: IpcChannelError) => void;
}

/** The states of a Bridge. */
export enum BridgeState {
  Idle = 'idle',
  /** Joined or joining its hub; connecting to the store (retrying). */
  Connecting = 'connecting',
  /** The store is connected: frames cross hosts. */
  Running = 'running',
  Closed = 'closed',
}

/**
 * The bridge between this host and the others, in the process hosting the hub. To the hub it is
 * a connection holding BRIDGE_ID (see Hub.attachBridge); to the store, one adapter. Frames for
 * other hosts go to their inboxes and are receipted once stored (BridgeOutbound); this host's
 * inbox comes in as the bridge's own frames and is acknowledged once delivered (BridgeInbound);
 * who is on which host is published and read (HostDirectory); the leadership lease is kept
 * (LeaderLease). It moves with the hub: a new hub starts a new bridge.
 */
export class Bridge {
  state = BridgeState.Idle;
  private readonly link: BridgeLink;
  private readonly health: StoreHealth;
  private readonly outbound: BridgeOutbound;
  private readonly inbound: BridgeInbound;
  private readonly directory: HostDirectory;
  private readonly lease: LeaderLease;
  private adapter: FederationAdapter | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff();
  /** The close under way or done: every caller waits for the same. */
  private closing: Promise<void> | undefined;

  constructor(
    duplex: FrameDuplex,
    private readonly options: BridgeOptions,
  ) {
    const { channel, host, secret, federation, log } = options;
    const auth = new BatchAuth(secret, channel);
    this.health = new StoreHealth(log, options.onError);
    const send = (frame: Buffer) => this.link.send(frame);
    this.directory = new HostDirectory({
      host,
      auth,
      health: this.health,
      log,
      intervalMs: Math.max(
        1,
        Math.min(options.heartbeatIntervalMs, Math.floor(federation.hostTimeoutMs / 3)),
      ),
      hostTimeoutMs: federation.hostTimeoutMs,
      send,
      onHostsKnown: () => this.outbound.hostsKnown(),
    });
    this.outbound = new BridgeOutbound({
      host,
      auth,
      health: this.health,
      log,
      otherHosts: () => this.directory.otherHosts(),
      done: (count) => this.link.receipt(count),
    });
    this.inbound = new BridgeInbound({ auth, health: this.health, log, send });
    this.lease = new LeaderLease({
      leaseMs: federation.leaseMs,
      health: this.health,
      onChange: () => options.onLease(),
    });
    this.link = new BridgeLink(duplex, options.maxFrameBytes, log, {
      joined: (welcome: Welcome) => this.directory.welcome(welcome),
      data: (frame: Buffer, index: number) => this.outbound.take(frame, index),
      notice: (type: FrameType, frame: Buffer) => this.directory.notice(type, frame),
      settled: (seq: number, nack: string | undefined) => this.inbound.settled(seq, nack),
      closed: () => void this.close(),
    });
  }

  /** Joins the hub, then creates and connects the store's adapter (retrying) and runs. */
  start(): void {
    if (this.state !== BridgeState.Idle) return;
    this.state = BridgeState.Connecting;
    this.link.start();
    void this.connect();
  }

  /** Whether this host leads the channel: the lease is held and surely still valid. */
  get leading(): boolean {
    return this.state === BridgeState.Running && this.lease.leading;
  }

  /** The lease's fencing epoch while held or last held; 0 when never held. */
  get leaseEpoch(): number {
    return this.lease.epoch;
  }

  /**
   * Stops reading and forwarding, gives the lease up, and leaves the hub. The host's view is
   * emptied only when no peer but the hub's own is left on this host (the others otherwise
   * stay, with the next hub's bridge); what was not stored or delivered is sent again by its senders, or read
   * again by the next bridge. Store calls made on the way out wait CLOSE_WAIT_MS at most.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = BridgeState.Closed;
    clearTimeout(this.retryTimer);
    this.outbound.stop();
    this.inbound.stop();
    this.directory.stop();
    this.link.close();
    const adapter = this.adapter;
    this.adapter = undefined;
    await bounded(async () => {
      await this.lease.close();
      await this.inbound.acksDone();
      if (adapter !== undefined && this.directory.nobodyElse())
        await this.directory.vacate(adapter);
    });
    await adapter?.close().catch(() => {});
  }

  private async connect(): Promise<void> {
    const { federation, channel, host } = this.options;
    let adapter: FederationAdapter;
    try {
      adapter = await createAdapter(federation, { channel, host, prefix: federation.prefix });
    } catch (e) {
      if (this.closed()) return;
      if (e instanceof FederationDependencyError) {
        // No store, ever: broadcasts stay on this host rather than wait for one.
        this.options.log.error(e.message);
        this.options.onError(e);
        this.outbound.hostsKnown();
        return;
      }
      this.health.failed('create its adapter', e);
      this.retryLater();
      return;
    }
    if (this.closed()) {
      await adapter.close().catch(() => {});
      return;
    }
    this.adapter = adapter;
    try {
      await adapter.connect();
    } catch (e) {
      if (this.closed()) return;
      this.adapter = undefined;
      await adapter.close().catch(() => {});
      this.health.failed('connect', e);
      this.retryLater();
      return;
    }
    if (this.closed()) return;
    this.health.ok();
    this.state = BridgeState.Running;
    this.outbound.ready(adapter);
    this.inbound.start(adapter);
    this.directory.start(adapter);
    this.lease.start(adapter);
  }

  /** A method, so TypeScript does not narrow `state` across awaits. */
  private closed(): boolean {
    return this.state === BridgeState.Closed;
  }

  private retryLater(): void {
    this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
    this.retryTimer.unref();
  }
}
