import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchPayload } from '../shared/payload.js';
import { CHANNEL_ENTRY } from '../shared/paths.js';
import { startClusterMetrics } from './channel-metrics.js';
import type { WorkerBoot } from '../shared/protocol.js';
import type { Endpoint, Handlers, Transport } from './types.js';

/**
 * The slice of the Channel API the bench drives. The bench loads the built package (dist/),
 * the artifact users install, at run time; naming the slice here keeps `tsc` for the bench
 * independent of a build, and open() checks the shape so a renamed method fails loudly.
 */
interface ChannelLike {
  readonly id: number | undefined;
  readonly isHub: boolean;
  readonly peers: PeerId[];
  readonly pendingBytes?: number;
  connect(): Promise<void>;
  to(target: PeerId | 'others'): { emit(event: string, ...args: unknown[]): boolean };
  on(event: string, listener: (sender: PeerId, ...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
}
type ChannelCtor = new (options: {
  name: string;
  dir: string;
  id: number;
  directLinks?: boolean;
  federation?: BenchFederation;
}) => ChannelLike;

/** A peer on this host by number, or on another host as '<host>/<id>'. */
export type PeerId = number | `${string}/${number}`;

/** The federation option of the rows that bridge hosts through the bench's Redis. */
export interface BenchFederation {
  redis: string;
  /** This simulated host's name; its processes also get a socket directory of their own. */
  host: string;
  /** A key prefix of the trial's own, so no trial reads another's streams. */
  prefix: string;
}

export interface ChannelOptions {
  name: string;
  id: number;
  /** Where emit() and request() go: a peer id ('b/1' on another host), or 'others' for broadcast. */
  target?: PeerId | 'others';
  /** Whether this process must end up hosting the hub (of its host, when federated). */
  expectHub: boolean;
  /** Peer ids that must have joined (on any host) before the scenario starts. */
  expectPeers: PeerId[];
  /** The channel's directLinks option, when a row sets it. */
  directLinks?: boolean;
  /** Cluster metrics on: this process answers collections, the driver scrapes every second. */
  metrics?: boolean;
  /** Federation on: this process is on the simulated host it names. */
  federation?: BenchFederation;
}

async function loadChannel(): Promise<ChannelCtor> {
  const lib = (await import(pathToFileURL(CHANNEL_ENTRY).href)) as { Channel?: unknown };
  if (typeof lib.Channel !== 'function') {
    throw new Error(`${CHANNEL_ENTRY} does not export Channel: run 'npm run build'`);
  }
  return lib.Channel as ChannelCtor;
}

async function open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint> {
  const o = boot.spec.options as unknown as ChannelOptions;
  const Channel = await loadChannel();
  const ch = new Channel({
    name: o.name,
    // Simulated hosts: each has its own socket directory, so each elects its own hub.
    dir: o.federation === undefined ? boot.dir : join(boot.dir, o.federation.host),
    id: o.id,
    ...(o.directLinks === undefined ? {} : { directLinks: o.directLinks }),
    ...(o.federation === undefined ? {} : { federation: o.federation }),
  });

  // Request/response on the bare channel, as an application would build it: a request id
  // travels with the payload and the responder answers the sender by id.
  const pending = new Map<number, (p: BenchPayload) => void>();
  let nextRequest = 1;
  ch.on('req', (sender: PeerId, rid: number, p: BenchPayload) => {
    ch.to(sender).emit('res', rid, handlers.request(p));
  });
  ch.on('res', (_sender: PeerId, rid: number, p: BenchPayload) => {
    const resolve = pending.get(rid);
    pending.delete(rid);
    resolve?.(p);
  });
  ch.on('ev', (_sender: PeerId, p: BenchPayload) => handlers.event(p));

  await ch.connect();
  if (ch.isHub !== o.expectHub) {
    throw new Error(
      `peer ${o.id} ${ch.isHub ? 'hosts' : 'does not host'} the hub, but the topology needs the opposite`,
    );
  }
  const out = o.target === undefined ? undefined : ch.to(o.target);
  if (o.metrics === true) await startClusterMetrics(ch, out !== undefined);

  return {
    info: { id: ch.id, isHub: ch.isHub },
    async sync() {
      while (!o.expectPeers.every((id) => ch.peers.includes(id))) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    request(p) {
      if (out === undefined) throw new Error('no target: this peer only serves');
      return new Promise((resolve) => {
        const rid = nextRequest++;
        pending.set(rid, resolve);
        out.emit('req', rid, p);
      });
    },
    emit(p) {
      if (out === undefined) throw new Error('no target: this peer only receives');
      return out.emit('ev', p);
    },
    drained() {
      return new Promise((resolve) => ch.once('drain', resolve));
    },
    state() {
      return { id: ch.id, isHub: ch.isHub, peers: ch.peers, pendingBytes: ch.pendingBytes };
    },
  };
}

export const channelTransport: Transport = { open };
