import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type {
  CustomTransportStrategy,
  MessageHandler,
  ReadPacket,
  WritePacket,
} from '@nestjs/microservices';
import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { ChannelOptions } from '../../channel/channel-options.js';
import type { DeliveryFailure, IpcChannelError } from '../../channel/errors.js';
import type { IpcEvents, IpcServerOptions } from '../ipc-options.interface.js';
import { type IncomingPacket, NestServerBase } from '../nest-internals.js';
import { InOrder } from '../protocol/in-order.js';
import {
  acquireSharedChannel,
  declareChannelUser,
  releaseSharedChannel,
  withdrawChannelUser,
} from '../shared/channel-registry.js';
import type { MessageSink } from '../shared/message-sink.js';
import type { IpcContext } from './ipc.context.js';
import { pickChannelOptions } from '../shared/options-agreement.js';
import type { SharedChannel } from '../shared/shared-channel.js';
import { StatusForwarder } from '../shared/status-forwarder.js';

/** Handler lookups are cached per pattern string; a bound keeps hostile input from growing it. */
const MAX_CACHED_PATTERNS = 10_000;

/**
 * The metadata key under which @nestjs/observe's dispatch hook sends the sender's trace id, and
 * from which its receiving side adopts the id of the trace it starts.
 */
const TRACE_ID_KEY = 'x-request-id';

/**
 * A NestJS microservice transport over the self-hosting channel: every worker runs
 *
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, { strategy: new IpcServer({ name: 'orders' }) });
 * await app.listen();
 * ```
 *
 * and its `@MessagePattern` / `@EventPattern` handlers receive what any worker's IpcClient sends.
 * The first worker up hosts the hub; no broker or server process is needed.
 */
export class IpcServer extends NestServerBase implements CustomTransportStrategy, MessageSink {
  private shared: SharedChannel | undefined;
  private readonly emitter = new EventEmitter();
  private readonly incoming = new InOrder();
  private readonly outgoing = new InOrder();
  private detachChannel: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private readonly handlerCache = new Map<string, MessageHandler | null>();
  /** Numbers the trace ids this process gives messages (see ownTrace). */
  private ownTraces = 0;
  /** Trace ids adopted from other processes by handlers running here (one handler each). */
  private readonly tracesInUse = new Set<string>();
  messageRoutes: string[] = [];
  eventRoutes: string[] = [];

  constructor(private readonly options: IpcServerOptions = {}) {
    super(options);
    declareChannelUser(this, 'IpcServer', this.channelOptions());
  }

  private channelOptions(): ChannelOptions {
    return pickChannelOptions(this.options);
  }

  /** This process's peer id (undefined until joined). Same as every IpcClient's of this process. */
  get id(): number | undefined {
    return this.shared?.channel.id;
  }

  /** Joins the channel (hosting the hub if first) and starts serving the registered handlers. */
  async listen(callback: (error?: unknown) => void): Promise<void> {
    this.closing = undefined;
    try {
      const channelOptions = this.channelOptions();
      declareChannelUser(this, 'IpcServer', channelOptions);
      this.shared = acquireSharedChannel(channelOptions, 'IpcServer');
      this.collectRoutes();
      this.shared.attach(this);
      this.detachChannel = this.shared.status.watch(this.emitter, this.statusSink);
      await this.shared.connect();
      this.statusSink.next('connected');
      logJoin(this.shared.channel);
      callback();
    } catch (e) {
      await this.close();
      callback(e);
    }
  }

  /**
   * Stops serving, gracefully: the channel first takes nothing new for this process (a PM2
   * reload's successor gets it under the same id; requests are refused before they run, so
   * callers retry elsewhere), then every request already received gets its response and every
   * event handler finishes (up to the channel's closeTimeoutMs). The last IpcServer/IpcClient of
   * the process then leaves the channel.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    withdrawChannelUser(this);
    const shared = this.shared;
    if (shared === undefined) return;
    await shared.retire();
    await this.idle(this.options.closeTimeoutMs ?? 5000);
    this.shared = undefined;
    shared.detach(this);
    this.stopAllResponses();
    this.detachChannel?.();
    await releaseSharedChannel(shared, 'IpcServer');
    this.statusSink.next('disconnected');
    this.emitter.emit('disconnected');
  }

  /** Resolves when no response is being produced and no event handler runs, or after `ms`. */
  private async idle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.busy && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Listens to status events: connected, reconnecting, disconnected, hub, join, leave, error.
   * A `'connected'` listener added while joined is called once at once with this process's id.
   */
  on<K extends keyof IpcEvents = keyof IpcEvents>(event: K, callback: IpcEvents[K]): void {
    this.emitter.on(event as string, callback);
    StatusForwarder.replayConnected(event as string, callback, this.shared?.channel);
  }

  /** The underlying Channel (for `to(...).emit`, `peers`, ...). */
  unwrap<T = Channel>(): T {
    if (this.shared === undefined)
      throw new Error('IpcServer is not listening: call listen() (app.listen()) first.');
    return this.shared.channel as T;
  }

  /**
   * Tracing (@nestjs/observe) sets this hook; each handler runs inside it. The context it is
   * given may carry a trace id of its own instead of the sender's (see ownTrace).
   */
  override setOnProcessingStartHook(
    hook: (transportId: symbol, context: unknown, done: () => Promise<unknown>) => unknown,
  ): void {
    super.setOnProcessingStartHook((transportId, ctx, done) =>
      hook(transportId as symbol, this.ownTrace(ctx as IpcContext), done),
    );
  }

  /** Tracing sets this hook; it runs once per handler, when the handler is done. */
  override setOnProcessingEndHook(hook: (transportId: symbol, context: unknown) => void): void {
    super.setOnProcessingEndHook((transportId, ctx) => {
      hook(transportId as symbol, ctx);
      this.releaseTrace(ctx as IpcContext);
    });
  }

  /** Resolves each pattern once: Nest's lookup parses every string pattern as JSON first. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    let handler = this.handlerCache.get(pattern);
    if (handler === undefined) {
      handler = super.getHandlerByPattern(pattern);
      if (this.handlerCache.size < MAX_CACHED_PATTERNS) this.handlerCache.set(pattern, handler);
    }
    return handler;
  }

  /** @internal A request arrived from `sender`. */
  onRequest(sender: PeerId, id: string, raw: unknown, whole = false): void {
    if (!this.customDeserializer && this.incoming.idle) {
      this.serveRequest(this.shared?.channel, sender, id, raw as IncomingPacket, whole);
      return;
    }
    this.incoming.run(
      () => (this.customDeserializer ? this.deserialize(raw, { id }) : (raw as ReadPacket)),
      (packet) =>
        this.serveRequest(this.shared?.channel, sender, id, packet as IncomingPacket, whole),
      (error) => this.respond(sender, id, { err: errorPayload(error), isDisposed: true }),
    );
  }

  /** @internal An event arrived from `sender`. */
  onEvent(sender: PeerId, raw: unknown, broadcast: boolean): void {
    // The common case (no custom deserializer, nothing async queued) skips the closures below.
    if (!this.customDeserializer && this.incoming.idle) {
      this.serveEvent(this.shared?.channel, sender, raw as IncomingPacket, broadcast);
      return;
    }
    this.incoming.run(
      () => (this.customDeserializer ? this.deserialize(raw) : (raw as ReadPacket)),
      (packet) =>
        this.serveEvent(this.shared?.channel, sender, packet as IncomingPacket, broadcast),
      (error) => this.logError(error),
    );
  }

  /** @internal A response was too large for the requester to read: fail its request instead. */
  onResponseRefused(sender: PeerId, id: string, error: DeliveryFailure): void {
    this.unsent(sender, id, {}, error);
  }

  /** @internal The requester unsubscribed (or timed out): stop streaming to it. */
  onCancel(sender: PeerId, id: string): void {
    this.stopResponse(sender, id);
  }

  /**
   * A handler's one value. Sent as just that value, unless a custom serializer must see the
   * packet, or the requester sent the whole packet (it may not read the value form).
   */
  protected respondWithValue(sender: PeerId, id: string, value: unknown, whole: boolean): void {
    const shared = this.shared;
    if (shared === undefined) return;
    if (!whole && !this.customSerializer && fitsValueForm(value)) {
      this.unsent(sender, id, {}, shared.sendResponseValue(sender, id, value));
    } else void this.respond(sender, id, { response: value, isDisposed: true });
  }

  /** Sends one response packet, through the custom serializer if there is one; never rejects. */
  protected respond(sender: PeerId, id: string, out: WritePacket): Promise<void> | void {
    const shared = this.shared;
    if (shared === undefined) return;
    const packet = { id, ...out };
    if (!this.customSerializer) {
      this.unsent(sender, id, out, shared.sendResponse(sender, id, packet));
      return;
    }
    return new Promise<void>((resolve) =>
      this.outgoing.run(
        () => this.serialize(packet),
        (raw) => {
          this.unsent(sender, id, out, shared.sendResponse(sender, id, raw));
          resolve();
        },
        (error) => {
          this.logError(error);
          resolve();
        },
      ),
    );
  }

  /**
   * A response that could not be sent (it does not encode, or exceeds maxFrameBytes) fails the
   * request instead, with the reason, so the caller does not wait for it; a stream stops there.
   */
  private unsent(
    sender: PeerId,
    id: string,
    out: WritePacket,
    error: IpcChannelError | undefined,
  ): void {
    if (error === undefined || out.err !== undefined) return;
    this.stopResponse(sender, id);
    const message = `The handler's answer could not be sent: ${error.message}`;
    void this.respond(sender, id, { err: { status: 'error', message }, isDisposed: true });
  }

  /**
   * @nestjs/observe sends the sender's trace id as `x-request-id`, and the receiver adopts it as
   * the id of the trace it starts; it keeps one trace per id in a process. So a message must not
   * adopt an id that is open here: the sender's own (a message this process sent itself: to its
   * own id, a broadcast, a gather), or one a handler running here adopted (an operation that sent
   * this process an event and then a request). Adopting it would overwrite that trace and end it
   * twice. Such a message gets its own id, the sender's with a number appended, so each is
   * traced once and still reads as the sender's child. Any other keeps the sender's id.
   */
  private ownTrace(ctx: IpcContext): IpcContext {
    const metadata = ctx.getMetadata();
    const traceId = metadata[TRACE_ID_KEY];
    if (traceId === undefined) return ctx;
    if (ctx.getSender() === this.shared?.channel.id || this.tracesInUse.has(traceId)) {
      metadata[TRACE_ID_KEY] = `${traceId}.${(++this.ownTraces).toString(36)}`;
    } else {
      this.tracesInUse.add(traceId);
    }
    return ctx;
  }

  /**
   * A handler that adopted another process's trace id is done. The tracer ends that trace in a
   * timer it has just set; the id is free for the next message after it.
   */
  private releaseTrace(ctx: IpcContext): void {
    const traceId = ctx.getMetadata()[TRACE_ID_KEY];
    if (traceId === undefined || !this.tracesInUse.has(traceId)) return;
    setTimeout(() => this.tracesInUse.delete(traceId), 0);
  }

  /** Reads the registered handlers' routes afresh, forgetting cached lookups. */
  private collectRoutes(): void {
    this.handlerCache.clear();
    this.messageRoutes = [];
    this.eventRoutes = [];
    for (const [route, handler] of this.getHandlers()) {
      (handler.isEventHandler ? this.eventRoutes : this.messageRoutes).push(route);
    }
  }
}

/**
 * One line on join, so an operator sees which channel and id a worker got, who routes, and on a
 * federated channel which host it is (its peers are '<host>/<id>' to the other hosts).
 */
function logJoin(channel: Channel): void {
  const hub = channel.isHub ? 'this process hosts the hub' : `peer ${channel.hubId} hosts the hub`;
  const host = channel.host === undefined ? '' : ` on host '${channel.host}'`;
  new Logger('IpcServer').log(
    `Joined channel '${channel.name}' as peer ${channel.id}${host}; ${hub}.`,
  );
}

/**
 * A value the value form carries as the whole packet would: in a packet, JSON leaves out an
 * undefined, function or symbol `response` (the request completes empty); alone it would be null.
 */
function fitsValueForm(value: unknown): boolean {
  const type = typeof value;
  return type !== 'undefined' && type !== 'function' && type !== 'symbol';
}

/** What a requester receives when the request could not even be decoded here. */
function errorPayload(e: unknown): unknown {
  return { status: 'error', message: e instanceof Error ? e.message : String(e) };
}
