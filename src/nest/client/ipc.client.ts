import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { ReadPacket, WritePacket } from '@nestjs/microservices';
import { defer, lastValueFrom, mergeMap, Observable, of, throwError } from 'rxjs';
import type { PeerId, TargetSpec } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import { type ChannelOptions, duration } from '../../channel/channel-options.js';
import { ChannelClosedError } from '../../channel/errors.js';
import { canonicalPeer } from '../shared/peer-id.js';
import { InvalidMessageError, NoHandlerPeerError, PeerUnavailableError } from '../ipc.errors.js';
import type { IpcClientOptions, IpcEvents } from '../ipc-options.interface.js';
import {
  eventMessage,
  isGroup,
  messageHooks,
  requestMessage,
  withSendScope,
} from '../ipc-message-hooks.js';
import { NestClientBase } from '../nest-internals.js';
import { InOrder } from '../protocol/in-order.js';
import { type IpcMetadata, sendEvent } from '../protocol/nest-wire.js';
import {
  acquireSharedChannel,
  declareChannelUser,
  releaseSharedChannel,
  withdrawChannelUser,
} from '../shared/channel-registry.js';
import { pickChannelOptions } from '../shared/options-agreement.js';
import type { SharedChannel } from '../shared/shared-channel.js';
import { whenConfirmed, whenWritable } from './emit-outcome.js';
import { StatusForwarder } from '../shared/status-forwarder.js';
import { IpcClientTarget } from './ipc-client.target.js';
import { gather } from './gather.js';
import { RequestCall, type RequestPipes } from './request-call.js';

const CLOSED_REMEDY = 'this IpcClient was closed. Call connect() to open it again.';

/** Completes at once with one `undefined`, like a Nest TCP emit that has been written. */
const SENT = of(undefined);

/**
 * A Nest `ClientProxy` for the channel: emits events and sends requests to one peer, to any peer
 * that handles the pattern (round-robin), or to all of them (gathering one IpcReply per peer).
 *
 * ```ts
 * ClientsModule.register([{ name: 'IPC', customClass: IpcClient, options: { name: 'orders' } }]);
 * this.ipc.emit('cache.invalidate', 'user:7');                    // every peer, self included
 * await firstValueFrom(this.ipc.to(2).send('sum', [1, 2]));        // peer 2
 * await lastValueFrom(this.ipc.to('all').send('stats', {}).pipe(toArray()));
 * ```
 */
export class IpcClient extends NestClientBase {
  private shared: SharedChannel | undefined;
  private connection: Promise<void> | undefined;
  private ready = false;
  /**
   * Closed by the application (Nest calls close() on shutdown). Sending then fails instead of
   * quietly opening a new connection that the exiting process would take down with it.
   */
  private closed = false;
  private readonly emitter = new EventEmitter();
  private readonly outgoing = new InOrder();
  private readonly incoming = new InOrder();
  private readonly options: IpcClientOptions;
  private readonly timeoutMs: number | undefined;
  /** `emit` completes once the event is confirmed read and handled (see the option). */
  private readonly confirmEvents: boolean;
  private readonly targets = new Map<TargetSpec, IpcClientTarget<TargetSpec>>();
  private detachChannel: (() => void) | undefined;
  private readonly log = new Logger('IpcClient');
  private readonly pipes: RequestPipes;

  /** Nest's ClientsModule constructs clients with the options object; nothing connects yet. */
  constructor(options: IpcClientOptions = {}) {
    super(options ?? {});
    const timeout = options?.timeout;
    this.timeoutMs = timeout === undefined ? undefined : duration('timeout', timeout, timeout);
    this.options = options ?? {};
    this.confirmEvents = options?.confirmEvents === true;
    declareChannelUser(this, 'IpcClient', this.channelOptions());
    this.pipes = {
      owner: this,
      customSerializer: this.customSerializer,
      customDeserializer: this.customDeserializer,
      outgoing: this.outgoing,
      incoming: this.incoming,
      timeoutMs: this.timeoutMs,
      waitForRestart: options?.waitForRestart === true,
      serialize: (packet) => this.serialize(packet),
      deserialize: (raw) => this.deserialize(raw),
      closedError: () => (this.closed ? new ChannelClosedError('send', CLOSED_REMEDY) : undefined),
    };
  }

  /**
   * This process's peer id, the same as its IpcServer's; undefined until joined. Reading it is a
   * first use: a client that is not connected yet starts joining (see unwrap()).
   */
  get id(): number | undefined {
    return this.attached()?.channel.id;
  }

  /**
   * Ids of every joined peer, self included: this host's ascending, then, on a federated
   * channel, other hosts' as `'<host>/<id>'`. [] until joined. Reading it starts joining.
   */
  get peers(): PeerId[] {
    const shared = this.attached();
    return shared === undefined ? [] : [...shared.channel.peers];
  }

  /**
   * Joins the channel (shared with this process's IpcServer). Nest calls it on first use; after
   * `close()`, only an explicit call reopens the client.
   */
  connect(): Promise<void> {
    if (this.closed) declareChannelUser(this, 'IpcClient', this.channelOptions());
    this.closed = false;
    return this.ensureConnected();
  }

  private ensureConnected(): Promise<void> {
    this.connection ??= this.open().catch(async (e: unknown) => {
      // Let a later call try again from scratch.
      this.connection = undefined;
      await this.release();
      throw e;
    });
    return this.connection;
  }

  /** Leaves; pending requests of this client fail. Nest calls it on application shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    withdrawChannelUser(this);
    this.connection = undefined;
    this.ready = false;
    const closed = new ChannelClosedError(
      'receive the answer',
      'this IpcClient was closed while the request was in flight.',
    );
    this.shared?.requests.abandonAll(this, closed);
    await this.release();
    this.statusSink.next('disconnected');
    this.emitter.emit('disconnected');
  }

  /** Listens to status events (see IpcServer.on): connected, reconnecting, hub, join, ... */
  override on<K extends keyof IpcEvents = keyof IpcEvents>(event: K, callback: IpcEvents[K]): void {
    this.emitter.on(event as string, callback);
    StatusForwarder.replayConnected(event as string, callback, this.shared?.channel);
  }

  /**
   * The underlying Channel. Nest clients connect on first use, and this is one: a client that
   * has not connected yet starts joining and returns the channel at once (it queues what is sent
   * before the join; in a process whose IpcServer listens, it is that server's, already joined).
   */
  unwrap<T = Channel>(): T {
    const shared = this.attached();
    if (shared === undefined) throw new ChannelClosedError('unwrap the client', CLOSED_REMEDY);
    return shared.channel as T;
  }

  /** The shared channel, joining it first if this client has not yet; undefined once closed. */
  private attached(): SharedChannel | undefined {
    if (this.shared === undefined && !this.closed) {
      this.take();
      this.ensureConnected().catch((e: unknown) =>
        this.log.warn(`joining the channel failed: ${(e as Error).message}`),
      );
    }
    return this.shared;
  }

  /**
   * Addresses one peer by id (`3`; on a federated channel `'B/3'` for peer 3 of host B), or
   * every peer of every host (`'all'`, self included), `'others'`, or every peer of this host
   * (`'host'`). For the groups, `send` gathers one IpcReply per peer that handles the pattern.
   */
  to<T extends TargetSpec>(target: T): IpcClientTarget<T> {
    let t = this.targets.get(target);
    if (t === undefined) {
      t = new IpcClientTarget(this, target);
      this.targets.set(target, t);
    }
    return t as IpcClientTarget<T>;
  }

  /**
   * Sends a request to one peer that handles `pattern`, taking turns among them: among this
   * host's peers while any handles it, and only otherwise among other hosts' peers.
   */
  override send<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return this.request(undefined, pattern, data) as Observable<TResult>;
  }

  /**
   * Emits an event to every peer, this one included. Completes once accepted (after 'drain' if
   * the queue is full); with the `confirmEvents` option, once every peer has read it and one of
   * them handles its pattern. A pattern no peer handles is logged as a warning (see
   * NoEventHandlerError), or, with `confirmEvents`, is this emit's error.
   */
  override emit<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    return this.event('all', pattern, data) as Observable<TResult>;
  }

  /** @internal */
  request(target: TargetSpec | undefined, pattern: unknown, data: unknown): Observable<unknown> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageError());
    }
    if (this.closed) return throwError(() => new ChannelClosedError('send', CLOSED_REMEDY));
    const route = this.routeOf(pattern);
    const send = messageHooks?.send;
    if (send === undefined) return this.reach(target, route, data);
    const message = requestMessage(target, this.shared?.channel, this.options.name, route);
    return withSendScope(send, message, (meta) => this.reach(target, route, data, meta));
  }

  private reach(target: TargetSpec | undefined, route: string, data: unknown, meta?: IpcMetadata) {
    if (this.ready && this.shared !== undefined)
      return this.aim(this.shared, target, route, data, meta);
    return defer(() => this.ensureConnected()).pipe(
      mergeMap(() => this.aim(this.shared!, target, route, data, meta)),
    );
  }

  private aim(
    shared: SharedChannel,
    target: TargetSpec | undefined,
    route: string,
    data: unknown,
    meta: IpcMetadata | undefined,
  ): Observable<unknown> {
    return isGroup(target)
      ? gather(shared, target, route, (peer) => this.single(shared, peer, route, data, meta, true))
      : target === undefined
        ? this.anyPeer(shared, route, data, meta)
        : this.single(shared, canonicalPeer(target, shared.channel.host), route, data, meta, true);
  }

  /** @internal */
  event(target: TargetSpec, pattern: unknown, data: unknown): Observable<undefined> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageError());
    }
    if (this.closed) return throwError(() => new ChannelClosedError('emit', CLOSED_REMEDY));
    // The channel queues what is sent before it has joined; joining starts now. Options it
    // cannot work with fail here, as this emit's error.
    let shared: SharedChannel | undefined;
    try {
      shared = this.attached();
    } catch (e) {
      return throwError(() => e);
    }
    if (shared === undefined)
      return throwError(() => new ChannelClosedError('emit', CLOSED_REMEDY));
    const route = this.routeOf(pattern);
    const scope = messageHooks?.send?.(eventMessage(shared.channel, route, target));
    const packet = this.packet(route, data, undefined, scope?.metadata);
    const broadcast = isGroup(target) ? 1 : 0;
    const aimed = isGroup(target) ? target : canonicalPeer(target, shared.channel.host);
    // The event goes out now, subscribed or not (Nest's emit is hot); the Observable reports
    // how it went: completes when accepted, after 'drain' above the high-water mark, or errors.
    let outcome: Observable<undefined> | undefined;
    let notify: ((o: Observable<undefined>) => void) | undefined;
    const finish = (o: Observable<undefined>) => (notify ? notify(o) : (outcome = o));
    const fail = (error: unknown) => {
      scope?.end(error);
      this.log.warn(`emit '${packet.pattern}' failed: ${(error as Error).message}`);
      finish(throwError(() => error));
    };
    this.outgoing.run(
      () => (this.customSerializer ? this.serialize(packet) : packet),
      (raw) => {
        try {
          const accepted = sendEvent(shared.channel, aimed, raw, this.customSerializer, broadcast);
          scope?.end();
          if (this.confirmEvents) finish(whenConfirmed(shared, route, aimed, this.log));
          else {
            shared.directory.noteEvent(route, aimed);
            finish(accepted ? SENT : whenWritable(shared.channel));
          }
        } catch (e) {
          fail(e);
        }
      },
      fail,
    );
    if (outcome !== undefined) return outcome;
    const later = new Promise<Observable<undefined>>((resolve) => (notify = resolve));
    return defer(() => later).pipe(mergeMap((o) => o));
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const sub = this.request(undefined, packet.pattern, packet.data).subscribe({
      next: (response) => callback({ response }),
      error: (err: unknown) => callback({ err, isDisposed: true }),
      complete: () => callback({ isDisposed: true }),
    });
    return () => sub.unsubscribe();
  }

  protected async dispatchEvent<T = any>(packet: ReadPacket): Promise<T> {
    return (await lastValueFrom(this.event('all', packet.pattern, packet.data), {
      defaultValue: undefined,
    })) as T;
  }

  /** Takes this process's channel for these options; synchronous, so bad options throw here. */
  private take(): SharedChannel {
    const shared = acquireSharedChannel(this.channelOptions());
    this.shared = shared;
    this.detachChannel = shared.status.watch(this.emitter, this.statusSink);
    return shared;
  }

  private channelOptions(): ChannelOptions {
    return pickChannelOptions(this.options);
  }

  private async open(): Promise<void> {
    const shared = this.shared ?? this.take();
    await shared.connect();
    this.ready = true;
    this.statusSink.next('connected');
  }

  private async release(): Promise<void> {
    const shared = this.shared;
    if (shared === undefined) return;
    this.shared = undefined;
    this.detachChannel?.();
    await releaseSharedChannel(shared);
  }

  /**
   * One peer that handles the pattern, in turn. A request refused before it ran (the peer is
   * shutting down, or just left) is offered to the next peer; anything else is the response.
   */
  private anyPeer(shared: SharedChannel, route: string, data: unknown, meta?: IpcMetadata) {
    return new Observable<unknown>((observer) => {
      const tried = new Set<PeerId>();
      let current: { unsubscribe(): void } | undefined;
      let responded = false;
      const attempt = (lastError?: unknown) => {
        const peer = shared.directory.pickPeer(route, tried);
        if (peer === undefined) {
          observer.error(lastError ?? new NoHandlerPeerError(route, shared.channel.name));
          return;
        }
        tried.add(peer);
        current = this.single(shared, peer, route, data, meta).subscribe({
          next: (value) => {
            responded = true;
            observer.next(value);
          },
          error: (e: unknown) => {
            if (!responded && e instanceof PeerUnavailableError) attempt(e);
            else observer.error(e);
          },
          complete: () => observer.complete(),
        });
      };
      attempt();
      return () => current?.unsubscribe();
    });
  }

  /** `mayWait`: a request aimed at this peer, which may wait for it to restart. */
  private single(
    shared: SharedChannel,
    peer: PeerId,
    route: string,
    data: unknown,
    meta: IpcMetadata | undefined,
    mayWait = false,
  ): Observable<unknown> {
    return new Observable<unknown>((observer) => {
      const id = shared.requests.newId();
      const call = new RequestCall(
        this.pipes,
        shared.requests,
        peer,
        route,
        id,
        this.responseObserver(observer),
        mayWait,
      );
      call.start(this.packet(route, data, id, meta) as ReadPacket & { id: string });
      return call;
    });
  }
}
