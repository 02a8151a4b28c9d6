import type { Shape, Topology } from '../orchestrator/topology.js';
import type { ChannelOptions } from '../transports/channel.js';
import { oneHopTopology } from './channel.js';
import type { Competitor } from './competitor.js';

/** A topology with cluster metrics on in every process (see transports/channel-metrics.ts). */
function withMetrics(topology: Topology): Topology {
  return {
    stages: topology.stages.map(
      (stage) => (ready) =>
        stage(ready).map((spec) => ({
          ...spec,
          options: { ...spec.options, metrics: true } satisfies Partial<ChannelOptions>,
        })),
    ),
  };
}

/**
 * The one-hop channel row again, with ClusterMetrics in every process and the driver
 * collecting the whole channel every second: its ratio to `channel-1hop` is the cost of
 * cluster metrics.
 */
export const channelMetricsOneHop: Competitor = {
  key: 'channel-metrics',
  label: 'channel (one hop), metrics on',
  family: 'channel',
  topology: (shape: Shape) => withMetrics(oneHopTopology(shape, 'channel')),
};
