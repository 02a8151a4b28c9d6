import type { Deserializer, Serializer } from '@nestjs/microservices';
import type { PeerId } from '../channel/channel-target.js';
import type { ChannelOptions } from '../channel/channel-options.js';

/**
 * Options of `new IpcServer()`: every Channel option (`name`, `id`, `dir`, `codec`, `secret`,
 * ...) plus Nest's serializer hooks. An IpcServer and the IpcClients of one process that use the
 * same channel name share one connection and one peer id.
 */
export interface IpcServerOptions extends ChannelOptions {
  /** Transforms each response packet before it is sent (may return a Promise). */
  serializer?: Serializer;
  /** Transforms each incoming request or event packet (may return a Promise). */
  deserializer?: Deserializer;
}

/** Options of IpcClient (for `ClientsModule.register([{ name, customClass: IpcClient, options }])`). */
export interface IpcClientOptions extends ChannelOptions {
  /** Fails a request with RequestTimeoutError when no response came within this many ms. */
  timeout?: number;
  /**
   * `emit` completes only once every peer the event went to has read it and one of them handles
   * its pattern, and errors with UndeliverableError, DeliveryUncertainError or
   * NoEventHandlerError otherwise. Off by default: `emit` completes once the event is accepted,
   * and a pattern no peer handles is logged as a warning. On a federated channel, the peers of
   * another host count as having read it once it is stored in that host's inbox.
   */
  confirmEvents?: boolean;
  /**
   * A request to one peer (`to(id).send`, and each peer of a gather) that finds it restarting
   * waits for the process that takes its id back, then goes to it, instead of failing at once
   * with PeerUnavailableError. Only requests that provably did not run are sent again. The wait
   * ends at `timeout`, or without one graceMs after the peer left. Default false.
   */
  waitForRestart?: boolean;
  /** Transforms each outgoing request or event packet (may return a Promise). */
  serializer?: Serializer;
  /** Transforms each incoming response packet (may return a Promise). */
  deserializer?: Deserializer;
}

/** Status values of IpcServer and IpcClient (`status` observable). */
export type IpcStatus = 'connected' | 'reconnecting' | 'disconnected';

/** Events of `server.on(...)` / `client.on(...)`. */
export interface IpcEvents {
  /** Joined, or joined again after a failover; `id` is this process's peer id. */
  connected: (id: number) => void;
  /** Lost the hub; electing a new one (messages are kept and resent). */
  reconnecting: () => void;
  /** Closed. */
  disconnected: () => void;
  /** A new hub took over (also one under the old hub's id, after a reload); `hubId` hosts it. */
  hub: (hubId: number) => void;
  /** A peer joined: a number on this host, `'<host>/<id>'` on another host of a federated channel. */
  join: (peer: PeerId) => void;
  /** A peer left; on a federated channel, every peer of a host that is dropped leaves. */
  leave: (peer: PeerId) => void;
  /**
   * A peer is shutting down (a PM2 reload, app.close()): it takes no new messages; what is sent
   * to its id waits for its successor, and requests to it fail at once with
   * PeerUnavailableError (`retiring: true`). `leave` follows.
   */
  retiring: (peer: PeerId) => void;
  /** This process became the channel's leader (or its epoch rose while leading). */
  leader: (epoch: number) => void;
  /** This process stopped being the leader. */
  follower: (epoch: number) => void;
  error: (error: Error) => void;
  [event: string]: (...args: any[]) => void;
}
