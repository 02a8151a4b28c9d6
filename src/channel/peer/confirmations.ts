import type { DeliveryFailure, IpcChannelError } from '../errors.js';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** `allConfirmed()`: everything up to `upTo`; the first failure among them, if any. */
interface AllWaiter extends Waiter {
  readonly upTo: number;
  failure: DeliveryFailure | undefined;
}

/**
 * Who waits for the hub's verdict on what this process sent: a promise per message for
 * `sendConfirmed`/`emitConfirmed`, and a promise for everything sent up to some point for
 * `allConfirmed()`. It costs nothing while nobody waits: the outbox calls it only when `active`.
 */
export class Confirmations {
  /** Per-message waiters, by sequence number. */
  private readonly bySeq = new Map<number, Waiter>();
  private readonly upTo: AllWaiter[] = [];
  /** Whether anyone waits (read on every confirmation while true, so kept as a field). */
  active = false;

  /** A promise for the verdict on message `seq`. */
  watch(seq: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const earlier = this.bySeq.get(seq);
      this.bySeq.set(
        seq,
        earlier === undefined
          ? { resolve, reject }
          : {
              resolve: () => (earlier.resolve(), resolve()),
              reject: (e) => (earlier.reject(e), reject(e)),
            },
      );
      this.active = true;
    });
  }

  /**
   * A promise for the verdict on every message up to `upTo`: it resolves once none of them is
   * unconfirmed (`oldest`, the oldest unconfirmed sequence, is above it), and rejects with the
   * first failure among them.
   */
  watchAll(upTo: number, oldest: number): Promise<void> {
    if (oldest > upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.upTo.push({ upTo, resolve, reject, failure: undefined });
      this.active = true;
    });
  }

  /** Message `seq` was confirmed. */
  confirmed(seq: number): void {
    const waiter = this.bySeq.get(seq);
    if (waiter === undefined) return;
    this.bySeq.delete(seq);
    this.refresh();
    waiter.resolve();
  }

  /**
   * Message `seq` will not be confirmed. Returns whether its own waiter took the error (it is
   * then not reported anywhere else); an `allConfirmed()` covering it only notes it.
   */
  failed(seq: number, error: DeliveryFailure): boolean {
    for (const w of this.upTo) if (w.upTo >= seq) w.failure ??= error;
    const waiter = this.bySeq.get(seq);
    if (waiter === undefined) return false;
    this.bySeq.delete(seq);
    this.refresh();
    waiter.reject(error);
    return true;
  }

  /** Messages were settled: `allConfirmed()` promises whose messages all are now settle too. */
  settled(oldest: number): void {
    if (this.upTo.length === 0) return;
    let kept = 0;
    for (const w of this.upTo) {
      if (w.upTo >= oldest) this.upTo[kept++] = w;
      else if (w.failure === undefined) w.resolve();
      else w.reject(w.failure);
    }
    this.upTo.length = kept;
    this.refresh();
  }

  /**
   * The channel closed: verdicts still awaited will never come from this process (the hub may
   * still deliver what it held for an absent peer). Each waiter fails with `error`.
   */
  abandon(error: IpcChannelError): void {
    for (const w of this.bySeq.values()) w.reject(error);
    for (const w of this.upTo) w.reject(w.failure ?? error);
    this.bySeq.clear();
    this.upTo.length = 0;
    this.active = false;
  }

  private refresh(): void {
    this.active = this.bySeq.size > 0 || this.upTo.length > 0;
  }
}
