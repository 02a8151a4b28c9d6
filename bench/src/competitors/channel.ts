import { DRIVER, type Shape, type Topology, receiverNames } from '../orchestrator/topology.js';
import type { ProcSpec, Traffic } from '../shared/protocol.js';
import type { ChannelOptions } from '../transports/channel.js';
import type { Competitor } from './competitor.js';

/** Which process hosts the hub: the topology decides what "one hop" and "relayed" mean. */
export type HubPlacement = 'sender' | 'receiver' | 'separate';

/**
 * Lays out a channel: the hub first (the first process to connect hosts it; explicit ids make
 * it peer 1), then everyone else at once. Each worker checks it got the role planned for it.
 */
export function channelTopology(
  traffic: Traffic,
  receivers: number,
  hub: HubPlacement,
  transport: 'channel' | 'nest-ipc' = 'channel',
  directLinks?: boolean,
): Topology {
  const names = receiverNames(receivers);
  const ids = new Map<string, number>();
  const order =
    hub === 'sender'
      ? [DRIVER, ...names]
      : hub === 'receiver'
        ? [...names, DRIVER]
        : ['hub', ...names, DRIVER];
  order.forEach((name, i) => ids.set(name, i + 1));
  const receiverIds = names.map((n) => ids.get(n)!);
  const spec = (name: string, options: Omit<ChannelOptions, 'name' | 'id' | 'expectHub'>) => ({
    name,
    transport,
    traffic,
    options: {
      name: 'bench',
      id: ids.get(name)!,
      expectHub: name === order[0],
      ...(directLinks === undefined ? {} : { directLinks }),
      ...options,
    } satisfies ChannelOptions,
  });
  const all: ProcSpec[] = order.map((name) =>
    name === DRIVER
      ? spec(name, {
          target: receivers === 1 ? receiverIds[0]! : 'others',
          expectPeers: receiverIds,
        })
      : spec(name, { expectPeers: [] }),
  );
  return { stages: [() => all.slice(0, 1), () => all.slice(1)] };
}

/**
 * One hop: a peer talking to the hub process (requests and events go to the hub; a broadcast
 * comes from it).
 */
export function oneHopTopology(shape: Shape, transport: 'channel' | 'nest-ipc'): Topology {
  const hub = shape.receivers === 1 ? 'receiver' : 'sender';
  return channelTopology(shape.traffic, shape.receivers, hub, transport);
}

/**
 * Relayed: two non-hub peers through the hub. For broadcast the sender is not the hub and the
 * hub is one of the four receivers (as in a PM2 cluster of five, where the hub is a worker too):
 * three of the four deliveries are relayed.
 */
export function relayedTopology(
  shape: Shape,
  transport: 'channel' | 'nest-ipc',
  directLinks?: boolean,
): Topology {
  const hub = shape.receivers === 1 ? 'separate' : 'receiver';
  return channelTopology(shape.traffic, shape.receivers, hub, transport, directLinks);
}

export const channelOneHop: Competitor = {
  key: 'channel-1hop',
  label: 'channel (one hop)',
  family: 'channel',
  topology: (shape: Shape) => oneHopTopology(shape, 'channel'),
};

export const channelRelayed: Competitor = {
  key: 'channel-relayed',
  label: 'channel (relayed)',
  family: 'channel',
  topology: (shape: Shape) => relayedTopology(shape, 'channel'),
};

/**
 * The relayed layout with direct links off: every frame really crosses the hub, as before
 * direct links (and as on macOS, Windows and the tcp transport today).
 */
export const channelViaHub: Competitor = {
  key: 'channel-via-hub',
  label: 'channel (via hub)',
  family: 'channel',
  fullOnly: true,
  topology: (shape: Shape) => relayedTopology(shape, 'channel', false),
};
