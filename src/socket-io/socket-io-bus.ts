import { type ClusterMessage, type ClusterResponse, MessageType } from 'socket.io-adapter';
import type { Channel } from '../channel/channel.js';
import { ChannelClosedError, IpcChannelError } from '../channel/errors.js';
import { type Payload, decodePayload, encodePayload } from './cluster-payload.js';

/**
 * The channel events that carry socket.io's cluster traffic. Like the Nest binding's `@nest/…`
 * names they are read by the library itself (Channel._read), so an application's listeners
 * never see them.
 */
export const SOCKET_IO_WIRE = {
  /** `[...payload]`: a ClusterMessage, to every other process. */
  message: '@socket.io/msg',
  /** `[requesterUid, ...payload]`: a ClusterResponse, to the requester's process. */
  response: '@socket.io/res',
} as const;

/** The uid socket.io-adapter gives messages that come from an emitter, not from a server. */
export const EMITTER_UID = 'emitter';

/** What the bus needs of an adapter: its identity and its two entry points. */
export interface BusMember {
  /** The adapter's server id (socket.io-adapter's `uid`). */
  readonly serverId: string;
  /** The namespace's name. */
  readonly namespace: string;
  receiveMessage(message: ClusterMessage): void;
  receiveResponse(response: ClusterResponse): void;
}

const buses = new WeakMap<Channel, SocketIoBus>();

/** Failures nobody listens to are printed at most once per code in this long. */
const WARNING_EVERY_MS = 5000;

/**
 * One channel's socket.io traffic in this process: sends what its adapters and emitters publish
 * to the other processes, hands what arrives to the adapters of its namespace, answers a
 * request in the process that made it, and, when a process leaves the channel, tells the
 * adapters here that its servers are gone, so `fetchSockets()` and `serverSideEmit` acks wait
 * for the living only, without waiting for a heartbeat timeout.
 */
export class SocketIoBus {
  /** This process's adapters, by namespace. */
  private readonly members = new Map<string, Set<BusMember>>();
  /** This process's adapters, by server id. */
  private readonly byServerId = new Map<string, BusMember>();
  /** The servers of other processes heard from, by peer id: their ids and namespaces. */
  private readonly remote = new Map<number, Map<string, string>>();
  /** The peer id of each remote server heard from. */
  private readonly peerOf = new Map<string, number>();
  /** When a failure of each error code was last printed as a process warning. */
  private readonly warnedAt = new Map<string, number>();

  /** The bus of `channel`, created on first use (one per channel: it reads the channel's events). */
  static of(channel: Channel): SocketIoBus {
    let bus = buses.get(channel);
    if (bus === undefined) {
      bus = new SocketIoBus(channel);
      buses.set(channel, bus);
    }
    return bus;
  }

  private constructor(private readonly channel: Channel) {
    channel._read(SOCKET_IO_WIRE.message, (sender, args) => this.onMessage(sender, args));
    channel._read(SOCKET_IO_WIRE.response, (_sender, [uid, ...payload]) =>
      this.onResponse(uid as string, payload),
    );
    // A response whose requester died meanwhile, or a message to a process that left, is
    // nobody's loss: the requester's wait ends when it learns the server left.
    channel._claimUndeliverable(SOCKET_IO_WIRE.message, () => {});
    channel._claimUndeliverable(SOCKET_IO_WIRE.response, () => {});
    // A peer id that leaves, or is taken again, no longer runs the servers heard from it.
    channel.on('leave', (peer: number) => this.forget(peer));
    channel.on('join', (peer: number) => this.forget(peer));
  }

  add(member: BusMember): void {
    let set = this.members.get(member.namespace);
    if (set === undefined) this.members.set(member.namespace, (set = new Set()));
    set.add(member);
    this.byServerId.set(member.serverId, member);
  }

  remove(member: BusMember): void {
    this.members.get(member.namespace)?.delete(member);
    this.byServerId.delete(member.serverId);
  }

  /**
   * Sends `message` to every other process, and to this process's other adapters of the
   * namespace (two socket.io servers in one process). Returns false when the channel asks the
   * sender to wait for its 'drain'.
   */
  publish(message: ClusterMessage): boolean {
    const payload = encodePayload(message);
    const locals = this.members.get(message.nsp);
    if (locals !== undefined && locals.size > (message.uid === EMITTER_UID ? 0 : 1)) {
      // Delivered later, as from another process: the sender finishes what it is doing first.
      queueMicrotask(() => this.deliverLocally(message.nsp, message.uid, payload));
    }
    return this.channel.to('others').emit(SOCKET_IO_WIRE.message, ...payload);
  }

  /** Sends `response` to the adapter `requesterUid`, in whichever process it runs. */
  respond(requesterUid: string, response: ClusterResponse): void {
    const local = this.byServerId.get(requesterUid);
    if (local !== undefined) {
      const payload = encodePayload(response);
      queueMicrotask(() =>
        this.byServerId
          .get(requesterUid)
          ?.receiveResponse(decodePayload(payload) as ClusterResponse),
      );
      return;
    }
    const peer = this.peerOf.get(requesterUid);
    // A requester never heard from has left already (its leave dropped it): nothing waits.
    if (peer === undefined) return;
    this.channel.to(peer).emit(SOCKET_IO_WIRE.response, requesterUid, ...encodePayload(response));
  }

  /**
   * Reports what an adapter failed to publish. socket.io-adapter only logs it (with `debug`),
   * and socket.io's emit has returned before: an event too large for the channel, or one its
   * codec cannot encode, would reach this worker's clients and silently none of the others'.
   * So the failure goes where the channel's own go: its 'error' listeners, else a process
   * warning (once per code every few seconds). A closed channel is the caller's own doing (a
   * heartbeat after shutdown): not reported.
   */
  reportFailure(error: unknown): void {
    if (error instanceof ChannelClosedError) return;
    if (error instanceof IpcChannelError && this.channel.listenerCount('error') > 0) {
      this.channel.emit('error', error);
      return;
    }
    const code = error instanceof IpcChannelError ? error.code : 'ERR_UNKNOWN';
    const now = Date.now();
    if (now - (this.warnedAt.get(code) ?? -Infinity) < WARNING_EVERY_MS) return;
    this.warnedAt.set(code, now);
    process.emitWarning(
      `socket.io over channel '${this.channel.name}': a message for the other processes was not sent: ${error instanceof Error ? error.message : String(error)}`,
      { code: 'NESTJS_IPC_SOCKET_IO' },
    );
  }

  /** Each local adapter gets its own copy: socket.io adds to a packet while broadcasting it. */
  private deliverLocally(nsp: string, fromUid: string, payload: Payload): void {
    for (const member of this.members.get(nsp) ?? []) {
      if (member.serverId !== fromUid) {
        member.receiveMessage(decodePayload(payload) as ClusterMessage);
      }
    }
  }

  private onMessage(sender: number, args: unknown[]): void {
    let message: ClusterMessage;
    try {
      message = decodePayload(args) as ClusterMessage;
    } catch {
      return; // Not made by this library: nothing here can act on it.
    }
    if (message === null || typeof message !== 'object' || typeof message.nsp !== 'string') return;
    if (typeof message.uid === 'string' && message.uid !== EMITTER_UID) {
      if (message.type === MessageType.ADAPTER_CLOSE) this.closed(sender, message.uid);
      else this.heard(sender, message);
    }
    const locals = this.members.get(message.nsp);
    if (locals === undefined) return;
    let first = true;
    for (const member of locals) {
      member.receiveMessage(first ? message : (decodePayload(args) as ClusterMessage));
      first = false;
    }
  }

  private onResponse(uid: string, payload: unknown[]): void {
    const member = this.byServerId.get(uid);
    if (member === undefined) return;
    let response: ClusterResponse;
    try {
      response = decodePayload(payload) as ClusterResponse;
    } catch {
      return;
    }
    member.receiveResponse(response);
  }

  private heard(peer: number, message: ClusterMessage): void {
    if (this.peerOf.get(message.uid) === peer) return;
    this.peerOf.set(message.uid, peer);
    let servers = this.remote.get(peer);
    if (servers === undefined) this.remote.set(peer, (servers = new Map()));
    servers.set(message.uid, message.nsp);
  }

  /** A server of peer `peer` closed (its process goes on): nothing more to tell about it. */
  private closed(peer: number, uid: string): void {
    this.peerOf.delete(uid);
    this.remote.get(peer)?.delete(uid);
  }

  /** Tells the adapters here that every server peer `peer` ran is gone. */
  private forget(peer: number): void {
    const servers = this.remote.get(peer);
    if (servers === undefined) return;
    this.remote.delete(peer);
    for (const [uid, nsp] of servers) {
      this.peerOf.delete(uid);
      for (const member of this.members.get(nsp) ?? []) {
        // What a server says when it closes: the heartbeat adapter stops waiting for it.
        member.receiveMessage({ type: MessageType.ADAPTER_CLOSE, uid, nsp });
      }
    }
  }
}
