import type { BridgeHost } from './bridge-host.js';
import { type PeerContext, PeerPart } from './peer-part.js';

/**
 * How long a hub hosted by a process that has never joined waits before its process leads:
 * survivors of a hub that just died may be rejoining it, and they know the epoch it must
 * exceed. (A process that was joined before knows it already and leads at once.)
 */
const FRESH_HUB_SETTLE_MS = 300;

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

/**
 * Whether this process leads its channel: it hosts the hub, its own peer is joined, and it is
 * not shutting down; federated, its bridge also holds the store's lease, whose fencing epoch
 * then becomes this process's epoch. Announces each change with 'leader' / 'follower', and a
 * rising epoch while leading with 'leader' again.
 */
export class Leadership extends PeerPart {
  /** Whether this process leads, as last announced. */
  private leading = false;
  /** A hub this process hosts is waiting for FRESH_HUB_SETTLE_MS before its process leads. */
  private settling: NodeJS.Timeout | undefined;
  /** close() has begun: no longer a candidate. */
  private resigned = false;

  constructor(
    ctx: PeerContext,
    /** The bridge of a federated channel (undefined: not federated). */
    private readonly bridge?: BridgeHost,
  ) {
    super(ctx);
  }

  /**
   * See Channel.isLeader: leading, the hub's socket is still the published one and, federated,
   * the lease is still valid now (it lapses with time, before the bridge notices).
   */
  get isLeader(): boolean {
    return (
      this.leading &&
      this.hubLink.hub?.ownsPublication() === true &&
      (this.bridge === undefined || this.bridge.leading)
    );
  }

  /** The epoch a hub this process hosts starts with (asked once, as the hub is created). */
  firstHubEpoch(): number {
    if (this.state.epoch === 0) {
      // Knowing no history, this process cannot tell a new channel from a hub that just died:
      // it leads only once the survivors (if any) have had time to rejoin and raise the epoch.
      clearTimeout(this.settling);
      this.settling = setTimeout(() => {
        this.settling = undefined;
        this.update();
      }, FRESH_HUB_SETTLE_MS);
      this.settling.unref();
    }
    return this.state.epoch === 0 ? freshEpoch() : this.state.epoch + 1;
  }

  /** Recomputes whether this process leads; announces a change. */
  update(): void {
    const hub = this.hubLink.hub;
    const leads =
      hub !== undefined &&
      !hub.stopped &&
      this.hubLink.joined &&
      !this.state.retireRequested &&
      !this.resigned &&
      this.settling === undefined &&
      (this.bridge === undefined || this.bridge.leading);
    if (leads && this.bridge !== undefined) {
      // The lease's fencing epoch orders leaders across hosts; a renewal keeps it.
      const epoch = this.bridge.leaseEpoch;
      if (epoch > this.state.epoch) {
        this.state.epoch = epoch;
        if (this.leading) this.announce('leader');
      }
    }
    if (leads === this.leading) return;
    this.leading = leads;
    const self = this.state.selfId;
    const name = this.options.name;
    this.log.info(
      leads
        ? `peer ${self} leads channel '${name}' (epoch ${this.state.epoch})`
        : `peer ${self} no longer leads channel '${name}'`,
    );
    this.announce(leads ? 'leader' : 'follower');
  }

  /** The hub announced an epoch; a higher one is this process's new fencing token. */
  raiseEpoch(epoch: number): void {
    if (Number.isSafeInteger(epoch) && epoch > this.state.epoch) {
      this.state.epoch = epoch;
      if (this.leading) this.announce('leader');
    }
  }

  /** close() has begun: this process stops leading, and a hub still settling never makes it. */
  resign(): void {
    this.resigned = true;
    clearTimeout(this.settling);
    this.update();
  }

  /**
   * Runs from inside the hub's and the link's state changes: a listener that throws must not
   * leave them half done, so its exception surfaces afterwards, as any EventEmitter's would.
   */
  private announce(event: 'leader' | 'follower'): void {
    try {
      this.channel.emit(event, this.state.epoch);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
    }
  }
}
