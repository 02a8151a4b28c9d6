import { nowMs, nowNs, yieldToIo } from '../shared/clock.js';
import { type BenchPayload, SIXTY_FOUR, payload } from '../shared/payload.js';
import { LatencyRecorder } from '../shared/stats.js';
import type { Endpoint } from '../transports/types.js';

/**
 * The driving loops, written once for every transport. They run inside the sending process
 * and time themselves; nothing crosses the control plane while they run.
 */

/** Messages sent between two yields to the event loop, as a producer fed by I/O would. */
const BATCH = 100;

export interface RoundTrips {
  count: number;
  elapsedMs: number;
  p50Us: number;
  p99Us: number;
}

/** Requests for `ms` milliseconds with `inflight` outstanding at all times (1 = sequential). */
export async function roundTrips(ep: Endpoint, ms: number, inflight: number): Promise<RoundTrips> {
  const latencies = new LatencyRecorder();
  const start = nowMs();
  const end = start + ms;
  let n = 0;
  const one = async () => {
    const sent = payload(n++);
    const t0 = nowMs();
    const reply = await ep.request(sent);
    latencies.add(nowMs() - t0);
    // A reply to another request would mean the harness or the transport mixed them up.
    if (reply.n !== sent.n) throw new Error(`request ${sent.n} answered with ${reply.n}`);
  };
  const lane = async () => {
    while (nowMs() < end) await one();
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  const elapsedMs = nowMs() - start;
  const [p50Us, p99Us] = latencies.percentilesUs(50, 99);
  return { count: latencies.count, elapsedMs, p50Us: p50Us!, p99Us: p99Us! };
}

/**
 * One-way events for `ms` milliseconds, honoring backpressure: when emit() says so, wait for
 * the transport's drain before the next. The receivers count; the rate is computed from the
 * start time returned here (shared clock) and the receivers' last arrival.
 */
export async function sendFor(
  ep: Endpoint,
  ms: number,
): Promise<{ count: number; startNs: number }> {
  const startNs = nowNs();
  const end = nowMs() + ms;
  let n = 0;
  let sinceYield = 0;
  for (;;) {
    if (!ep.emit(payload(n++))) {
      await ep.drained();
      sinceYield = 0;
    } else if (++sinceYield === BATCH) {
      sinceYield = 0;
      await yieldToIo();
    } else continue;
    if (nowMs() >= end) break;
  }
  return { count: n, startNs };
}

/** Emits `count` events at once, ignoring backpressure: fills every queue on the way. */
export function flood(ep: Endpoint, count: number): { accepted: number } {
  for (let n = 0; n < count; n++) ep.emit(payload(n));
  return { accepted: count };
}

/** A steady trickle of timestamped events, for the failover gap. */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  constructor(private readonly ep: Endpoint) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => {
      const tick: BenchPayload = { n: this.n++, s: SIXTY_FOUR, t: nowNs() };
      this.ep.emit(tick);
    }, everyMs);
  }

  stop(): { sent: number } {
    clearInterval(this.timer);
    return { sent: this.n };
  }
}
