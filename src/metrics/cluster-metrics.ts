import {
  AggregatorRegistry,
  Gauge,
  type PrometheusContentType,
  Registry,
  register as globalRegistry,
} from 'prom-client';
import type { Channel } from '../channel/channel.js';
import { ChannelClosedError, InvalidOptionError } from '../channel/errors.js';
import { addChannelMetrics } from './channel-metrics.js';
import { MetricsExchange, type PeerAnswer } from './metrics-exchange.js';

/** The longest a Node timer waits. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Options of `new ClusterMetrics(channel, options)`. */
export interface ClusterMetricsOptions {
  /**
   * This process's registries: what it contributes when any process collects. Default
   * prom-client's global `register`.
   */
  registries?: Registry[];
  /**
   * How long a collection takes at most, in ms: a peer that has not answered by then is
   * reported with `ipc_metrics_peer_up 0`. A collection during an election first waits for the
   * new hub, within this time. Default 2000.
   */
  timeoutMs?: number;
  /**
   * Whether the channel's own metrics (`ipc_channel_*`: messages, bytes, queues, elections) are
   * registered in the first registry. Default true.
   */
  channelMetrics?: boolean;
}

/** The metric that says which peers' metrics a collection holds. */
export const PEER_UP_METRIC = 'ipc_metrics_peer_up';

/**
 * Cluster-wide Prometheus metrics over a channel. Every process of the channel makes one with
 * its registries; from then on it answers collections, and `metrics()` on any of them gathers
 * every peer's registries and aggregates them the way prom-client's `AggregatorRegistry` does
 * (counters and histograms summed per label set, gauges by their `aggregator`, `sum` unless
 * set). `ipc_metrics_peer_up{peer}` says which peers answered in time.
 *
 * ```ts
 * const metrics = new ClusterMetrics(channel);
 * http.createServer(async (req, res) => {
 *   res.setHeader('Content-Type', metrics.contentType);
 *   res.end(await metrics.metrics());
 * }).listen(9100 + (channel.id ?? 0));
 * ```
 */
export class ClusterMetrics {
  /** The content type of `metrics()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registries: Registry[];
  private readonly timeoutMs: number;
  private readonly exchange: MetricsExchange;
  private readonly removeChannelMetrics: (() => void) | undefined;
  private closed = false;

  constructor(
    readonly channel: Channel,
    options: ClusterMetricsOptions = {},
  ) {
    this.registries = checkRegistries(options.registries);
    this.timeoutMs = checkTimeout(options.timeoutMs);
    this.exchange = MetricsExchange.of(channel);
    if (this.exchange.source !== undefined) {
      throw new InvalidOptionError(
        `Channel '${channel.name}' already has a ClusterMetrics in this process: use that one (or close() it before making another).`,
      );
    }
    this.exchange.source = () => this.local();
    this.removeChannelMetrics =
      options.channelMetrics === false
        ? undefined
        : addChannelMetrics(this.registries[0]!, channel);
  }

  /** The whole channel's metrics, aggregated, as Prometheus text. */
  async metrics(): Promise<string> {
    return (await this.clusterRegistry()).metrics();
  }

  /**
   * The whole channel's metrics as one aggregated registry (with `ipc_metrics_peer_up`), for
   * callers that want JSON (`getMetricsAsJSON()`) or a single metric.
   */
  async clusterRegistry(): Promise<Registry> {
    if (this.closed) throw new ChannelClosedError('ClusterMetrics.metrics()');
    // A scrape in the middle of an election waits for the new hub: answered from this process
    // alone, it would look to Prometheus like every counter of the others reset.
    const started = Date.now();
    await joined(this.channel, this.timeoutMs);
    const left = Math.max(1, this.timeoutMs - (Date.now() - started));
    const self = this.channel.id;
    // This host's peers: the metrics exchange does not cross hosts.
    const others = this.channel.connected
      ? this.channel.peers.filter((id): id is number => typeof id === 'number' && id !== self)
      : [];
    const [own, answers] = await Promise.all([this.local(), this.exchange.ask(others, left)]);
    const all: object[] = [...own];
    for (const answer of answers) if (answer.up) all.push(...answer.metrics);
    const registry = AggregatorRegistry.aggregate<PrometheusContentType>(all);
    addPeerUp(registry, self, answers);
    return registry;
  }

  /**
   * Stops answering collections (peers then see this process as down at once) and removes the
   * channel's metrics from the registry. The channel itself stays open.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.exchange.source = undefined;
    this.removeChannelMetrics?.();
  }

  /** This process's contribution: each registry's metrics as JSON. */
  private local(): Promise<object[][]> {
    return Promise.all(this.registries.map((r) => r.getMetricsAsJSON()));
  }
}

/** Resolves at once unless `channel` is between hubs; then once it joins one, or closes, or `ms` pass. */
function joined(channel: Channel, ms: number): Promise<void> {
  if (!channel._betweenHubs) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      channel.off('connect', done);
      channel.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    channel.on('connect', done);
    channel.on('close', done);
  });
}

/** Adds `ipc_metrics_peer_up`: 1 for this process and each peer that answered, 0 for the rest. */
function addPeerUp(registry: Registry, self: number | undefined, answers: PeerAnswer[]): void {
  const up = new Gauge<'peer'>({
    name: PEER_UP_METRIC,
    help: 'Whether each peer of the channel answered the metrics collection in time (1) or not (0).',
    labelNames: ['peer'],
    registers: [registry],
  });
  const rows: [number, number][] = answers.map((a) => [a.peer, a.up ? 1 : 0]);
  if (self !== undefined) rows.push([self, 1]);
  rows.sort((a, b) => a[0] - b[0]);
  for (const [peer, value] of rows) up.set({ peer: String(peer) }, value);
}

function checkRegistries(registries: Registry[] | undefined): Registry[] {
  if (registries === undefined) return [globalRegistry];
  if (
    !Array.isArray(registries) ||
    registries.length === 0 ||
    // Duck-typed: an app may hold a registry of another copy of prom-client.
    !registries.every((r) => typeof (r as Partial<Registry>)?.getMetricsAsJSON === 'function')
  ) {
    throw new InvalidOptionError(
      'ClusterMetrics option registries must be a non-empty array of prom-client Registry objects (omit it to use the global register).',
    );
  }
  return registries;
}

function checkTimeout(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new InvalidOptionError(
      `ClusterMetrics option timeoutMs must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}; got ${String(timeoutMs)}.`,
    );
  }
  return timeoutMs;
}
