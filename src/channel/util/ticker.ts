/**
 * A repeating timer that can tell when its own process was not running. A tick that comes more
 * than two intervals after the one before means the event loop was blocked or the process
 * stopped (SIGSTOP, a debugger, swapping); silence measured across such a gap says nothing about
 * the other side, so liveness checks do not judge on that tick.
 */
export class Ticker {
  /** When the last tick ran (ms since the epoch). */
  lastTick = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    /** `resumed`: this process had not run a tick for over two intervals. */
    onTick: (now: number, resumed: boolean) => void,
  ) {
    this.timer = setInterval(() => {
      const now = Date.now();
      const resumed = this.overdue(now);
      this.lastTick = now;
      onTick(now, resumed);
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * Whether the tick is overdue by more than an interval: this process is only now running
   * again, and its timers have not caught up yet (I/O callbacks can run before them).
   */
  overdue(now = Date.now()): boolean {
    return now - this.lastTick > 2 * this.intervalMs;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
