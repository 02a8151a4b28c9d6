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
 * Turns cluster metrics on in a channel worker: its registry holds prom-client's default
 * metrics (what an app exposes at least) plus the channel's own, it answers every collection,
 * and the driving process (`scrapes`) collects the whole channel every second for as long as
 * it runs. The worker is killed at the end of its trial, which stops the timer.
 */
export async function startClusterMetrics(channel: unknown, scrapes: boolean): Promise<void> {
  const entry = pathToFileURL(join(REPO_ROOT, 'dist', 'metrics', 'index.js')).href;
  const { ClusterMetrics } = (await import(entry)) as MetricsEntry;
  const { Registry, collectDefaultMetrics } = await import('prom-client');
  const register = new Registry();
  collectDefaultMetrics({ register });
  const metrics = new ClusterMetrics(channel, { registries: [register] });
  if (!scrapes) return;
  // Unhandled, a failed collection fails the worker, and so the trial.
  setInterval(() => void metrics.metrics(), SCRAPE_EVERY_MS);
}
