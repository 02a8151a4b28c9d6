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
  readonly peers: number[];
  readonly pendingBytes?: number;
  connect(): Promise<void>;
  to(target: number | 'others'): { emit(event: string, ...args: unknown[]): boolean };
  on(event: string, listener: (sender: number, ...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
}
type ChannelCtor = new (options: {
  name: string;
  dir: string;
  id: number;
  directLinks?: boolean;
}) => ChannelLike;

export interface ChannelOptions {
  name: string;
  id: number;
  /** Where emit() and request() go: a peer id, or 'others' for broadcast. */
  target?: number | 'others';
  /** Whether this process must end up hosting the hub (the topology depends on it). */
  expectHub: boolean;
  /** Peer ids that must have joined before the scenario starts. */
  expectPeers: number[];
  /** The channel's directLinks option, when a row sets it. */
  directLinks?: boolean;
  /** Cluster metrics on: this process answers collections, the driver scrapes every second. */
  metrics?: boolean;
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
    dir: boot.dir,
    id: o.id,
    ...(o.directLinks === undefined ? {} : { directLinks: o.directLinks }),
  });

  // Request/response on the bare channel, as an application would build it: a request id
  // travels with the payload and the responder answers the sender by id.
  const pending = new Map<number, (p: BenchPayload) => void>();
  let nextRequest = 1;
  ch.on('req', (sender: number, rid: number, p: BenchPayload) => {
    ch.to(sender).emit('res', rid, handlers.request(p));
  });
  ch.on('res', (_sender: number, rid: number, p: BenchPayload) => {
    const resolve = pending.get(rid);
    pending.delete(rid);
    resolve?.(p);
  });
  ch.on('ev', (_sender: number, p: BenchPayload) => handlers.event(p));

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
