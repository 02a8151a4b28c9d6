import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../shared/paths.js';

/** How often the driving process collects the cluster's metrics, as Prometheus would scrape. */
export const SCRAPE_EVERY_MS = 1000;

/** The slice of nestjs-ipc-channel/metrics the bench uses (loaded from dist/ at run time). */
interface MetricsEntry {
  ClusterMetrics: new (
    channel: unknown,
    options: { registries: unknown[] },
  ) => { metrics(): Promise<string> };
}

/**
 * An application's registry: counters and histograms with a few label values each, about as
 * much text as prom-client's default metrics. Not those themselves: their garbage-collection
 * observer and event-loop monitor cost throughput whether or not the cluster is collected,
 * which is prom-client's cost, not the collection's.
 */
async function appRegistry(): Promise<unknown> {
  const { Counter, Histogram, Registry } = await import('prom-client');
  const register = new Registry();
  const routes = ['/a', '/b', '/c'];
  for (let i = 0; i < 20; i++) {
    const c = new Counter({
      name: `app_counter_${i}_total`,
      help: 'An application counter.',
      labelNames: ['route'],
      registers: [register],
    });
    for (const route of routes) c.inc({ route }, i + 1);
  }
  for (let i = 0; i < 5; i++) {
    const h = new Histogram({
      name: `app_histogram_${i}_seconds`,
      help: 'An application histogram.',
      labelNames: ['route'],
      registers: [register],
    });
    for (const route of routes) h.observe({ route }, 0.01 * (i + 1));
  }
  return register;
}

/**
 * Turns cluster metrics on in a channel worker: its registry holds an application's metrics
 * plus the channel's own, it answers every collection, and the driving process (`scrapes`)
 * collects the whole channel every second for as long as it runs. The worker is killed at the
 * end of its trial, which stops the timer.
 */
export async function startClusterMetrics(channel: unknown, scrapes: boolean): Promise<void> {
  const entry = pathToFileURL(join(REPO_ROOT, 'dist', 'metrics', 'index.js')).href;
  const { ClusterMetrics } = (await import(entry)) as MetricsEntry;
  const metrics = new ClusterMetrics(channel, { registries: [await appRegistry()] });
  if (!scrapes) return;
  // Unhandled, a failed collection fails the worker, and so the trial.
  setInterval(() => void metrics.metrics(), SCRAPE_EVERY_MS);
}
