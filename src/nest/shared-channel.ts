import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { Channel } from '../channel/channel.js';
import type { ChannelOptions } from '../channel/channel-options.js';
import { InvalidOptionError, type IpcChannelError, UndeliverableError } from '../channel/errors.js';
import type { TargetSpec } from '../channel/channel-target.js';
import { NO_MESSAGE_HANDLER, WIRE } from './ipc.constants.js';
import { PeerLeftError, PeerUnavailableError } from './ipc.errors.js';
import { leadershipEvents } from './leadership/leadership-events.js';
import type { IpcStatus } from './ipc-options.interface.js';
import type { IpcMetadata } from './server/ipc.context.js';

/** What an IpcServer offers the shared channel: its patterns, and where messages go. */
export interface IpcRequestSink {
  readonly messageRoutes: readonly string[];
  readonly eventRoutes: readonly string[];
  hasMessageHandler(route: string): boolean;
  /**
   * `whole`: the request came as a whole packet (a custom serializer, or an older version of this
   * package), and its answer goes back the same way.
   */
  onRequest(sender: number, id: string, raw: unknown, whole: boolean): void;
  onEvent(sender: number, raw: unknown, broadcast: boolean): void;
  onCancel(sender: number, id: string): void;
  /** The answer to `sender`'s request `id` was refused by the hub (`error` says why). */
  onAnswerRefused(sender: number, id: string, error: UndeliverableError): void;
}

/** A request waiting for its answers. */
export interface PendingRequest {
  readonly target: number;
  readonly pattern: string;
  /** Who sent it (an IpcClient): closing that client abandons it. */
  readonly owner: object;
  /** The channel sequence number of its frame once sent; -1 before. */
  seq: number;
  /** A response packet arrived (still serialized, as the responder's serializer left it). */
  onResponse(raw: unknown): void;
  /** The request cannot complete (peer gone, unavailable, channel closed). */
  onFailure(error: Error): void;
}

/** What peers announce in their channel meta so clients know who handles what. */
interface NestMeta {
  nest?: { m?: string[]; e?: string[] };
}

/** A request or event that arrived before this process's IpcServer was attached. */
interface EarlyMessage {
  readonly request: boolean;
  readonly whole: boolean;
  readonly sender: number;
  readonly id: string;
  readonly raw: unknown;
  readonly broadcast: boolean;
}

/** How many such messages wait for an IpcServer (for the channel's graceMs). */
const MAX_EARLY_MESSAGES = 10_000;

const registry = new Map<string, SharedChannel>();

/**
 * Answers and cancels concern the process that started the request: they reach it even while
 * it retires (a worker being reloaded still gets the answers its last HTTP requests await).
 */
const TO_PROCESS = { _toProcess: true } as const;

/** Requests are not held for an absent peer: one to a dead id should fail now, not in 5 s. */
const NO_HOLD = { hold: false } as const;

/** A packet as Nest's default serializer leaves it (the dispatch hook may add metadata). */
interface NestPacket {
  readonly pattern: string;
  readonly data: unknown;
  readonly metadata?: IpcMetadata;
}

/**
 * One channel connection per process and channel name, shared by the IpcServer and every
 * IpcClient of the process, so they agree on one peer id. It keeps the requests in flight and
 * fails them at once when their target leaves.
 */
export class SharedChannel {
  readonly channel: Channel;
  private refs = 0;
  private readonly sinks = new Set<IpcRequestSink>();
  private readonly pending = new Map<string, PendingRequest>();
  private nextId = 1;
  /**
   * Makes request ids unique to this process: an answer sent to a process that has since
   * retired is handed to the next holder of its id, which must not take it for its own request
   * with the same number.
   */
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Peers handling each message route, rebuilt when membership or meta changes. */
  private handlers = new Map<string, number[]>();
  private readonly roundRobin = new Map<string, number>();
  private readonly fingerprint: string;
  /** Messages for an IpcServer that is not attached yet (see keepForServer). */
  private early: EarlyMessage[] = [];
  private earlyTimer: NodeJS.Timeout | undefined;

  /** Listeners for errors that belong to no request (IpcServer/IpcClient 'error' events). */
  readonly errorListeners = new Set<(error: IpcChannelError) => void>();
  private readonly logger = new Logger('IpcChannel');

  private constructor(
    channel: Channel,
    fingerprint: string,
    /** How long messages wait for an IpcServer to attach (the channel's graceMs). */
    private readonly earlyWaitMs: number,
  ) {
    this.channel = channel;
    this.fingerprint = fingerprint;
    // Packets made by Nest's default serializer arrive as their fields; they are put back
    // together here, as the JSON of the whole packet would have been (see WIRE).
    channel._read(WIRE.request, (sender, [id, pattern, data, metadata]) =>
      this.request(
        sender,
        id as string,
        metadata === undefined ? { id, pattern, data } : { id, pattern, data, metadata },
        false,
      ),
    );
    channel._read(WIRE.requestRaw, (sender, [id, raw]) =>
      this.request(sender, id as string, raw, true),
    );
    channel._read(WIRE.answer, (_sender, [id, response]) =>
      this.response(id as string, { id, response, isDisposed: true }),
    );
    channel._read(WIRE.response, (_sender, [id, raw]) => this.response(id as string, raw));
    channel._read(WIRE.event, (sender, [pattern, data, broadcast, metadata]) =>
      this.event(
        sender,
        metadata === undefined ? { pattern, data } : { pattern, data, metadata },
        broadcast === 1,
      ),
    );
    channel._read(WIRE.eventRaw, (sender, [raw, broadcast]) =>
      this.event(sender, raw, broadcast === 1),
    );
    channel._read(WIRE.cancel, (sender, [id]) => {
      for (const sink of this.sinks) sink.onCancel(sender, id as string);
    });
    channel.on('leave', (peer) => this.peerLeft(peer));
    for (const event of ['join', 'leave', 'meta', 'connect', 'retiring'] as const) {
      channel.on(event, () => this.handlers.clear());
    }
    for (const name of [WIRE.request, WIRE.requestRaw]) {
      channel._claimUndeliverable(name, (error) => this.requestUndelivered(error));
    }
    // A reply or cancel for a requester that is gone has nobody left to tell; one too large for
    // the requester to read fails its request instead.
    for (const name of [WIRE.answer, WIRE.response]) {
      channel._claimUndeliverable(name, (error) => this.answerRefused(error));
    }
    channel._claimUndeliverable(WIRE.cancel, () => {});
    channel.on('error', (error) => this.stray(error));
    // A (re)join or a new hub also brings followers a new epoch.
    for (const event of ['leader', 'follower', 'connect', 'hub'] as const) {
      channel.on(event, () => leadershipEvents.emit('change', channel.name));
    }
  }

  /**
   * This process's shared channel named `name`; without a name, its only one. Undefined when it
   * has none (nothing joined yet, or everything closed).
   */
  static find(name?: string): SharedChannel | undefined {
    if (name !== undefined) {
      for (const shared of registry.values()) if (shared.channel.name === name) return shared;
      return undefined;
    }
    if (registry.size > 1) {
      const names = [...registry.values()].map((s) => `'${s.channel.name}'`).join(', ');
      throw new InvalidOptionError(
        `This process uses several channels (${names}): say which one decides leadership, e.g. @LeaderOnly({ channel: 'orders' }), runOnLeader(fn, { channel: 'orders' }) or IpcLeadership.forChannel('orders').`,
      );
    }
    return registry.values().next().value;
  }

  /**
   * The shared channel for these options, created on first use. Options that would make the
   * connection behave differently (id, codec, secret, dir) must agree across users.
   */
  static acquire(options: ChannelOptions): SharedChannel {
    const channel = new Channel(options);
    const fingerprint = JSON.stringify([
      options.id ?? null,
      typeof options.codec === 'object' ? options.codec.name : (options.codec ?? 'json'),
      options.secret === undefined ? null : String(options.secret),
    ]);
    let shared = registry.get(channel.endpoint);
    if (shared !== undefined && shared.fingerprint !== fingerprint) {
      throw new InvalidOptionError(
        `An IpcServer or IpcClient of this process already uses channel '${channel.name}' with another id, codec or secret. Give every IpcServer/IpcClient of one channel the same options.`,
      );
    }
    if (shared === undefined) {
      shared = new SharedChannel(channel, fingerprint, options.graceMs ?? 5000);
      registry.set(channel.endpoint, shared);
    }
    shared.refs++;
    return shared;
  }

  connect(): Promise<void> {
    this.connecting ??= this.channel.connect();
    return this.connecting;
  }

  /** Drops one user; the last one closes the channel gracefully. */
  async release(): Promise<void> {
    if (--this.refs > 0) return;
    clearTimeout(this.earlyTimer);
    this.earlyTimer = undefined;
    if (registry.get(this.channel.endpoint) === this) registry.delete(this.channel.endpoint);
    this.closing ??= this.channel.close();
    await this.closing;
    for (const [id, request] of this.pending) {
      this.forget(id);
      request.onFailure(new PeerLeftError(request.target, request.pattern));
    }
  }

  /**
   * Forwards the channel's lifecycle to an IpcServer's or IpcClient's status and `on()`
   * listeners; returns the function that stops it.
   */
  watch(emitter: EventEmitter, status: { next(value: IpcStatus): void }): () => void {
    const ch = this.channel;
    const on: Record<string, (...args: any[]) => void> = {
      connect: (id: number) => {
        status.next('connected');
        emitter.emit('connected', id);
      },
      disconnect: () => {
        status.next('reconnecting');
        emitter.emit('reconnecting');
      },
      hub: (id: number) => emitter.emit('hub', id),
      join: (id: number) => emitter.emit('join', id),
      leave: (id: number) => emitter.emit('leave', id),
      retiring: (id: number) => emitter.emit('retiring', id),
      leader: (epoch: number) => emitter.emit('leader', epoch),
      follower: (epoch: number) => emitter.emit('follower', epoch),
    };
    const onError = (error: IpcChannelError) => {
      if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
    };
    for (const [event, listener] of Object.entries(on)) ch.on(event, listener);
    this.errorListeners.add(onError);
    return () => {
      for (const [event, listener] of Object.entries(on)) ch.off(event, listener);
      this.errorListeners.delete(onError);
    };
  }

  attach(sink: IpcRequestSink): void {
    this.sinks.add(sink);
    this.announce();
    if (this.early.length > 0) this.replayEarly(sink);
  }

  detach(sink: IpcRequestSink): void {
    this.sinks.delete(sink);
    this.announce();
  }

  /** A fresh request id, unique within this process. */
  newRequestId(): string {
    return this.idPrefix + this.nextId++;
  }

  /**
   * Sends a request; answers go to `pending` until it settles or is cancelled. `raw` is the
   * packet, or what a custom serializer made of it (`serialized`).
   */
  sendRequest(
    target: number,
    id: string,
    raw: unknown,
    serialized: boolean,
    pending: PendingRequest,
  ): void {
    this.pending.set(id, pending);
    try {
      const to = this.channel.to(target, NO_HOLD);
      if (serialized) to.emit(WIRE.requestRaw, id, raw);
      else {
        const { pattern, data, metadata } = raw as NestPacket;
        if (metadata === undefined) to.emit(WIRE.request, id, pattern, data);
        else to.emit(WIRE.request, id, pattern, data, metadata);
      }
      pending.seq = this.channel._lastSeq;
    } catch (e) {
      this.pending.delete(id);
      throw e;
    }
  }

  /**
   * Emits an event (see sendRequest for `raw` and `serialized`). Returns false when the sender
   * should wait for the channel's 'drain'.
   */
  emitEvent(target: TargetSpec, raw: unknown, serialized: boolean, broadcast: 0 | 1): boolean {
    const to = this.channel.to(target);
    if (serialized) return to.emit(WIRE.eventRaw, raw, broadcast);
    const { pattern, data, metadata } = raw as NestPacket;
    return metadata === undefined
      ? to.emit(WIRE.event, pattern, data, broadcast)
      : to.emit(WIRE.event, pattern, data, broadcast, metadata);
  }

  /** Forgets a request and tells its responder to stop (the caller unsubscribed). */
  cancel(id: string): void {
    const request = this.pending.get(id);
    if (request === undefined) return;
    this.forget(id);
    try {
      this.channel.to(request.target, TO_PROCESS).emit(WIRE.cancel, id);
    } catch {
      /* closing */
    }
  }

  /** Whether the responder has read request `id` (the hub confirmed it); false while in flight. */
  wasRead(id: string): boolean {
    const seq = this.pending.get(id)?.seq ?? -1;
    return seq >= 0 && !this.channel._isUnconfirmed(seq);
  }

  /** Removes a request that has completed. */
  settle(id: string): void {
    this.forget(id);
  }

  /**
   * Replies are held like events, not refused like requests: a requester that is reconnecting
   * after a failover (to a hub that has not seen it yet) must still get its answer. One that is
   * gone for good lets the reply expire after graceMs. Returns the error when the reply could not
   * be sent at all (it does not encode, or is too large), so the server can send that instead.
   */
  respond(target: number, id: string, raw: unknown): IpcChannelError | undefined {
    return this.reply(WIRE.response, target, id, raw);
  }

  /**
   * The common answer, `{ id, response, isDisposed: true }` from Nest's default serializer, sent
   * as its one value (see respond()). `response` must not be undefined: that answer completes
   * empty, which only the whole packet says.
   */
  answer(target: number, id: string, response: unknown): IpcChannelError | undefined {
    return this.reply(WIRE.answer, target, id, response);
  }

  private reply(
    name: string,
    target: number,
    id: string,
    value: unknown,
  ): IpcChannelError | undefined {
    try {
      this.channel.to(target, TO_PROCESS).emit(name, id, value);
      return undefined;
    } catch (e) {
      this.stray(e as IpcChannelError);
      return e as IpcChannelError;
    }
  }

  /**
   * Fails every request `owner` (a closing IpcClient) still waits on, and tells their responders
   * to stop: its callers must hear of it rather than wait for answers nobody will take.
   */
  abandonAll(owner: object, error: Error): void {
    for (const [id, request] of [...this.pending]) {
      if (request.owner !== owner) continue;
      this.cancel(id);
      request.onFailure(error);
    }
  }

  /** Peers whose IpcServer handles a message route, ascending. */
  peersHandling(route: string): number[] {
    let peers = this.handlers.get(route);
    if (peers === undefined) {
      // A peer that is shutting down answers what it has but takes no new requests.
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

  /** Takes nothing new for this process; resolves once what was sent to it has been read. */
  retire(): Promise<void> {
    return this.channel.retire();
  }

  private announce(): void {
    const m = new Set<string>();
    const e = new Set<string>();
    for (const sink of this.sinks) {
      sink.messageRoutes.forEach((r) => m.add(r));
      sink.eventRoutes.forEach((r) => e.add(r));
    }
    this.channel.setMeta({ nest: { m: [...m], e: [...e] } });
  }

  private request(sender: number, id: string, raw: unknown, whole: boolean): void {
    for (const sink of this.sinks) {
      sink.onRequest(sender, id, raw, whole);
      return;
    }
    this.keepForServer({ request: true, sender, id, raw, whole, broadcast: false });
  }

  private event(sender: number, raw: unknown, broadcast: boolean): void {
    for (const sink of this.sinks) {
      sink.onEvent(sender, raw, broadcast);
      return;
    }
    this.keepForServer({ request: false, sender, id: '', raw, whole: false, broadcast });
  }

  /**
   * A message for this process's IpcServer arrived while none is attached: in a hybrid app the
   * IpcClient can join (an HTTP request used it) before startAllMicroservices() attaches the
   * server, and the messages the hub kept for this peer id arrive at once. They wait here, in
   * order, for the server. A process that never gets one answers the requests as a server
   * without the handler would and drops the events, with a warning.
   */
  private keepForServer(message: EarlyMessage): void {
    if (this.early.length >= MAX_EARLY_MESSAGES) {
      this.giveUpEarly([message]);
      return;
    }
    this.early.push(message);
    if (this.earlyTimer === undefined) {
      this.earlyTimer = setTimeout(() => {
        this.earlyTimer = undefined;
        const waited = this.early;
        this.early = [];
        this.giveUpEarly(waited);
      }, this.earlyWaitMs);
      this.earlyTimer.unref();
    }
  }

  private giveUpEarly(messages: EarlyMessage[]): void {
    let events = 0;
    for (const m of messages) {
      if (m.request)
        this.respond(m.sender, m.id, { id: m.id, err: NO_MESSAGE_HANDLER, isDisposed: true });
      else if (!m.broadcast) events++;
    }
    if (events > 0) {
      this.logger.warn(
        `${events} event(s) for this process were dropped: no IpcServer listened on channel '${this.channel.name}' within ${this.earlyWaitMs} ms`,
      );
    }
  }

  private replayEarly(sink: IpcRequestSink): void {
    clearTimeout(this.earlyTimer);
    this.earlyTimer = undefined;
    const waited = this.early;
    this.early = [];
    for (const m of waited) {
      if (m.request) sink.onRequest(m.sender, m.id, m.raw, m.whole);
      else sink.onEvent(m.sender, m.raw, m.broadcast);
    }
  }

  private response(id: string, raw: unknown): void {
    this.pending.get(id)?.onResponse(raw);
  }

  /**
   * A peer left (or restarted: the same id, a new process). Requests it had read can no longer be
   * answered: they fail now. A request it had not read yet is still on its way (or held for its
   * id after a failover): it reaches whoever holds the id next and is answered, or the hub
   * refuses it and it fails then.
   */
  private peerLeft(peer: number): void {
    for (const [id, request] of this.pending) {
      if (request.target !== peer) continue;
      if (request.seq >= 0 && this.channel._isUnconfirmed(request.seq)) continue;
      this.forget(id);
      request.onFailure(new PeerLeftError(peer, request.pattern));
    }
  }

  private forget(id: string): void {
    this.pending.delete(id);
  }

  /** A request the hub could not deliver fails its caller, and nobody else hears of it. */
  private requestUndelivered(error: UndeliverableError): void {
    const id = requestIdOf(error);
    if (id === undefined) return;
    const request = this.pending.get(id);
    if (request === undefined) return;
    this.forget(id);
    if (error.reason === 'frame-too-large') {
      request.onFailure(error); // a misconfiguration, not a peer coming or going
      return;
    }
    request.onFailure(
      error.reason === 'peer-absent' || error.reason === 'peer-retiring'
        ? new PeerUnavailableError(
            request.target,
            request.pattern,
            error.reason === 'peer-retiring',
          )
        : new PeerLeftError(request.target, request.pattern),
    );
  }

  private answerRefused(error: UndeliverableError): void {
    const id = requestIdOf(error);
    if (error.reason !== 'frame-too-large' || id === undefined) return;
    for (const sink of this.sinks) sink.onAnswerRefused(error.target, id, error);
  }

  /** An error that belongs to no request: logged, and given to 'error' listeners. */
  private stray(error: IpcChannelError): void {
    this.logger.warn(error.message);
    for (const listener of this.errorListeners) listener(error);
  }
}

/** The request id an undelivered request, answer or cancel carried (its first argument). */
function requestIdOf(error: UndeliverableError): string | undefined {
  const id: unknown = Array.isArray(error.data) ? error.data[0] : undefined;
  return typeof id === 'string' ? id : undefined;
}
