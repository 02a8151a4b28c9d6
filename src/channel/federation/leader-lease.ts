import type { FederationAdapter } from './federation-adapter.js';
import type { StoreHealth } from './store-health.js';

/** The life of this host's claim on the channel's leadership lease. */
export enum LeaseState {
  /** Not started, or closed. */
  Idle = 'idle',
  /** The first attempt is under way. */
  Acquiring = 'acquiring',
  /** Held, until `validUntil` unless renewed. */
  Held = 'held',
  /** Another holder has it, or a renewal did not come in time. */
  Lost = 'lost',
}

export interface LeaderLeaseOptions {
  readonly leaseMs: number;
  readonly health: StoreHealth;
  /** Leadership changed: held, lost, or a new epoch. */
  readonly onChange: () => void;
  /** The clock (ms); Date.now by default. */
  readonly now?: () => number;
}

/**
 * The leadership lease across hosts. Taken and renewed every leaseMs/3; while held it is valid
 * until the time the renewal was SENT plus leaseMs, less a margin of max(leaseMs/10, 250 ms) for
 * clock drift between this host and the store: the store cannot have given it to another holder
 * before then. A timer at that moment drops leadership if no renewal came.
 */
export class LeaderLease {
  state = LeaseState.Idle;
  /** The fencing epoch of the lease while held or last held; 0 before. */
  epoch = 0;
  /** Until when the lease is surely held (ms, this host's clock). */
  validUntil = 0;
  private adapter: FederationAdapter | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private attempting = false;
  private readonly now: () => number;

  constructor(private readonly options: LeaderLeaseOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether this host leads now: the lease is held and still surely valid. */
  get leading(): boolean {
    return this.state === LeaseState.Held && this.now() < this.validUntil;
  }

  /** Starts taking and renewing the lease (the store is connected). */
  start(adapter: FederationAdapter): void {
    if (this.state !== LeaseState.Idle) return;
    this.adapter = adapter;
    this.state = LeaseState.Acquiring;
    void this.attempt();
    this.renewTimer = setInterval(() => void this.attempt(), Math.max(1, this.options.leaseMs / 3));
    this.renewTimer.unref();
  }

  /** Stops renewing and gives the lease up if held (the next holder need not wait it out). */
  async close(): Promise<void> {
    const wasHeld = this.state === LeaseState.Held;
    const adapter = this.adapter;
    this.stopTimers();
    this.adapter = undefined;
    this.set(LeaseState.Idle, this.epoch);
    if (wasHeld && adapter !== undefined) {
      await adapter.releaseLease().catch(() => {});
    }
  }

  /** One take-or-renew call; overlapping ones are skipped (the store is slow). */
  private async attempt(): Promise<void> {
    const adapter = this.adapter;
    if (adapter === undefined || this.attempting) return;
    this.attempting = true;
    const sentAt = this.now();
    let epoch: number | undefined;
    try {
      epoch = await adapter.lease(this.options.leaseMs);
    } catch (e) {
      // The validity timer drops a held lease if the store stays unreachable.
      if (this.adapter !== undefined) this.options.health.failed('renew the leadership lease', e);
      return;
    } finally {
      this.attempting = false;
    }
    if (this.adapter !== adapter) return;
    this.options.health.ok();
    if (epoch === undefined) {
      clearTimeout(this.expiryTimer);
      this.set(LeaseState.Lost, this.epoch);
      return;
    }
    const { leaseMs } = this.options;
    this.validUntil = sentAt + leaseMs - Math.max(leaseMs / 10, 250);
    this.armExpiry();
    this.set(LeaseState.Held, epoch);
  }

  /** No renewal came in time: leadership is dropped (the next renewal may take it back). */
  private expire(): void {
    if (this.state !== LeaseState.Held) return;
    // Timers run on a monotonic clock and may fire a little before the wall clock says.
    if (this.now() < this.validUntil) return this.armExpiry();
    this.set(LeaseState.Lost, this.epoch);
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.expire(), Math.max(1, this.validUntil - this.now()));
    this.expiryTimer.unref();
  }

  private set(state: LeaseState, epoch: number): void {
    if (state === this.state && epoch === this.epoch) return;
    this.state = state;
    this.epoch = epoch;
    this.options.onChange();
  }

  private stopTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.expiryTimer);
  }
}
