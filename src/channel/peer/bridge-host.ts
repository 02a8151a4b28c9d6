import type { ResolvedOptions } from '../channel-options.js';
import type { IpcChannelError } from '../errors.js';
import { Bridge } from '../federation/bridge.js';
import type { ResolvedFederationOptions } from '../federation/federation-options.js';
import type { Hub } from '../hub/hub.js';
import type { Log } from '../logger.js';

/** What the bridge of a hub this process hosts is made with. */
export interface BridgeHostOptions {
  readonly channel: string;
  readonly secret: Buffer | undefined;
  readonly federation: ResolvedFederationOptions;
  readonly heartbeatIntervalMs: number;
  readonly maxFrameBytes: number;
  readonly log: Log;
  /** The bridge's lease changed (held, lost, new epoch), or the bridge went with its hub. */
  readonly onLease: () => void;
  readonly onError: (error: IpcChannelError) => void;
}

/**
 * The bridge to other hosts of a federated channel, which lives with the hub: made and started
 * once this process's own peer has joined the hub it hosts (so the hosts view it publishes has
 * this process in it), and closed when the hub stops or the channel closes.
 */
export class BridgeHost {
  private bridge: Bridge | undefined;
  private hub: Hub | undefined;

  constructor(private readonly options: BridgeHostOptions) {}

  /** The bridge host of a channel with these options; undefined when it is not federated. */
  static of(
    opts: ResolvedOptions,
    log: Log,
    events: Pick<BridgeHostOptions, 'onLease' | 'onError'>,
  ): BridgeHost | undefined {
    if (opts.federation === undefined) return undefined;
    return new BridgeHost({
      channel: opts.name,
      secret: opts.secret,
      federation: opts.federation,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      maxFrameBytes: opts.maxFrameBytes,
      log,
      ...events,
    });
  }

  /** Whether the bridge holds the store's leadership lease now (see Bridge.leading). */
  get leading(): boolean {
    return this.bridge?.leading === true;
  }

  /** The fencing epoch of the lease the bridge holds or last held (0: never held). */
  get leaseEpoch(): number {
    return this.bridge?.leaseEpoch ?? 0;
  }

  /** This process now hosts `hub`: its bridge comes once this process's peer joined it. */
  hosted(hub: Hub): void {
    this.stopped(this.hub);
    this.hub = hub;
  }

  /**
   * This process's peer joined the hub it hosts: the bridge is made and started (once per hub),
   * in one go: the hub greets it as it attaches, and only a started bridge reads that greeting.
   */
  joined(hub: Hub | undefined): void {
    if (hub === undefined || hub !== this.hub || this.bridge !== undefined) return;
    const o = this.options;
    this.bridge = new Bridge(hub.attachBridge(), {
      channel: o.channel,
      host: o.federation.host,
      secret: o.secret,
      federation: o.federation,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      maxFrameBytes: o.maxFrameBytes,
      log: o.log,
      onLease: o.onLease,
      onError: o.onError,
    });
    this.bridge.start();
  }

  /** `hub` stopped (stepped down, handed over, or closed): its bridge goes with it. */
  stopped(hub: Hub | undefined): void {
    if (hub === undefined || hub !== this.hub) return;
    void this.close();
  }

  /** Closes the bridge, if any; leadership is recomputed (it no longer holds the lease). */
  async close(): Promise<void> {
    const bridge = this.bridge;
    this.bridge = undefined;
    this.hub = undefined;
    if (bridge === undefined) return;
    this.options.onLease();
    try {
      await bridge.close();
    } catch (e) {
      this.options.log.warn(`closing the bridge to other hosts failed: ${String(e)}`);
    }
  }
}
