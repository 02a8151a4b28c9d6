import { EventEmitter } from 'node:events';
import type { PeerId } from './channel-target.js';
import type { IpcChannelError } from './errors.js';

/**
 * The listener signatures of the lifecycle events. With federation, peers on other hosts come
 * as `'<host>/<id>'` (see PeerId) in `message`, `join`, `leave`, `meta` and `retiring`.
 */
export interface ChannelEventMap {
  /** `to(x).send(msg)` from `sender`. */
  message: [sender: PeerId, message: unknown];
  /** Joined (first time, or again after a failover); `id` is this process's peer id. */
  connect: [id: number];
  /** Lost the hub; the channel is already electing a new one. */
  disconnect: [error: Error | undefined];
  join: [id: PeerId];
  leave: [id: PeerId];
  /** A hub took over; `hubId` is the peer id of the process hosting it (0 while unknown). */
  hub: [hubId: number];
  meta: [id: PeerId, meta: unknown];
  /** A peer started shutting down: it takes no new messages and will leave. */
  retiring: [id: PeerId];
  /** This process became the leader (see Channel.isLeader), or its epoch rose while leading. */
  leader: [epoch: number];
  /** This process stopped being the leader; emitted before it does anything else. */
  follower: [epoch: number];
  drain: [];
  error: [error: IpcChannelError];
  close: [];
}

/** A listener of one lifecycle event. */
export type ChannelListener<K extends keyof ChannelEventMap> = (
  ...args: ChannelEventMap[K]
) => void;

/**
 * The lifecycle events as an unfederated channel has them: every peer is a number. Listeners
 * written for it (`(id: number) => ...`) stay valid; a federated channel must take PeerId.
 */
type LocalEventMap = {
  [K in keyof ChannelEventMap]: {
    [I in keyof ChannelEventMap[K]]: ChannelEventMap[K][I] extends PeerId
      ? number
      : ChannelEventMap[K][I];
  };
};
type LocalListener<K extends keyof ChannelEventMap> = (...args: LocalEventMap[K]) => void;
/** A user event's listener. */
type UserListener = (sender: PeerId, ...args: any[]) => void;
/** A user event's listener written for an unfederated channel (see LocalEventMap). */
type LocalUserListener = (sender: number, ...args: any[]) => void;

/** The channel's EventEmitter methods, typed with its events. */
export class ChannelEmitter extends EventEmitter {
  /** Listens to a lifecycle event, or to a user event `(sender, ...args)`. */
  override on<K extends keyof ChannelEventMap>(event: K, listener: ChannelListener<K>): this;
  override on<K extends keyof ChannelEventMap>(event: K, listener: LocalListener<K>): this;
  override on(event: string, listener: UserListener): this;
  override on(event: string, listener: LocalUserListener): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends keyof ChannelEventMap>(event: K, listener: ChannelListener<K>): this;
  override once<K extends keyof ChannelEventMap>(event: K, listener: LocalListener<K>): this;
  override once(event: string, listener: UserListener): this;
  override once(event: string, listener: LocalUserListener): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  override off<K extends keyof ChannelEventMap>(event: K, listener: ChannelListener<K>): this;
  override off<K extends keyof ChannelEventMap>(event: K, listener: LocalListener<K>): this;
  override off(event: string, listener: UserListener): this;
  override off(event: string, listener: LocalUserListener): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }
}

/** What Channel.peerInfo tells of a peer. `host` is set when the channel is federated. */
export interface PeerDetails<Id extends PeerId = PeerId> {
  readonly id: Id;
  readonly pid: number;
  readonly meta: unknown;
  /** Shutting down: it takes no new messages. */
  readonly retiring: boolean;
  /** The host it runs on (federated channels only). */
  readonly host?: string;
}
