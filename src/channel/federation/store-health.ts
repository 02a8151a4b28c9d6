import { ChannelClosedError, type IpcChannelError } from '../errors.js';
import type { Log } from '../logger.js';
import { FederationStoreError } from './federation-errors.js';

/** Back-off between retries of a failed store call. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;
/** How often one kind of dropped input (a forged batch, a bad view) is logged at most. */
const WARN_EVERY_MS = 60_000;

/**
 * Whether the store answers, as the bridge's parts see it: the first failure of an outage is
 * reported (once, not per retry), and its end is logged. Also paces retries and repeated warnings.
 */
export class StoreHealth {
  private healthy = true;
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly log: Log,
    private readonly onError: (e: IpcChannelError) => void,
  ) {}

  /** A store call failed: reported if it starts an outage. */
  failed(what: string, cause: unknown): void {
    // A call cut short by the bridge's own close() is no outage.
    if (!this.healthy || cause instanceof ChannelClosedError) return;
    this.healthy = false;
    const error = new FederationStoreError(what, cause);
    this.log.warn(error.message);
    this.onError(error);
  }

  /** A store call succeeded: an outage is over. */
  ok(): void {
    if (this.healthy) return;
    this.healthy = true;
    this.log.info('the federation store answers again; messages to other hosts flow again');
  }

  /** Logs `message` under `kind` unless one of that kind was logged in the last minute. */
  warnRarely(kind: string, message: string): void {
    const now = Date.now();
    const last = this.warned.get(kind);
    if (last !== undefined && now - last < WARN_EVERY_MS) return;
    this.warned.set(kind, now);
    this.log.warn(message);
  }
}

/** Delays between retries: doubling from 50 ms up to 2 s, back to 50 ms after a success. */
export class Backoff {
  private ms = RETRY_MIN_MS;

  next(): number {
    const ms = this.ms;
    this.ms = Math.min(this.ms * 2, RETRY_MAX_MS);
    return ms;
  }

  reset(): void {
    this.ms = RETRY_MIN_MS;
  }
}
