import { EventEmitter } from 'node:events';
import {
  type CustomTransportStrategy,
  type MessageHandler,
  type ReadPacket,
  Server,
  type WritePacket,
} from '@nestjs/microservices';
import { Subject, connectable, finalize, isObservable, type Subscription } from 'rxjs';
import type { Channel } from '../../channel/channel.js';
import type { IpcChannelError, UndeliverableError } from '../../channel/errors.js';
import { IPC_TRANSPORT, NO_MESSAGE_HANDLER } from '../ipc.constants.js';
import { IpcContext, type IpcMetadata } from './ipc.context.js';
import type { IpcEvents, IpcServerOptions, IpcStatus } from '../ipc-options.interface.js';
import { InOrder, isPromiseLike } from './in-order.js';
import { type IpcRequestSink, SharedChannel } from '../shared-channel.js';
import { patternToRoute } from './pattern.js';

/** Handler lookups are cached per pattern string; a bound keeps hostile input from growing it. */
const MAX_CACHED_PATTERNS = 10_000;

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
export class IpcServer
  extends Server<IpcEvents, IpcStatus>
  implements CustomTransportStrategy, IpcRequestSink
{
  /** Declared as a field: Nest 12's own `transportId` field would hide a getter. */
  override transportId: symbol = IPC_TRANSPORT;

  private shared: SharedChannel | undefined;
  private readonly handlerCache = new Map<string, MessageHandler | null>();
  /** Responses being streamed, by `${sender}:${id}`, so a cancel can stop them. */
  private readonly inflight = new Map<string, Subscription | 'starting'>();
  private readonly emitter = new EventEmitter();
  private readonly incoming = new InOrder();
  private readonly outgoing = new InOrder();
  private readonly customDeserializer: boolean;
  private readonly customSerializer: boolean;
  private detachChannel: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  /** Event handlers still running (close() waits for them). */
  private activeEvents = 0;
  messageRoutes: string[] = [];
  eventRoutes: string[] = [];

  /** Nest 12's own start hook (it only runs the handler); undefined on Nest 11. */
  private readonly defaultStartHook: unknown;

  constructor(private readonly options: IpcServerOptions = {}) {
    super();
    this.defaultStartHook = this.onProcessingStartHook as unknown;
    this.customSerializer = options.serializer !== undefined;
    this.customDeserializer = options.deserializer !== undefined;
    this.initializeSerializer(options);
    this.initializeDeserializer(options);
  }

  /** This process's peer id (undefined until joined). Same as every IpcClient's of this process. */
  get id(): number | undefined {
    return this.shared?.channel.id;
  }

  /** Joins the channel (hosting the hub if first) and starts serving the registered handlers. */
  async listen(callback: (error?: unknown) => void): Promise<void> {
    this.closing = undefined;
    try {
      const { serializer: _s, deserializer: _d, ...channelOptions } = this.options;
      this.shared = SharedChannel.acquire(channelOptions);
      this.collectRoutes();
      this.shared.attach(this);
      this.detachChannel = this.shared.watch(this.emitter, this._status$);
      await this.shared.connect();
      this._status$.next('connected');
      callback();
    } catch (e) {
      await this.close();
      callback(e);
    }
  }

  /**
   * Stops serving, gracefully: the channel first takes nothing new for this process (a PM2
   * reload's successor gets it under the same id; requests are refused before they run, so
   * callers retry elsewhere), then every request already received is answered and every event
   * handler finishes (up to the channel's closeTimeoutMs). The last IpcServer/IpcClient of the
   * process then leaves the channel.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const shared = this.shared;
    if (shared === undefined) return;
    await shared.retire();
    await this.idle(this.options.closeTimeoutMs ?? 5000);
    this.shared = undefined;
    shared.detach(this);
    for (const sub of this.inflight.values()) if (sub !== 'starting') sub.unsubscribe();
    this.inflight.clear();
    this.detachChannel?.();
    await shared.release();
    this._status$.next('disconnected');
    this.emitter.emit('disconnected');
  }

  /** Resolves when no request is being answered and no event handler runs, or after `ms`. */
  private async idle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while ((this.inflight.size > 0 || this.activeEvents > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Listens to status events: connected, reconnecting, disconnected, hub, join, leave, error. */
  on<K extends keyof IpcEvents = keyof IpcEvents>(event: K, callback: IpcEvents[K]): void {
    this.emitter.on(event as string, callback);
  }

  /** The underlying Channel (for `to(...).emit`, `peers`, ...). */
  unwrap<T = Channel>(): T {
    if (this.shared === undefined)
      throw new Error('IpcServer is not listening: call listen() (app.listen()) first.');
    return this.shared.channel as T;
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

  /** @internal */
  hasMessageHandler(route: string): boolean {
    const handler = this.getHandlerByPattern(route);
    return handler !== null && !handler.isEventHandler;
  }

  /** @internal A request arrived from `sender`. */
  onRequest(sender: number, id: string, raw: unknown, whole = false): void {
    if (!this.customDeserializer && this.incoming.idle) {
      this.serveRequest(sender, id, raw as ReadPacket & { metadata?: IpcMetadata }, whole);
      return;
    }
    this.incoming.run(
      () =>
        this.customDeserializer ? this.deserializer.deserialize(raw, { id }) : (raw as ReadPacket),
      (packet) =>
        this.serveRequest(sender, id, packet as ReadPacket & { metadata?: IpcMetadata }, whole),
      (error) => this.reply(sender, id, { err: errorPayload(error), isDisposed: true }),
    );
  }

  /** @internal An event arrived from `sender`. */
  onEvent(sender: number, raw: unknown, broadcast: boolean): void {
    // The common case (no custom deserializer, nothing async queued) skips the closures below.
    if (!this.customDeserializer && this.incoming.idle) {
      this.serveEvent(sender, raw as ReadPacket & { metadata?: IpcMetadata }, broadcast);
      return;
    }
    this.incoming.run(
      () => (this.customDeserializer ? this.deserializer.deserialize(raw) : (raw as ReadPacket)),
      (packet) =>
        this.serveEvent(sender, packet as ReadPacket & { metadata?: IpcMetadata }, broadcast),
      (error) => this.logger.error(error),
    );
  }

  /** @internal An answer was too large for the requester to read: fail its request instead. */
  onAnswerRefused(sender: number, id: string, error: UndeliverableError): void {
    this.unsent(sender, id, {}, error);
  }

  /** @internal The requester unsubscribed (or timed out): stop streaming to it. */
  onCancel(sender: number, id: string): void {
    const key = `${sender}:${id}`;
    const sub = this.inflight.get(key);
    if (sub === undefined) return;
    this.inflight.delete(key);
    if (sub !== 'starting') sub.unsubscribe();
  }

  private serveRequest(
    sender: number,
    id: string,
    packet: ReadPacket & { metadata?: IpcMetadata },
    whole: boolean,
  ): void {
    const channel = this.shared?.channel;
    if (channel === undefined) return;
    const route = patternToRoute(packet?.pattern);
    const handler = this.getHandlerByPattern(route);
    if (handler === null || handler.isEventHandler) {
      this.reply(sender, id, { err: NO_MESSAGE_HANDLER, status: 'error', isDisposed: true });
      return;
    }
    const ctx = new IpcContext([route, packet.metadata ?? {}, sender, id, channel]);
    const key = `${sender}:${id}`;
    this.inflight.set(key, 'starting');
    const respond = (out: WritePacket) => this.reply(sender, id, out);

    // Mirrors Nest 12's handleRequest, but keeps the subscription so a cancel can stop a stream;
    // the handler runs inside the start hook so tracing (@nestjs/observe) sees it.
    const end = this.endHookOnce(ctx);
    const answered = (result: unknown) => {
      if (this.inflight.get(key) !== 'starting') {
        end(); // cancelled while the handler ran
        return;
      }
      if (!isObservable(result)) {
        // One plain value: the packet Nest's send() would build ({ response, isDisposed }),
        // without its stream, tick and async loop. `undefined` still completes empty.
        this.inflight.delete(key);
        // Answered in kind: a requester that sent the whole packet may not read the short answer.
        if (!whole && !this.customSerializer && answerable(result)) this.answer(sender, id, result);
        else void this.reply(sender, id, { response: result, isDisposed: true });
        end();
        return;
      }
      const sub = this.send(result.pipe(finalize(end)), respond);
      if (sub.closed) this.inflight.delete(key);
      else {
        this.inflight.set(key, sub);
        sub.add(() => {
          if (this.inflight.get(key) === sub) this.inflight.delete(key);
        });
      }
    };
    const failed = (e: unknown) => {
      this.inflight.delete(key);
      end();
      throw e;
    };
    const done = (): Promise<void> => {
      let out: unknown;
      try {
        out = handler(packet.data, ctx);
      } catch (e) {
        return Promise.reject(e).catch(failed);
      }
      return Promise.resolve(out).then((result) => {
        try {
          answered(result);
        } catch (e) {
          failed(e);
        }
      }, failed);
    };
    const ret = this.inStartHook(ctx, done);
    if (isPromiseLike(ret)) ret.then(undefined, (e: unknown) => this.handleError(errorText(e)));
  }

  private serveEvent(
    sender: number,
    packet: ReadPacket & { metadata?: IpcMetadata },
    broadcast: boolean,
  ): void {
    const channel = this.shared?.channel;
    if (channel === undefined) return;
    const route = patternToRoute(packet?.pattern);
    const handler = this.getHandlerByPattern(route);
    // A broadcast reaches every peer; one without a handler for it has nothing to say.
    if (broadcast && handler === null) return;
    const ctx = new IpcContext([route, packet.metadata ?? {}, sender, undefined, channel]);
    this.activeEvents++;
    if (handler === null) {
      this.track(this.handleEvent(route, packet, ctx)); // Nest logs its own "no event handler" error
      return;
    }
    const end = this.endHookOnce(ctx);
    if (this.hasStartHook()) {
      this.track(this.inStartHook(ctx, () => this.runEventHandler(handler, packet, ctx, end)));
      return;
    }
    // No hook to run inside: the handler's outcome settles the event in one promise reaction.
    let out: unknown;
    try {
      out = handler(packet.data, ctx);
    } catch (e) {
      this.eventFailed(e, end);
      return;
    }
    if (!isPromiseLike(out)) this.eventDone(out, end);
    else
      out.then(
        (result) => this.eventDone(result, end),
        (e: unknown) => this.eventFailed(e, end),
      );
  }

  /**
   * Nest's handleEvent, less its two async wrappers per event: the same start and end hooks,
   * and a returned stream is connected (run to its end) the same way. Rejects as the handler
   * does, for the start hook to see.
   */
  private runEventHandler(
    handler: MessageHandler,
    packet: ReadPacket,
    ctx: IpcContext,
    end: () => void,
  ): Promise<void> {
    let out: unknown;
    try {
      out = handler(packet.data, ctx);
    } catch (e) {
      end();
      return Promise.reject(e);
    }
    return Promise.resolve(out).then(
      (result) => connectResult(result, end),
      (e: unknown) => {
        end();
        throw e;
      },
    );
  }

  private eventDone(result: unknown, end: () => void): void {
    this.activeEvents--;
    connectResult(result, end);
  }

  private eventFailed(e: unknown, end: () => void): void {
    this.activeEvents--;
    end();
    this.handleError(errorText(e));
  }

  /** Counts an event handler as finished when `work` settles, logging its failure. */
  private track(work: unknown): void {
    Promise.resolve(work).then(
      () => this.activeEvents--,
      (e: unknown) => {
        this.activeEvents--;
        this.handleError(errorText(e));
      },
    );
  }

  /** Whether an application (tracing) replaced Nest's default start hook, which only calls on. */
  private hasStartHook(): boolean {
    const start = this.onProcessingStartHook as unknown;
    return start !== undefined && start !== this.defaultStartHook;
  }

  /**
   * Runs a handler inside the processing start hook an application set, as Nest's own
   * handleRequest/handleEvent do, so tracing (@nestjs/observe) sees the handler; without one,
   * runs it directly.
   */
  private inStartHook(ctx: IpcContext, work: () => Promise<unknown>): unknown {
    if (!this.hasStartHook()) return work();
    const start = this.onProcessingStartHook as (
      id: unknown,
      ctx: unknown,
      done: () => Promise<unknown>,
    ) => unknown;
    return start.call(this, this.transportId, ctx, work);
  }

  /** Nest's processing end hook for `ctx`, called at most once however the handler ends. */
  private endHookOnce(ctx: IpcContext): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.onProcessingEndHook?.(this.transportId, ctx);
    };
  }

  /** A handler's one value, sent as just that (no custom serializer to see the packet). */
  private answer(sender: number, id: string, response: unknown): void {
    const shared = this.shared;
    if (shared === undefined) return;
    this.unsent(sender, id, {}, shared.answer(sender, id, response));
  }

  /** Sends one response packet; never rejects (Nest 11 would turn that into an unhandled rejection). */
  private reply(sender: number, id: string, out: WritePacket): Promise<void> | void {
    const shared = this.shared;
    if (shared === undefined) return;
    const packet = { id, ...out };
    if (!this.customSerializer) {
      this.unsent(sender, id, out, shared.respond(sender, id, packet));
      return;
    }
    return new Promise<void>((resolve) =>
      this.outgoing.run(
        () => this.serializer.serialize(packet),
        (raw) => {
          this.unsent(sender, id, out, shared.respond(sender, id, raw));
          resolve();
        },
        (error) => {
          this.logger.error(error);
          resolve();
        },
      ),
    );
  }

  /**
   * An answer that could not be sent (it does not encode, or exceeds maxFrameBytes) fails the
   * request instead, with the reason, so the caller does not wait for it; a stream stops there.
   */
  private unsent(
    sender: number,
    id: string,
    out: WritePacket,
    error: IpcChannelError | undefined,
  ): void {
    if (error === undefined || out.err !== undefined) return;
    this.onCancel(sender, id);
    const message = `The handler's answer could not be sent: ${error.message}`;
    void this.reply(sender, id, { err: { status: 'error', message }, isDisposed: true });
  }

  private collectRoutes(): void {
    this.handlerCache.clear();
    this.messageRoutes = [];
    this.eventRoutes = [];
    for (const [route, handler] of this.messageHandlers) {
      (handler.isEventHandler ? this.eventRoutes : this.messageRoutes).push(route);
    }
  }
}

/**
 * A value the answer frame carries as the whole packet would: in a packet, JSON leaves out an
 * undefined, function or symbol `response` (the request completes empty); alone it would be null.
 */
function answerable(value: unknown): boolean {
  const type = typeof value;
  return type !== 'undefined' && type !== 'function' && type !== 'symbol';
}

/** Ends the processing of a handler's result: a returned stream runs to its end first. */
function connectResult(result: unknown, end: () => void): void {
  if (!isObservable(result)) {
    end();
    return;
  }
  const source = connectable(result.pipe(finalize(end)), {
    connector: () => new Subject(),
    resetOnDisconnect: false,
  });
  source.connect();
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/** What a requester receives when the request could not even be decoded here. */
function errorPayload(e: unknown): unknown {
  return { status: 'error', message: e instanceof Error ? e.message : String(e) };
}
