/*
 * Everything of the binding that leans on @nestjs/microservices beyond what a transport is
 * documented to call: protected members of Server and ClientProxy, the handler pipeline Nest
 * runs around a handler (its processing hooks), and the differences between Nest 11 and 12.
 * A Nest upgrade is checked here; IpcServer and IpcClient extend these two classes.
 */

import {
  ClientProxy,
  type Deserializer,
  type MessageHandler,
  type ReadPacket,
  type Serializer,
  Server,
  type WritePacket,
} from '@nestjs/microservices';
import { type Observer, type Subscription, finalize, isObservable, tap } from 'rxjs';
import type { PeerId } from '../channel/channel-target.js';
import type { Channel } from '../channel/channel.js';
import { IPC_TRANSPORT } from './ipc.constants.js';
import type { IpcEvents, IpcStatus } from './ipc-options.interface.js';
import { type IpcReceiveScope, messageHooks } from './ipc-message-hooks.js';
import { isPromiseLike } from './protocol/in-order.js';
import { patternToRoute } from './protocol/pattern.js';
import { type IpcMetadata, NO_MESSAGE_HANDLER } from './protocol/nest-wire.js';
import { connectResult } from './server/connect-result.js';
import { IpcContext } from './server/ipc.context.js';
import type { StatusSink } from './shared/status-forwarder.js';

/** A packet as it reaches a handler: Nest's, with the metadata the client's dispatch hook added. */
export type IncomingPacket = ReadPacket & { metadata?: IpcMetadata };

/** The serializer options of IpcServer and IpcClient. */
type SerializerOptions = { serializer?: Serializer; deserializer?: Deserializer };

/** Nest's processing start hook, as the handler pipeline calls it. */
type StartHook = (transportId: unknown, ctx: unknown, done: () => Promise<unknown>) => unknown;

/**
 * The part of IpcServer that depends on Nest's Server beyond the methods a transport implements:
 * its serializers and status, the handler pipeline with its processing hooks, and the responses
 * in flight that pipeline produces.
 */
export abstract class NestServerBase extends Server<IpcEvents, IpcStatus> {
  /** Declared as a field: Nest 12's own `transportId` field would hide a getter. */
  override transportId: symbol = IPC_TRANSPORT;
  /** Whether the application gave a serializer (it may be async, and sees whole packets). */
  protected readonly customSerializer: boolean;
  protected readonly customDeserializer: boolean;
  /** Where status changes go (Nest's status subject). */
  protected readonly statusSink: StatusSink;
  /** Responses being produced, by `${sender}:${id}`, so a cancel can stop them. */
  private readonly inflight = new Map<string, Subscription | 'starting'>();
  /** Event handlers still running. */
  private activeEvents = 0;
  /** Nest 12's own start hook (it only runs the handler); undefined on Nest 11. */
  private readonly defaultStartHook: unknown;

  constructor(options: SerializerOptions) {
    super();
    this.defaultStartHook = this.onProcessingStartHook as unknown;
    this.customSerializer = options.serializer !== undefined;
    this.customDeserializer = options.deserializer !== undefined;
    this.initializeSerializer(options);
    this.initializeDeserializer(options);
    this.statusSink = this._status$;
  }

  /**
   * Sends one response packet for request `id` of `sender`. Never rejects: Nest 11's send()
   * would turn that into an unhandled rejection.
   */
  protected abstract respond(sender: PeerId, id: string, out: WritePacket): Promise<void> | void;

  /** Sends a handler's one value as the final response (`whole`: the request came whole). */
  protected abstract respondWithValue(
    sender: PeerId,
    id: string,
    value: unknown,
    whole: boolean,
  ): void;

  /** Whether a response is being produced or an event handler runs. */
  protected get busy(): boolean {
    return this.inflight.size > 0 || this.activeEvents > 0;
  }

  protected serialize(packet: WritePacket & { id: string }): unknown {
    return this.serializer.serialize(packet);
  }

  protected deserialize(raw: unknown, options?: Record<string, unknown>): unknown {
    return this.deserializer.deserialize(raw, options);
  }

  protected logError(error: unknown): void {
    this.logger.error(error);
  }

  /** Stops producing the response to request `id` of `sender` (cancelled, or it cannot be sent). */
  protected stopResponse(sender: PeerId, id: string): void {
    const key = `${sender}:${id}`;
    const sub = this.inflight.get(key);
    if (sub === undefined) return;
    this.inflight.delete(key);
    if (sub !== 'starting') sub.unsubscribe();
  }

  /** Stops producing every response (the server closes). */
  protected stopAllResponses(): void {
    for (const sub of this.inflight.values()) if (sub !== 'starting') sub.unsubscribe();
    this.inflight.clear();
  }

  /**
   * Runs the message handler for request `id` of `sender` and sends what it produces (nothing
   * once `channel` is gone: the server closed). Mirrors Nest 12's handleRequest, but keeps the
   * subscription so a cancel can stop a stream; the handler runs inside the start hook so
   * tracing (@nestjs/observe) sees it.
   */
  protected serveRequest(
    channel: Channel | undefined,
    sender: PeerId,
    id: string,
    packet: IncomingPacket,
    whole: boolean,
  ): void {
    if (channel === undefined) return;
    const route = patternToRoute(packet?.pattern);
    const handler = this.getHandlerByPattern(route);
    if (handler === null || handler.isEventHandler) {
      this.respond(sender, id, { err: NO_MESSAGE_HANDLER, status: 'error', isDisposed: true });
      return;
    }
    const ctx = new IpcContext([route, packet.metadata ?? {}, sender, id, channel]);
    const key = `${sender}:${id}`;
    this.inflight.set(key, 'starting');
    const scope = messageHooks?.receive?.(ctx);
    const end = this.endHookOnce(ctx, scope);
    const produced = (result: unknown) => {
      if (this.inflight.get(key) !== 'starting') {
        end(); // cancelled while the handler ran
        return;
      }
      if (!isObservable(result)) {
        // One plain value: the packet Nest's send() would build ({ response, isDisposed }),
        // without its stream, tick and async loop. `undefined` still completes empty.
        this.inflight.delete(key);
        this.respondWithValue(sender, id, result, whole);
        end();
        return;
      }
      const stream = scope === undefined ? result : result.pipe(tap({ error: end }));
      const sub = this.send(stream.pipe(finalize(end)), (out) => this.respond(sender, id, out));
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
      end(e);
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
          produced(result);
        } catch (e) {
          failed(e);
        }
      }, failed);
    };
    const ret = scope ? scope.run(() => this.inStartHook(ctx, done)) : this.inStartHook(ctx, done);
    if (isPromiseLike(ret)) ret.then(undefined, (e: unknown) => this.handleError(errorText(e)));
  }

  /**
   * Runs the event handler (or lets Nest log that there is none), counting it while it runs
   * (nothing once `channel` is gone: the server closed).
   */
  protected serveEvent(
    channel: Channel | undefined,
    sender: PeerId,
    packet: IncomingPacket,
    broadcast: boolean,
  ): void {
    if (channel === undefined) return;
    const route = patternToRoute(packet?.pattern);
    const handler = this.getHandlerByPattern(route);
    // A broadcast reaches every peer; one without a handler for it has nothing to say.
    if (broadcast && handler === null) return;
    const ctx = new IpcContext([route, packet.metadata ?? {}, sender, undefined, channel]);
    this.activeEvents++;
    if (handler === null) {
      // Nest logs its own "no event handler" error.
      this.track(this.handleEvent(route, packet, ctx));
      return;
    }
    const scope = messageHooks?.receive?.(ctx);
    if (scope === undefined) this.runEvent(handler, packet, ctx, this.endHookOnce(ctx));
    else scope.run(() => this.runEvent(handler, packet, ctx, this.endHookOnce(ctx, scope)));
  }

  /** Runs an event's handler, inside the processing start hook if an application set one. */
  private runEvent(
    handler: MessageHandler,
    packet: IncomingPacket,
    ctx: IpcContext,
    end: (error?: unknown) => void,
  ): void {
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
    end: (error?: unknown) => void,
  ): Promise<void> {
    let out: unknown;
    try {
      out = handler(packet.data, ctx);
    } catch (e) {
      end(e);
      return Promise.reject(e);
    }
    return Promise.resolve(out).then(
      (result) => connectResult(result, end),
      (e: unknown) => {
        end(e);
        throw e;
      },
    );
  }

  private eventDone(result: unknown, end: (error?: unknown) => void): void {
    this.activeEvents--;
    connectResult(result, end);
  }

  private eventFailed(e: unknown, end: (error?: unknown) => void): void {
    this.activeEvents--;
    end(e);
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
    return (this.onProcessingStartHook as StartHook).call(this, this.transportId, ctx, work);
  }

  /**
   * Nest's processing end hook for `ctx`, and the end of the message hooks' `scope`, called at
   * most once however the handler ends.
   */
  private endHookOnce(ctx: IpcContext, scope?: IpcReceiveScope): (error?: unknown) => void {
    let ended = false;
    return (error?: unknown) => {
      if (ended) return;
      ended = true;
      this.onProcessingEndHook?.(this.transportId, ctx);
      scope?.end(error);
    };
  }
}

/**
 * The part of IpcClient that depends on Nest's ClientProxy beyond the methods a client
 * implements: its serializers, the dispatch hook, pattern normalization, and the mapping of
 * response packets to observer calls.
 */
export abstract class NestClientBase extends ClientProxy<IpcEvents> {
  /** Whether the application gave a serializer (it may be async, and sees whole packets). */
  protected readonly customSerializer: boolean;
  protected readonly customDeserializer: boolean;
  /** Where status changes go (Nest's status subject). */
  protected readonly statusSink: StatusSink;
  private dispatchHook: ((packet: ReadPacket) => void) | undefined;

  constructor(options: SerializerOptions) {
    super();
    this.customSerializer = options.serializer !== undefined;
    this.customDeserializer = options.deserializer !== undefined;
    this.initializeSerializer(options);
    this.initializeDeserializer(options);
    this.statusSink = this._status$;
  }

  /**
   * Sets a hook that sees every outgoing packet and may add `packet.metadata` (strings); the
   * handler reads it with `ctx.getMetadata()`. Nest 12 tracing uses it; it works on Nest 11 too.
   */
  override setOnDispatchHook(hook: (packet: ReadPacket) => void): void {
    this.dispatchHook = hook;
  }

  protected serialize(packet: ReadPacket & { id?: string }): unknown {
    return this.serializer.serialize(packet);
  }

  protected deserialize(raw: unknown): WritePacket | Promise<WritePacket> {
    return this.deserializer.deserialize(raw) as WritePacket | Promise<WritePacket>;
  }

  /** The string form of a pattern, as Nest normalizes it (object keys sorted). */
  protected routeOf(pattern: unknown): string {
    return this.normalizePattern(pattern as string);
  }

  /**
   * Builds the packet Nest's serializer and the handler see, with `metadata` (a message hook's);
   * the dispatch hook may add more.
   */
  protected packet(
    route: string,
    data: unknown,
    id: string | undefined,
    metadata?: IpcMetadata,
  ): IncomingPacket & { id?: string } {
    const packet: IncomingPacket & { id?: string } =
      id === undefined ? { pattern: route, data } : { id, pattern: route, data };
    if (metadata !== undefined) packet.metadata = { ...metadata };
    this.dispatchHook?.(packet);
    return packet;
  }

  /** Turns response packets into calls of `observer`, as Nest's own clients do. */
  protected responseObserver(observer: Observer<unknown>): (packet: WritePacket) => void {
    return this.createObserver(observer);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
