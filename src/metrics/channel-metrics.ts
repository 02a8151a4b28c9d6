import { Counter, Gauge, type Registry } from 'prom-client';
import type { Channel } from '../channel/channel.js';
import type { ChannelStats } from '../channel/peer/stats.js';

type Labels = 'channel' | 'peer';

/** One channel figure as a Prometheus metric: its name, help, kind and where it is read. */
interface Figure {
  readonly name: string;
  readonly help: string;
  readonly kind: 'counter' | 'gauge';
  readonly read: (stats: ChannelStats, channel: Channel) => number;
}

/** The channel's own metrics, each labelled with the channel name and this process's peer id. */
export const CHANNEL_FIGURES: readonly Figure[] = [
  counter(
    'ipc_channel_messages_sent_total',
    'Messages and events accepted by send/emit.',
    (s) => s.messagesSent,
  ),
  counter(
    'ipc_channel_sent_bytes_total',
    'Bytes of the messages sent, as framed.',
    (s) => s.bytesSent,
  ),
  counter(
    'ipc_channel_messages_received_total',
    'Messages and events delivered to this process.',
    (s) => s.messagesReceived,
  ),
  counter(
    'ipc_channel_received_bytes_total',
    'Bytes of the messages received, as framed.',
    (s) => s.bytesReceived,
  ),
  gauge(
    'ipc_channel_queued_messages',
    'Accepted messages not yet written to the hub or a direct link.',
    (s) => s.queuedMessages,
  ),
  gauge(
    'ipc_channel_unconfirmed_messages',
    'Accepted messages not yet confirmed read by their targets.',
    (s) => s.unconfirmedMessages,
  ),
  gauge(
    'ipc_channel_held_messages',
    'Messages of this process the hub holds for an absent peer id.',
    (s) => s.heldMessages,
  ),
  gauge('ipc_channel_pending_bytes', 'Bytes of the unconfirmed messages.', (s) => s.pendingBytes),
  counter(
    'ipc_channel_hubs_hosted_total',
    'Elections this process won: times it started hosting the hub.',
    (s) => s.hubsHosted,
  ),
  counter(
    'ipc_channel_failovers_total',
    'Times the hub this process was joined to died without handing over.',
    (s) => s.failovers,
  ),
  counter(
    'ipc_channel_handovers_total',
    'Times the hub this process was joined to handed over while closing.',
    (s) => s.handovers,
  ),
  counter(
    'ipc_channel_heartbeats_missed_total',
    'Heartbeats from the hub that did not come in time.',
    (s) => s.heartbeatsMissed,
  ),
  gauge('ipc_channel_hub', '1 on the process that hosts the hub, else 0.', (_, ch) =>
    ch.isHub ? 1 : 0,
  ),
  gauge(
    'ipc_channel_connected',
    '1 while this process is joined, 0 while a new hub is elected.',
    (_, ch) => (ch.connected ? 1 : 0),
  ),
];

function counter(name: string, help: string, read: (s: ChannelStats) => number): Figure {
  return { name, help, kind: 'counter', read };
}

function gauge(name: string, help: string, read: Figure['read']): Figure {
  return { name, help, kind: 'gauge', read };
}

/** The channel metrics of each registry, shared by the channels that report into it. */
const sets = new WeakMap<Registry, ChannelMetricSet>();

/**
 * The channel's own figures as prom-client metrics in one registry, read from `stats()` at each
 * collection: nothing is counted twice and nothing is kept between scrapes. Each series has the
 * labels `channel` and `peer`, so after aggregation each process keeps its own series.
 */
class ChannelMetricSet {
  readonly channels = new Set<Channel>();

  constructor(registry: Registry) {
    const channels = this.channels;
    for (const figure of CHANNEL_FIGURES) {
      const config = {
        name: figure.name,
        help: figure.help,
        labelNames: ['channel', 'peer'] as Labels[],
        registers: [registry],
      };
      if (figure.kind === 'counter') {
        new Counter<Labels>({
          ...config,
          collect() {
            this.reset();
            each(channels, (labels, stats, ch) => this.inc(labels, figure.read(stats, ch)));
          },
        });
      } else {
        new Gauge<Labels>({
          ...config,
          collect() {
            this.reset();
            each(channels, (labels, stats, ch) => this.set(labels, figure.read(stats, ch)));
          },
        });
      }
    }
  }
}

/** Calls `fn` for every joined channel; one that has no peer id yet has nothing to label. */
function each(
  channels: Set<Channel>,
  fn: (labels: Record<Labels, string>, stats: ChannelStats, channel: Channel) => void,
): void {
  for (const channel of channels) {
    const id = channel.id;
    if (id === undefined) continue;
    fn({ channel: channel.name, peer: String(id) }, channel.stats(), channel);
  }
}

/** Reports `channel`'s own metrics in `registry`; the returned function stops that. */
export function addChannelMetrics(registry: Registry, channel: Channel): () => void {
  let set = sets.get(registry);
  if (set === undefined) {
    set = new ChannelMetricSet(registry);
    sets.set(registry, set);
  }
  set.channels.add(channel);
  return () => set.channels.delete(channel);
}
