import type { Namespace } from 'socket.io';
import {
  type ClusterAdapterOptions,
  ClusterAdapterWithHeartbeat,
  type ClusterMessage,
  type ClusterResponse,
  type Offset,
} from 'socket.io-adapter';
import type { Channel } from '../channel/channel.js';
import { InvalidOptionError } from '../channel/errors.js';
import { type BusMember, SocketIoBus } from './socket-io-bus.js';

/** Options of `createAdapter()`. */
export interface IpcAdapterOptions extends ClusterAdapterOptions {
  /**
   * Milliseconds between two heartbeats a server sends when it has published nothing else
   * (default 5000). A process that dies is noticed when it leaves the channel, at once; the
   * heartbeat only catches a server closed without its process leaving.
   */
  heartbeatInterval?: number;
  /** Milliseconds without any message after which a server counts as gone (default 10000). */
  heartbeatTimeout?: number;
}

/**
 * A socket.io adapter whose rooms and broadcasts span every process of a channel: built on
 * socket.io-adapter's cluster adapter with heartbeats, with the channel carrying its messages
 * (broadcast to the other processes, responses to the one that asked). Made by
 * `createAdapter()`; socket.io creates one per namespace.
 */
export class IpcAdapter extends ClusterAdapterWithHeartbeat implements BusMember {
  private readonly bus: SocketIoBus;

  constructor(nsp: Namespace, channel: Channel, options: IpcAdapterOptions = {}) {
    if (serverOptions(nsp).connectionStateRecovery !== undefined) {
      throw new InvalidOptionError(
        "socket.io's connectionStateRecovery is not supported by the nestjs-ipc-channel adapter: a client may reconnect to another worker, which holds no session of it. Remove the connectionStateRecovery option.",
      );
    }
    super(nsp, options);
    this.bus = SocketIoBus.of(channel);
    this.bus.add(this);
  }

  /** This server's id in the cluster (socket.io-adapter's `uid`, random per namespace). */
  get serverId(): string {
    return this.uid;
  }

  /** The name of the namespace this adapter serves. */
  get namespace(): string {
    return this.nsp.name;
  }

  /** @internal A message another server (or an emitter) published. */
  receiveMessage(message: ClusterMessage): void {
    this.onMessage(message);
  }

  /** @internal A response to a request of this server. */
  receiveResponse(response: ClusterResponse): void {
    this.onResponse(response);
  }

  /** Says goodbye to the other servers, stops the heartbeat, and leaves the bus. */
  override close(): void {
    super.close();
    this.bus.remove(this);
  }

  protected override doPublish(message: ClusterMessage): Promise<Offset> {
    try {
      this.bus.publish(message);
    } catch (error) {
      // A rejection, not a throw: socket.io-adapter handles it (a heartbeat timer that fires
      // after the channel closed must not throw), but only logs it.
      this.bus.reportFailure(error);
      return Promise.reject(error);
    }
    // Offsets serve connection state recovery, which this adapter refuses.
    return Promise.resolve('');
  }

  protected override doPublishResponse(
    requesterUid: string,
    response: ClusterResponse,
  ): Promise<void> {
    try {
      this.bus.respond(requesterUid, response);
    } catch (error) {
      this.bus.reportFailure(error);
      return Promise.reject(error);
    }
    return Promise.resolve();
  }
}

/** The options the namespace's server was made with (socket.io keeps them private). */
function serverOptions(nsp: Namespace): { connectionStateRecovery?: unknown } {
  return (nsp.server as unknown as { opts?: { connectionStateRecovery?: unknown } }).opts ?? {};
}

/**
 * What `Server.adapter()` takes: socket.io calls it with `new` once per namespace, and a
 * function that returns an object gives that object to `new`.
 */
export type IpcAdapterFactory = (nsp: Namespace) => IpcAdapter;

/**
 * The socket.io adapter that shares rooms and broadcasts across the processes of `channel`.
 * Every socket.io server of the channel's processes must use it (with the same channel name).
 * The caller connects and closes the channel; messages published before it has joined wait
 * and go out then.
 *
 * ```ts
 * const channel = new Channel({ name: 'chat' });
 * const io = new Server(httpServer, { transports: ['websocket'] });
 * io.adapter(createAdapter(channel));
 * await channel.connect();
 * io.to('room-1').emit('hello', 'from any worker'); // reaches room-1's clients on every worker
 * ```
 */
export function createAdapter(
  channel: Channel,
  options: IpcAdapterOptions = {},
): IpcAdapterFactory {
  return function ipcAdapter(nsp: Namespace): IpcAdapter {
    return new IpcAdapter(nsp, channel, options);
  };
}
