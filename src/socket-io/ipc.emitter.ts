import { type ClusterMessage, MessageType } from 'socket.io-adapter';
import type { Channel } from '../channel/channel.js';
import { InvalidEventNameError, InvalidOptionError } from '../channel/errors.js';
import { EMITTER_UID, SocketIoBus } from './socket-io-bus.js';

/** socket.io-parser's EVENT packet (the servers' encoders mark binary ones themselves). */
const EVENT_PACKET = 2;

/** Names socket.io keeps for itself: a server refuses to emit them, so an emitter does too. */
const RESERVED = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

/** Who a broadcast goes to: some rooms (none: every socket), minus some. */
interface Selection {
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly volatile: boolean;
  readonly compress: boolean | undefined;
}

function checkEvent(event: string): void {
  if (typeof event !== 'string' || event.length === 0) {
    throw new InvalidEventNameError(event, 'it must be a non-empty string');
  }
  if (RESERVED.has(event)) {
    throw new InvalidEventNameError(event, 'socket.io reserves it; use another name');
  }
}

const asList = (rooms: string | readonly string[]): string[] =>
  typeof rooms === 'string' ? [rooms] : [...rooms];

/**
 * `emitter.to(...)`, `.except(...)`, `.volatile`, `.compress(...)`: an immutable selection of
 * sockets across every socket.io server of the channel, and what to do with them.
 */
export class IpcBroadcastOperator {
  /** @internal */
  constructor(
    private readonly bus: SocketIoBus,
    private readonly nsp: string,
    private readonly selection: Selection,
  ) {}

  /** Targets the sockets in these rooms too (a socket in several of them gets it once). */
  to(rooms: string | readonly string[]): IpcBroadcastOperator {
    return this.with({ rooms: [...this.selection.rooms, ...asList(rooms)] });
  }

  /** The same as `to()`. */
  in(rooms: string | readonly string[]): IpcBroadcastOperator {
    return this.to(rooms);
  }

  /** Leaves out the sockets in these rooms. */
  except(rooms: string | readonly string[]): IpcBroadcastOperator {
    return this.with({ except: [...this.selection.except, ...asList(rooms)] });
  }

  /** The event may be dropped for clients that are not ready to receive it. */
  get volatile(): IpcBroadcastOperator {
    return this.with({ volatile: true });
  }

  /** Whether socket.io compresses the event (per-message deflate). */
  compress(compress: boolean): IpcBroadcastOperator {
    return this.with({ compress });
  }

  /**
   * Emits `event` to the selected sockets on every server of the channel. Returns false when
   * the channel asks to wait for its `'drain'` before emitting more; the event is sent either way.
   * Emits without acknowledgements: an emitter has no socket.io server to collect them.
   */
  emit(event: string, ...args: unknown[]): boolean {
    checkEvent(event);
    if (typeof args[args.length - 1] === 'function') {
      throw new InvalidOptionError(
        `emit('${event}') was given an acknowledgement callback, which an emitter cannot call: it has no socket.io server to collect the answers. Emit with acknowledgements from a server (io.timeout(ms).to(room).emitWithAck(...)).`,
      );
    }
    return this.publish({
      type: MessageType.BROADCAST,
      data: {
        opts: this.options(),
        packet: { type: EVENT_PACKET, data: [event, ...args], nsp: this.nsp },
      },
    });
  }

  /** Makes the selected sockets join `rooms`, on every server. */
  socketsJoin(rooms: string | readonly string[]): boolean {
    return this.publish({
      type: MessageType.SOCKETS_JOIN,
      data: { opts: this.options(), rooms: asList(rooms) },
    });
  }

  /** Makes the selected sockets leave `rooms`, on every server. */
  socketsLeave(rooms: string | readonly string[]): boolean {
    return this.publish({
      type: MessageType.SOCKETS_LEAVE,
      data: { opts: this.options(), rooms: asList(rooms) },
    });
  }

  /** Disconnects the selected sockets; with `close`, closes their underlying connections too. */
  disconnectSockets(close = false): boolean {
    return this.publish({
      type: MessageType.DISCONNECT_SOCKETS,
      data: { opts: this.options(), close },
    });
  }

  /** @internal */
  protected publish(message: Record<string, unknown>): boolean {
    return this.bus.publish({ ...message, uid: EMITTER_UID, nsp: this.nsp } as ClusterMessage);
  }

  private options(): { rooms: string[]; except: string[]; flags: Record<string, boolean> } {
    const flags: Record<string, boolean> = {};
    if (this.selection.volatile) flags.volatile = true;
    if (this.selection.compress !== undefined) flags.compress = this.selection.compress;
    return { rooms: [...this.selection.rooms], except: [...this.selection.except], flags };
  }

  private with(change: Partial<Selection>): IpcBroadcastOperator {
    return new IpcBroadcastOperator(this.bus, this.nsp, { ...this.selection, ...change });
  }
}

/**
 * Emits to the clients of every socket.io server of a channel from a process that runs no
 * socket.io server itself (a run-once job, a CLI, a worker of another kind). It joins the
 * channel like any peer: the caller connects it, and `await channel.close()` returns once
 * everything emitted has been delivered to the servers' processes.
 *
 * ```ts
 * const channel = new Channel({ name: 'chat' });
 * await channel.connect();
 * const emitter = new IpcEmitter(channel);
 * emitter.to('room-1').emit('news', { title: 'Nightly report ready' });
 * emitter.of('/admin').emit('job', 'done');
 * await channel.close();
 * ```
 */
export class IpcEmitter extends IpcBroadcastOperator {
  constructor(
    private readonly channel: Channel,
    /** The namespace (default `'/'`). */
    readonly namespace = '/',
  ) {
    super(SocketIoBus.of(channel), namespace, {
      rooms: [],
      except: [],
      volatile: false,
      compress: undefined,
    });
  }

  /** An emitter for another namespace, over the same channel. */
  of(namespace: string): IpcEmitter {
    return new IpcEmitter(this.channel, namespace);
  }

  /**
   * Emits `event` to the servers themselves: each runs its `io.on(event)` listeners
   * (`serverSideEmit` without an acknowledgement; an emitter cannot collect them).
   */
  serverSideEmit(event: string, ...args: unknown[]): boolean {
    checkEvent(event);
    return this.publish({ type: MessageType.SERVER_SIDE_EMIT, data: { packet: [event, ...args] } });
  }
}
