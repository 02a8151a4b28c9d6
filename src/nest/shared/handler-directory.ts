import type { PeerId, TargetSpec } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { MessageSink } from './message-sink.js';
import { isLocalPeer } from './peer-id.js';
import { Coverage, UnhandledEvents } from './unhandled-events.js';

/** What peers announce in their channel meta so clients know who handles what. */
interface NestMeta {
  nest?: { m?: string[]; e?: string[] };
}

/**
 * Which peers handle which patterns: each process announces its IpcServer's routes in its
 * channel meta (a federated channel carries the meta of other hosts' peers in their views), and
 * clients pick among the peers that announced a route, in turn: among this host's first, and
 * only when none of them handles it among other hosts' peers. It also tells the sender of an
 * event that no peer handles (see UnhandledEvents).
 */
export class HandlerDirectory {
  /** Peers handling each message route, rebuilt when membership or meta changes. */
  private handlers = new Map<string, PeerId[]>();
  /** This host's among them (all of them on a channel that is not federated). */
  private readonly localHandlers = new Map<string, number[]>();
  /** Per event route, the targets a handler is known among (cleared like `handlers`). */
  private readonly handledEvents = new Map<string, Set<TargetSpec>>();
  /** Per route, the next turn among this host's handlers. */
  private readonly localTurn = new Map<string, number>();
  /** Per route, the next turn among other hosts' handlers. */
  private readonly remoteTurn = new Map<string, number>();
  private readonly unhandled: UnhandledEvents;

  constructor(
    private readonly channel: Channel,
    /** How long a peer that announced nothing may still attach an IpcServer (graceMs). */
    announceWaitMs: number,
  ) {
    this.unhandled = new UnhandledEvents(channel, announceWaitMs, (route, target, final) =>
      this.eventCoverage(route, target, final),
    );
    for (const event of ['join', 'leave', 'meta', 'connect', 'retiring'] as const) {
      channel.on(event, () => this.changed());
    }
    channel.on('close', () => this.unhandled.stop());
  }

  /** Membership or meta changed: what was looked up is stale, and what waits may be settled. */
  private changed(): void {
    this.handlers.clear();
    this.localHandlers.clear();
    this.handledEvents.clear();
    this.unhandled.recheck();
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
    // The channel emits no 'meta' for this process's own.
    this.changed();
  }

  /** Peers whose IpcServer handles a message route, in the channel's order (local first). */
  peersHandling(route: string): PeerId[] {
    let peers = this.handlers.get(route);
    if (peers === undefined) {
      // A peer that is shutting down responds to what it has but takes no new requests.
      peers = this.announcing(route, false);
      this.handlers.set(route, peers);
    }
    return peers;
  }

  /**
   * Peers shutting down whose IpcServer handled `route`: they take no new request, but a gather
   * still owes its caller a reply for each of them (the refusal), in the channel's order.
   */
  retiringHandling(route: string): PeerId[] {
    return this.announcing(route, true);
  }

  /** Members whose IpcServer announced the message route, shutting down or not. */
  private announcing(route: string, retiring: boolean): PeerId[] {
    return this.channel.peers.filter((id) => {
      const info = this.channel.peerInfo(id);
      return (
        info !== undefined &&
        info.retiring === retiring &&
        (info.meta as NestMeta | null)?.nest?.m?.includes(route) === true
      );
    });
  }

  /**
   * The next peer, in turn, among those that handle `route` (skipping `tried`): one of this
   * host's while any of them is left, else one of another host's. Local traffic stays local;
   * other hosts are the fallback, not a share of the load.
   */
  pickPeer(route: string, tried?: ReadonlySet<PeerId>): PeerId | undefined {
    let local: readonly PeerId[] = this.localHandling(route);
    let all = this.peersHandling(route);
    if (tried !== undefined && tried.size > 0) {
      local = local.filter((p) => !tried.has(p));
      all = all.filter((p) => !tried.has(p));
    }
    if (local.length > 0) return inTurn(this.localTurn, route, local);
    // None of this host's is left: `all` holds only other hosts' peers.
    if (all.length === 0) return undefined;
    return inTurn(this.remoteTurn, route, all);
  }

  /** This host's peers that handle a message route, ascending (cached like peersHandling). */
  private localHandling(route: string): number[] {
    let peers = this.localHandlers.get(route);
    if (peers === undefined) {
      peers = this.peersHandling(route).filter(isLocalPeer);
      this.localHandlers.set(route, peers);
    }
    return peers;
  }

  /**
   * An event was just sent to `target`: when no peer it went to is known to handle it, the
   * sender hears of it (a warning, once per pattern a minute). One Map and one Set lookup when
   * a handler is known.
   */
  noteEvent(route: string, target: TargetSpec): void {
    if (this.handledEvents.get(route)?.has(target) === true) return;
    const coverage = this.eventCoverage(route, target, false);
    if (coverage !== Coverage.Handled) this.unhandled.watch(route, target, coverage);
  }

  /**
   * Resolves once a peer the event just sent to `target` went to is known to handle it; rejects
   * with NoEventHandlerError when none does (see UnhandledEvents for when that is known).
   */
  eventVerdict(route: string, target: TargetSpec): Promise<void> {
    if (this.handledEvents.get(route)?.has(target) === true) return Promise.resolve();
    const coverage = this.eventCoverage(route, target, false);
    if (coverage === Coverage.Handled) return Promise.resolve();
    return new Promise<void>((resolve, reject) =>
      this.unhandled.watch(route, target, coverage, { resolve, reject }),
    );
  }

  /**
   * Whether a peer `target` reaches handles event `route`, as far as announcements tell now.
   * `final`: the wait for announcements is over, so a present peer that announced nothing is
   * taken to handle nothing.
   */
  private eventCoverage(route: string, target: TargetSpec, final: boolean): Coverage {
    const self = this.channel.id;
    if (self === undefined) return Coverage.Unknown; // not joined: who it goes to is not known
    const ids =
      target === 'all'
        ? this.channel.peers
        : target === 'others'
          ? this.channel.peers.filter((id) => id !== self)
          : target === 'host'
            ? this.channel.peers.filter(isLocalPeer)
            : [target];
    let unknown = false;
    for (const id of ids) {
      const info = this.channel.peerInfo(id);
      if (info === undefined) {
        unknown = true; // held for the id's next process, whose handlers are not known yet
        continue;
      }
      const nest = (info.meta as NestMeta | null)?.nest;
      if (nest?.e?.includes(route) === true) {
        let targets = this.handledEvents.get(route);
        if (targets === undefined) this.handledEvents.set(route, (targets = new Set()));
        targets.add(target);
        return Coverage.Handled;
      }
      if (nest === undefined && !final) unknown = true;
    }
    return unknown ? Coverage.Unknown : Coverage.Unhandled;
  }
}

/** The next of `peers` in `route`'s turn kept in `turns`. */
function inTurn(turns: Map<string, number>, route: string, peers: readonly PeerId[]): PeerId {
  const turn = turns.get(route) ?? 0;
  turns.set(route, turn + 1);
  return peers[turn % peers.length]!;
}
