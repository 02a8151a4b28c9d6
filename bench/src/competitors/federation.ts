import { DRIVER, type Shape, type Topology, receiverNames } from '../orchestrator/topology.js';
import type { ProcSpec } from '../shared/protocol.js';
import type { BenchFederation, ChannelOptions, PeerId } from '../transports/channel.js';
import { oneHopTopology } from './channel.js';
import type { Competitor, RunEnv } from './competitor.js';
import { redisUnavailable } from './references.js';

/**
 * The federated channel rows: hosts simulated on this machine (a socket directory and a host
 * name each) bridged through the bench's redis-server, the one Nest Redis uses.
 */

let trials = 0;

/** Federation options for one trial: keys of its own, on top of the FLUSHALL between trials. */
function federation(env: RunEnv, host: string, prefix: string): BenchFederation {
  if (env.redisUrl === undefined) throw new Error('the federated rows need the bench redis-server');
  return { redis: env.redisUrl, host, prefix };
}

/**
 * Across two hosts: the driver alone on host `a`, the receivers on host `b` (`recv-1` first,
 * so it hosts b's hub). Each host's hub, and so its bridge to Redis, is in the process that
 * sends or receives there: an event crosses a's hub and bridge, a Redis stream, b's bridge and
 * hub. A request and its response cross both ways.
 */
function crossHostTopology(shape: Shape, env: RunEnv): Topology {
  const prefix = `bench${++trials}`;
  const names = receiverNames(shape.receivers);
  const remote: PeerId[] = names.map((_, i) => `b/${i + 1}` as const);
  const spec = (name: string, o: ChannelOptions): ProcSpec => ({
    name,
    transport: 'channel',
    traffic: shape.traffic,
    options: { ...o },
  });
  const receiver = (name: string, i: number) =>
    spec(name, {
      name: 'bench',
      id: i + 1,
      expectHub: i === 0,
      expectPeers: [],
      federation: federation(env, 'b', prefix),
    });
  const driver = spec(DRIVER, {
    name: 'bench',
    id: 1,
    expectHub: true,
    target: shape.receivers === 1 ? remote[0]! : 'others',
    expectPeers: remote,
    federation: federation(env, 'a', prefix),
  });
  return {
    stages: [
      () => [receiver(names[0]!, 0)],
      () => names.slice(1).map((n, i) => receiver(n, i + 1)),
      () => [driver],
    ],
  };
}

/** `topology` with federation on in every process, all of them on host `a`. */
function federatedOnOneHost(topology: Topology, env: RunEnv): Topology {
  const fed = federation(env, 'a', `bench${++trials}`);
  return {
    stages: topology.stages.map(
      (stage) => (ready) =>
        stage(ready).map((spec) => ({
          ...spec,
          options: { ...spec.options, federation: fed } satisfies Partial<ChannelOptions>,
        })),
    ),
  };
}

/**
 * The channel core between two hosts through Redis: against `nest-redis` on the same Redis
 * (throughput at least Nest Redis's, sequential p50 at most 1.5x its).
 */
export const channelCrossHost: Competitor = {
  key: 'channel-2hosts',
  label: 'channel, 2 hosts',
  family: 'channel',
  needsRedis: true,
  unavailable: redisUnavailable,
  topology: crossHostTopology,
};

/**
 * `channel-1hop` with federation on, its traffic staying on the host: against `channel-1hop`
 * measured next to it (within 10%), since local traffic must not pay for the bridge.
 */
export const channelFederatedLocal: Competitor = {
  key: 'channel-fed-local',
  label: 'channel, federation on',
  family: 'channel',
  needsRedis: true,
  // A 10% difference is below what one short quick-mode run can tell apart.
  fullOnly: true,
  scenarios: ['rr-100', 'one-way'],
  unavailable: redisUnavailable,
  topology: (shape, env) => federatedOnOneHost(oneHopTopology(shape, 'channel'), env),
};
