import type { TransportName } from '../shared/protocol.js';
import type { Transport } from './types.js';

/**
 * Transports load lazily, so a raw-socket worker never pays for importing Nest (about half a
 * second and tens of MB) and Redis's client is only needed where Redis runs.
 */
const loaders: Record<TransportName, () => Promise<Transport>> = {
  channel: async () => (await import('./channel.js')).channelTransport,
  'raw-uds': async () => (await import('./raw-uds.js')).rawUdsTransport,
  'raw-relay': async () => (await import('./raw-relay.js')).rawRelayTransport,
  'nest-tcp': async () => (await import('./nest-tcp.js')).nestTcpTransport,
  'nest-redis': async () => (await import('./nest-redis.js')).nestRedisTransport,
  'child-ipc': async () => (await import('./child-ipc.js')).childIpcTransport,
  'nest-ipc': async () => (await import('./nest-ipc.js')).nestIpcTransport,
};

export function loadTransport(name: TransportName): Promise<Transport> {
  const load = loaders[name];
  if (load === undefined) throw new Error(`unknown transport '${name}'`);
  return load();
}
