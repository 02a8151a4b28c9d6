import { DRIVER, receiverNames } from '../orchestrator/topology.js';
import type { Trial } from '../orchestrator/trial.js';
import type { Settings } from '../settings.js';
import type { RoundTrips } from '../worker/drivers.js';
import type { Metrics, Scenario } from './scenario.js';

/**
 * The four scenarios every competitor runs. Each warms up on its fresh processes first, then
 * measures; timing happens inside the workers (hrtime), never across the control plane.
 */

async function roundTrips(trial: Trial, s: Settings, inflight: number): Promise<Metrics> {
  await trial.call(DRIVER, 'roundTrips', { ms: s.warmupMs, inflight });
  const r = await trial.call<RoundTrips>(DRIVER, 'roundTrips', { ms: s.measureMs, inflight });
  return { perSec: (r.count / r.elapsedMs) * 1000, p50Us: r.p50Us, p99Us: r.p99Us };
}

/**
 * Events for a fixed time, counted at the receivers: the rate runs from the sender's first
 * emit to the last arrival at the slowest receiver (one shared monotonic clock), so whatever
 * is still queued when the sender stops is waited for and counted.
 */
async function deliveries(trial: Trial, receivers: number, ms: number): Promise<Metrics> {
  const names = receiverNames(receivers);
  await Promise.all(names.map((n) => trial.call(n, 'reset')));
  const sent = await trial.call<{ count: number; startNs: number }>(DRIVER, 'send', { ms });
  const arrived = await Promise.all(
    names.map((n) =>
      trial.call<{ lastNs: number; received: number }>(n, 'waitFor', { count: sent.count }),
    ),
  );
  for (const [i, a] of arrived.entries()) {
    if (a.received !== sent.count) {
      throw new Error(`${names[i]} received ${a.received} events, ${sent.count} were sent`);
    }
  }
  const lastNs = Math.max(...arrived.map((a) => a.lastNs));
  const total = sent.count * receivers;
  return { perSec: total / ((lastNs - sent.startNs) / 1e9), count: total };
}

export const SEQUENTIAL: Scenario = {
  key: 'rr-seq',
  label: 'request/response, sequential',
  shape: { traffic: 'rr', receivers: 1 },
  measure: (trial, s) => roundTrips(trial, s, 1),
};

export const IN_FLIGHT: Scenario = {
  key: 'rr-100',
  label: 'request/response, 100 in flight',
  shape: { traffic: 'rr', receivers: 1 },
  measure: (trial, s) => roundTrips(trial, s, 100),
};

export const ONE_WAY: Scenario = {
  key: 'one-way',
  label: 'one-way events, backpressure honored',
  shape: { traffic: 'events', receivers: 1 },
  async measure(trial, s) {
    await deliveries(trial, 1, s.warmupMs);
    return deliveries(trial, 1, s.measureMs);
  },
};

export const BROADCAST: Scenario = {
  key: 'broadcast',
  label: 'broadcast to 4 peers (deliveries)',
  shape: { traffic: 'events', receivers: 4 },
  async measure(trial, s) {
    await deliveries(trial, 4, s.warmupMs);
    return deliveries(trial, 4, s.measureMs);
  },
};

export const SCENARIOS: Scenario[] = [SEQUENTIAL, IN_FLIGHT, ONE_WAY, BROADCAST];
