/**
 * Two clocks. `nowMs` (performance.now) is cheap and fine for intervals inside one process.
 * `nowNs` is the shared clock: process.hrtime reads CLOCK_MONOTONIC, which every process on
 * the machine shares, so a sender's start and a receiver's last arrival can be subtracted.
 * Nanoseconds since boot fit a double exactly for 104 days of uptime and lose only a few ns
 * after that, so they travel as plain JSON numbers.
 */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export function nowMs(): number {
  return performance.now();
}

/**
 * performance.now() is derived from the same monotonic clock as hrtime, so one offset turns
 * a cheap per-message `nowMs()` into shared-clock nanoseconds when it is reported.
 */
export function msToSharedNs(ms: number): number {
  const offsetNs = nowNs() - performance.now() * 1e6;
  return offsetNs + ms * 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets pending I/O callbacks and timers run, as a producer fed by I/O would. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
