import { createRequire } from 'node:module';
import { findOnPath } from '../orchestrator/redis.js';
import { DRIVER, type Shape, type Topology, receiverNames } from '../orchestrator/topology.js';
import type { ProcSpec } from '../shared/protocol.js';
import type { Competitor, RunEnv } from './competitor.js';

/** The competitors: the physical reference, Nest's own transports, Node's own IPC. */

function spec(
  name: string,
  transport: ProcSpec['transport'],
  shape: Shape,
  options: Record<string, unknown> = {},
): ProcSpec {
  return { name, transport, traffic: shape.traffic, options };
}

/** Raw sockets: the listener is the receiver for a pair, and the sender for broadcast. */
export const rawUds: Competitor = {
  key: 'raw-uds',
  label: 'raw node:net UDS',
  family: 'reference',
  topology(shape): Topology {
    const names = receiverNames(shape.receivers);
    if (shape.receivers === 1) {
      return {
        stages: [
          () => [spec(names[0]!, 'raw-uds', shape, { listen: true, connections: 1 })],
          () => [spec(DRIVER, 'raw-uds', shape, { listen: false })],
        ],
      };
    }
    return {
      stages: [
        () => [spec(DRIVER, 'raw-uds', shape, { listen: true, connections: shape.receivers })],
        () => names.map((n) => spec(n, 'raw-uds', shape, { listen: false })),
      ],
    };
  },
};

/**
 * Raw sockets through a process that only forwards bytes (raw-relay.ts): the floor for the
 * relayed rows, which cross four sockets per round trip where raw-uds crosses two.
 */
export const rawUdsRelayed: Competitor = {
  key: 'raw-uds-relayed',
  label: 'raw UDS via relay',
  family: 'reference',
  topology(shape): Topology {
    const names = receiverNames(shape.receivers);
    return {
      stages: [
        () => [spec('hub', 'raw-relay', shape, { receivers: shape.receivers })],
        () => names.map((n) => spec(n, 'raw-uds', shape, { listen: false, serve: true })),
        () => [spec(DRIVER, 'raw-uds', shape, { listen: false })],
      ],
    };
  },
};

/** Nest TCP: every receiver is a microservice app; the driver has a ClientProxy for each. */
export const nestTcp: Competitor = {
  key: 'nest-tcp',
  label: 'Nest TCP',
  family: 'reference',
  topology(shape): Topology {
    const names = receiverNames(shape.receivers);
    return {
      stages: [
        () => names.map((n) => spec(n, 'nest-tcp', shape)),
        (ready) => [
          spec(DRIVER, 'nest-tcp', shape, { ports: names.map((n) => ready[n]!.port as number) }),
        ],
      ],
    };
  },
};

function hasPackage(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Why a row that needs the bench's redis-server and ioredis cannot run, or undefined. */
export function redisUnavailable(): string | undefined {
  if (findOnPath('redis-server') === undefined) {
    return 'redis-server is not on PATH (apt-get install redis-server to include it)';
  }
  if (!hasPackage('ioredis')) return "the 'ioredis' package is not installed (npm ci)";
  return undefined;
}

/**
 * Nest Redis: every receiver is a microservice app subscribed through the bench's private
 * redis-server on loopback TCP, the same one the federated channel rows use.
 */
export const nestRedis: Competitor = {
  key: 'nest-redis',
  label: 'Nest Redis',
  family: 'reference',
  needsRedis: true,
  unavailable: redisUnavailable,
  topology(shape, env: RunEnv): Topology {
    if (env.redisPort === undefined) throw new Error('Nest Redis needs the bench redis-server');
    const port = env.redisPort;
    const names = receiverNames(shape.receivers);
    return {
      stages: [
        () => names.map((n) => spec(n, 'nest-redis', shape, { port })),
        () => [spec(DRIVER, 'nest-redis', shape, { port, subscribers: shape.receivers })],
      ],
    };
  },
};

/** child_process IPC: the driver forks its receivers and talks to them with process.send. */
export const childIpc: Competitor = {
  key: 'child-ipc',
  label: 'child_process IPC',
  family: 'reference',
  topology(shape): Topology {
    const children = receiverNames(shape.receivers).map((n) => ({
      ...spec(n, 'child-ipc', shape),
      spawnedBy: DRIVER,
    }));
    return { stages: [() => [spec(DRIVER, 'child-ipc', shape), ...children]] };
  },
};
