/**
 * The cost of cluster metrics, measured in one run: one-way events between two channel peers
 * with metrics off, and with ClusterMetrics on both and a scrape every second (each peer's
 * registry holding prom-client's default metrics), in alternating rounds so drift hits both.
 *
 *   npm run -s build && npm run -s bench:build && node node_modules/.cache/nestjs-ipc-bench/metrics-cost.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nowMs } from './shared/clock.js';
import { REPO_ROOT } from './shared/paths.js';

type ChannelModule = typeof import('nestjs-ipc-channel/channel');
type MetricsModule = typeof import('nestjs-ipc-channel/metrics');

const ROUNDS = Number(process.env.METRICS_BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.METRICS_BENCH_MS ?? 3000);
const SCRAPE_EVERY_MS = 1000;
const BATCH = 256;

const entry = (path: string) => pathToFileURL(join(REPO_ROOT, 'dist', path)).href;

/** Events per second from one peer to another for ROUND_MS, with or without metrics. */
async function round(withMetrics: boolean): Promise<{ perSec: number; scrapes: number }> {
  const { Channel } = (await import(entry('channel/index.js'))) as ChannelModule;
  const { ClusterMetrics } = (await import(entry('metrics/index.js'))) as MetricsModule;
  const { Registry, collectDefaultMetrics } = await import('prom-client');
  const dir = mkdtempSync(join(tmpdir(), 'ipc-metrics-bench-'));
  const name = `metrics-bench-${withMetrics ? 'on' : 'off'}`;
  const sender = new Channel({ name, dir, directLinks: false });
  const receiver = new Channel({ name, dir, directLinks: false });
  let received = 0;
  receiver.on('n', () => received++);
  await sender.connect();
  await receiver.connect();
  const registries = [new Registry(), new Registry()];
  for (const register of registries) collectDefaultMetrics({ register });
  const metrics = withMetrics
    ? [sender, receiver].map((ch, i) => new ClusterMetrics(ch, { registries: [registries[i]!] }))
    : [];
  let scrapes = 0;
  const timer = withMetrics
    ? setInterval(() => void metrics[0]!.metrics().then(() => scrapes++), SCRAPE_EVERY_MS)
    : undefined;
  const to = sender.to(receiver.id!);
  const start = nowMs();
  let sent = 0;
  while (nowMs() - start < ROUND_MS) {
    let open = true;
    for (let i = 0; i < BATCH; i++) open = to.emit('n', sent++) && open;
    if (!open) await new Promise<void>((r) => sender.once('drain', () => r()));
    else await new Promise<void>((r) => setImmediate(r));
  }
  while (received < sent) await new Promise<void>((r) => setImmediate(r));
  const elapsed = nowMs() - start;
  clearInterval(timer);
  for (const m of metrics) m.close();
  await receiver.close();
  await sender.close();
  rmSync(dir, { recursive: true, force: true });
  return { perSec: (received / elapsed) * 1000, scrapes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  let scrapes = 0;
  await round(false); // warm-up
  for (let i = 0; i < ROUNDS; i++) {
    off.push((await round(false)).perSec);
    const r = await round(true);
    on.push(r.perSec);
    scrapes += r.scrapes;
  }
  const change = (median(on) / median(off) - 1) * 100;
  const k = (x: number) => `${Math.round(x / 1000)}k/s`;
  console.log(`metrics off: ${off.map(k).join(' ')}  median ${k(median(off))}`);
  console.log(`metrics on:  ${on.map(k).join(' ')}  median ${k(median(on))}  (${scrapes} scrapes)`);
  console.log(`change: ${change.toFixed(1)}% (target: within 5% of off)`);
}

await main();
