/**
 * Applies a transformation that may or may not return a Promise (Nest 12 allows async
 * serializers and deserializers) and hands results on in input order. While nothing async is
 * in flight, results pass straight through with no Promise at all: the common, synchronous case
 * pays nothing.
 */
export class InOrder {
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;

  /** Whether nothing async is queued: a synchronous result may then be handed on at once. */
  get idle(): boolean {
    return this.inFlight === 0;
  }

  run<T>(
    produce: () => T | Promise<T>,
    deliver: (value: T) => void,
    fail: (error: unknown) => void,
  ): void {
    let out: T | Promise<T>;
    try {
      out = produce();
    } catch (e) {
      if (this.inFlight === 0) fail(e);
      else this.enqueue(Promise.reject(e), deliver, fail);
      return;
    }
    if (this.inFlight === 0 && !isPromiseLike(out)) {
      deliver(out);
      return;
    }
    this.enqueue(Promise.resolve(out), deliver, fail);
  }

  private enqueue<T>(
    result: Promise<T>,
    deliver: (value: T) => void,
    fail: (error: unknown) => void,
  ): void {
    this.inFlight++;
    // Attach a no-op handler at once so a rejection waiting its turn is never "unhandled".
    result.catch(() => {});
    this.tail = this.tail
      .then(() => result)
      .then(deliver, fail)
      // A throwing callback is the caller's bug: surface it, but keep the queue moving.
      .catch((e: unknown) =>
        process.nextTick(() => {
          throw e;
        }),
      )
      .finally(() => {
        this.inFlight--;
      });
  }
}

export function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
