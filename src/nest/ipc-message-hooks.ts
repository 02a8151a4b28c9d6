import { Observable } from 'rxjs';
import type { TargetSpec } from '../channel/channel-target.js';
import type { Channel } from '../channel/channel.js';
import { defaultChannelName } from '../channel/channel-options.js';
import { InvalidOptionError } from '../channel/errors.js';
import type { IpcMetadata } from './protocol/nest-wire.js';
import type { IpcContext } from './server/ipc.context.js';

/** A message an IpcClient is about to send, as a send hook sees it. */
export interface IpcOutgoingMessage {
  /** `event`: emit; `request`: send to one peer; `gather`: send to `'all'`, `'others'` or `'host'`. */
  readonly kind: 'event' | 'request' | 'gather';
  /** The channel's name. */
  readonly channel: string;
  /** The pattern, as a string (object patterns as their normalized JSON). */
  readonly pattern: string;
  /**
   * The peer id (`'<host>/<id>'` on another host), `'all'`, `'others'` or `'host'`; undefined for
   * a request to any peer that handles it.
   */
  readonly target: TargetSpec | undefined;
  /** This process's peer id; undefined before it has joined. */
  readonly self: number | undefined;
}

/** What a send hook keeps for one message until it is done. */
export interface IpcSendScope {
  /**
   * Strings added to the packet's metadata (every peer's packet, for a gather); the handler
   * reads them with `ctx.getMetadata()`. Undefined adds nothing: the packet stays as it was.
   */
  readonly metadata: IpcMetadata | undefined;
  /** Runs `fn` (a response or error handed to the subscriber) where the message was sent from. */
  run<T>(fn: () => T): T;
  /**
   * The message is done: an event was handed to the channel, a request or gather completed or
   * was unsubscribed from (no `error`), or failed (`error`). Called once.
   */
  end(error?: unknown): void;
}

/** What a receive hook keeps for one message while its handler runs. */
export interface IpcReceiveScope {
  /** Runs the handler (and Nest's processing hooks around it). */
  run<T>(fn: () => T): T;
  /** The handler finished (a returned stream ran to its end), or threw (`error`). Called once. */
  end(error?: unknown): void;
}

/**
 * Hooks that see every message this process's IpcClients send and its IpcServer handles: the
 * place for tracing (see `nestjs-ipc-channel/tracing`) or any cross-cutting concern that
 * travels with messages. A hook that returns undefined leaves that message alone.
 */
export interface IpcMessageHooks {
  /** Called as an event is emitted, or as a request or gather is subscribed to. */
  send?(message: IpcOutgoingMessage): IpcSendScope | undefined;
  /** Called as a handler is about to run for a message (not when no handler matches). */
  receive?(ctx: IpcContext): IpcReceiveScope | undefined;
}

/**
 * The registered hooks, read once per message: while none are registered a message pays one
 * undefined check and nothing else.
 */
export let messageHooks: IpcMessageHooks | undefined;

/**
 * Registers message hooks for this process (one set at a time). Returns the function that
 * removes them.
 */
export function registerIpcMessageHooks(hooks: IpcMessageHooks): () => void {
  if (messageHooks !== undefined) {
    throw new InvalidOptionError(
      'IPC message hooks are already registered in this process: call the function the first registerIpcMessageHooks() returned before registering others.',
    );
  }
  messageHooks = hooks;
  return () => {
    if (messageHooks === hooks) messageHooks = undefined;
  };
}

/**
 * `make`'s request or gather, with `send`'s scope around each subscription: its metadata goes
 * into every packet, its end follows the request's, and what the subscriber receives is handed
 * over in the scope's `run`.
 */
export function withSendScope<T>(
  send: NonNullable<IpcMessageHooks['send']>,
  message: IpcOutgoingMessage,
  make: (metadata: IpcMetadata | undefined) => Observable<T>,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const scope = send(message);
    if (scope === undefined) return make(undefined).subscribe(subscriber);
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      scope.end(error);
    };
    const inner = make(scope.metadata).subscribe({
      next: (value) => scope.run(() => subscriber.next(value)),
      error: (error: unknown) => {
        end(error);
        scope.run(() => subscriber.error(error));
      },
      complete: () => {
        end();
        scope.run(() => subscriber.complete());
      },
    });
    return () => {
      inner.unsubscribe();
      end();
    };
  });
}

/** An event `channel` is about to send. */
export function eventMessage(
  channel: Channel,
  pattern: string,
  target: TargetSpec,
): IpcOutgoingMessage {
  return { kind: 'event', channel: channel.name, pattern, target, self: channel.id };
}

/**
 * A request to `target` (a gather for `'all'`, `'others'` and `'host'`) on `channel`, or before this
 * client has taken its channel, on the one its options name.
 */
export function requestMessage(
  target: TargetSpec | undefined,
  channel: Channel | undefined,
  name: string | undefined,
  pattern: string,
): IpcOutgoingMessage {
  const kind = isGroup(target) ? 'gather' : 'request';
  const channelName = channel?.name ?? name ?? defaultChannelName();
  return { kind, channel: channelName, pattern, target, self: channel?.id };
}

/** Whether `target` names a group of peers (a gather, or a broadcast) rather than one peer. */
export function isGroup(target: TargetSpec | undefined): target is 'all' | 'others' | 'host' {
  return target === 'all' || target === 'others' || target === 'host';
}
