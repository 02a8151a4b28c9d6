import type { Shape } from '../orchestrator/topology.js';
import { oneHopTopology, relayedTopology } from './channel.js';
import type { Competitor } from './competitor.js';

/**
 * The Nest transport of this library: every process is a Nest microservice app with an
 * IpcServer (as every worker of a PM2 cluster would be), laid out exactly like the channel
 * rows; the driver's IpcClient shares its process's channel connection.
 */
export const nestIpcOneHop: Competitor = {
  key: 'nest-ipc-1hop',
  label: 'Nest IPC (one hop)',
  family: 'nest-ipc',
  topology: (shape: Shape) => oneHopTopology(shape, 'nest-ipc'),
};

/** Two non-hub workers through the hub worker (for broadcast, the hub is one of the four). */
export const nestIpcRelayed: Competitor = {
  key: 'nest-ipc-relayed',
  label: 'Nest IPC (relayed)',
  family: 'nest-ipc',
  topology: (shape: Shape) => relayedTopology(shape, 'nest-ipc'),
};

/** The same with direct links off: through the hub worker for real. */
export const nestIpcViaHub: Competitor = {
  key: 'nest-ipc-via-hub',
  label: 'Nest IPC (via hub)',
  family: 'nest-ipc',
  fullOnly: true,
  topology: (shape: Shape) => relayedTopology(shape, 'nest-ipc', false),
};
