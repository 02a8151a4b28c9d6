import type { Channel } from '../../channel/channel.js';
import type { MessageSink } from './message-sink.js';

/** What peers announce in their channel meta so clients know who handles what. */
interface NestMeta {
  nest?: { m?: string[]; e?: string[] };
}

/**
 * Which peers handle which patterns: each process announces its IpcServer's routes in its
 * channel meta, and clients pick among the peers that announced a route, in turn.
 */
export class HandlerDirectory {
  /** Peers handling each message route, rebuilt when membership or meta changes. */
  private handlers = new Map<string, number[]>();
  private readonly roundRobin = new Map<string, number>();

  constructor(private readonly channel: Channel) {
    for (const event of ['join', 'leave', 'meta', 'connect', 'retiring'] as const) {
      channel.on(event, () => this.handlers.clear());
    }
  }

  /** Announces the routes the attached IpcServers handle (none when no server is attached). */
  announce(sinks: Iterable<MessageSink>): void {
    const m = new Set<string>();
    const e = new Set<string>();
    for (const sink of sinks) {
      sink.messageRoutes.forEach((r) => m.add(r));
      sink.eventRoutes.forEach((r) => e.add(r));
    }
    this.channel.setMeta({ nest: { m: [...m], e: [...e] } });
  }

  /** Peers whose IpcServer handles a message route, ascending. */
  peersHandling(route: string): number[] {
    let peers = this.handlers.get(route);
    if (peers === undefined) {
      // A peer that is shutting down responds to what it has but takes no new requests.
      peers = this.channel.peers.filter((id) => {
        const info = this.channel.peerInfo(id);
        return (
          info !== undefined &&
          !info.retiring &&
          (info.meta as NestMeta | null)?.nest?.m?.includes(route) === true
        );
      });
      this.handlers.set(route, peers);
    }
    return peers;
  }

  /** The next peer, in turn, among those that handle `route` (skipping `tried`). */
  pickPeer(route: string, tried?: ReadonlySet<number>): number | undefined {
    const all = this.peersHandling(route);
    const peers = tried === undefined || tried.size === 0 ? all : all.filter((p) => !tried.has(p));
    if (peers.length === 0) return undefined;
    const turn = this.roundRobin.get(route) ?? 0;
    this.roundRobin.set(route, turn + 1);
    return peers[turn % peers.length];
  }
}
