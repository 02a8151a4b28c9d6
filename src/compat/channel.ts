import { EventEmitter } from 'node:events';
import { Channel as NativeChannel } from '../channel/channel.js';
import type { ChannelOptions } from '../channel/channel-options.js';
import type { TargetSpec } from '../channel/channel-target.js';
import { ChannelClosedError, type IpcChannelError } from '../channel/errors.js';
import { MESSAGE_EVENT, OWN_EVENTS, wireName } from './event-names.js';
import { MessageTarget } from './message-target.js';

type Listener = (...args: any[]) => void;

/**
 * ipchannel's channel on top of this library's: the same calls and events, with ids that stay
 * put across hub failovers and nothing lost on the way. It joins on its own on the next tick;
 * `disconnect()` leaves gracefully. The channel it drives is `native`.
 *
 * ```js
 * import channel from 'nestjs-ipc-channel/compat';
 * channel.on('message', (sender, ...data) => console.log(sender, data));
 * channel.on('connect', () => channel.to('all').send('hello from', channel.pid));
 * ```
 */
export class Channel extends EventEmitter {
  /**
   * The channel this one drives: for what ipchannel never had (peers, join/leave, the hub,
   * failovers, `close()` as a promise). Its own events are not repeated on this object.
   */
  readonly native: NativeChannel;

  /** User events whose arrivals are already forwarded here. */
  private readonly forwarded = new Set<string>();
  private readonly targets = new Map<TargetSpec, MessageTarget>();
  /** Whether the channel's errors come here (only while someone listens to 'error'). */
  private errorsForwarded = false;
  private joined = false;
  private leaving = false;
  private readonly forwardError = (error: IpcChannelError) => this.emit('error', error);

  /** Creates the channel and joins it on the next tick, once listeners are in place. */
  constructor(options: ChannelOptions = {}) {
    super();
    const native = new NativeChannel(options);
    this.native = native;
    // 'connect' once: a failover is not a new connection here (same id, nothing lost), and an
    // ipchannel application sets itself up in its 'connect' handler. That handler runs before
    // anything else arrives, so that what it listens to is heard; a throw from it surfaces as an
    // uncaught exception after the join's own bookkeeping, as a listener's throw on arrival does.
    native.once('connect', () => {
      this.joined = true;
      try {
        this.emit('connect');
      } catch (e) {
        process.nextTick(() => {
          throw e;
        });
      }
    });
    native.once('close', () => this.emit('disconnect'));
    native.on('message', (sender, message) => this.emit('message', sender, message));
    this.forward('message', MESSAGE_EVENT);
    process.nextTick(() => {
      if (this.leaving) return;
      native.connect().catch((error: IpcChannelError) => {
        if (!(this.leaving && error instanceof ChannelClosedError)) this.report(error);
      });
    });
  }

  /** This process's peer id (from 1; stable across failovers and restarts), once joined. */
  get pid(): number | undefined {
    return this.native.id;
  }

  /**
   * Whether this process is joined now: false before the first join, while a new hub is
   * elected, and from `disconnect()` on.
   */
  get connected(): boolean {
    return this.joined && !this.leaving && this.native.connected;
  }

  /**
   * Addresses one peer by id, `'all'` (this process included) or `'others'`. Throws
   * InvalidTargetError for anything else (ipchannel sent those nowhere, silently).
   */
  to(receiver: TargetSpec): MessageTarget {
    let target = this.targets.get(receiver);
    if (target === undefined) {
      target = new MessageTarget(this.native.to(receiver));
      this.targets.set(receiver, target);
    }
    return target;
  }

  /**
   * Starts a graceful close and returns at once: what was sent before is delivered, the hub is
   * handed to another process if this one hosts it, then `'disconnect'` is emitted. Calling it
   * again does nothing.
   */
  disconnect(): void {
    if (this.leaving) return;
    this.leaving = true;
    this.native.close().catch((error: IpcChannelError) => this.report(error));
  }

  // ---- listeners ---------------------------------------------------------------------------

  override on(event: 'connect' | 'disconnect', listener: () => void): this;
  override on(event: 'error', listener: (error: IpcChannelError) => void): this;
  override on(event: 'message', listener: (sender: number, ...data: any[]) => void): this;
  override on(event: string, listener: (sender: number, ...data: any[]) => void): this;
  override on(event: string | symbol, listener: Listener): this {
    return this.addListener(event, listener);
  }

  override once(event: 'connect' | 'disconnect', listener: () => void): this;
  override once(event: 'error', listener: (error: IpcChannelError) => void): this;
  override once(event: 'message', listener: (sender: number, ...data: any[]) => void): this;
  override once(event: string, listener: (sender: number, ...data: any[]) => void): this;
  override once(event: string | symbol, listener: Listener): this {
    return super.once(event, listener); // through addListener
  }

  override addListener(event: string | symbol, listener: Listener): this {
    super.addListener(event, listener);
    this.listening(event);
    return this;
  }

  override prependListener(event: string | symbol, listener: Listener): this {
    super.prependListener(event, listener);
    this.listening(event);
    return this;
  }

  override removeListener(event: string | symbol, listener: Listener): this {
    super.removeListener(event, listener);
    this.syncErrors();
    return this;
  }

  override off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  override removeAllListeners(event?: string | symbol): this {
    // EventEmitter counts its arguments: an explicit undefined would name an event.
    if (event === undefined) super.removeAllListeners();
    else super.removeAllListeners(event);
    this.syncErrors();
    return this;
  }

  /** Makes sure what `event`'s new listener waits for reaches this object. */
  private listening(event: string | symbol): void {
    if (typeof event !== 'string') return;
    if (event === 'error') this.syncErrors();
    else if (!OWN_EVENTS.has(event)) this.forward(event, wireName(event));
  }

  /** Emits each `wire` event that arrives as the user event `event`, with its arguments. */
  private forward(event: string, wire: string): void {
    if (this.forwarded.has(event)) return;
    this.forwarded.add(event);
    this.native._read(wire, (sender, args) => this.emit(event, sender, ...args));
  }

  /**
   * Errors come here only while someone listens; otherwise the channel reports them itself (a
   * process warning, or its logger) instead of EventEmitter throwing them at the process.
   */
  private syncErrors(): void {
    const wanted = this.listenerCount('error') > 0;
    if (wanted === this.errorsForwarded) return;
    this.errorsForwarded = wanted;
    if (wanted) this.native.on('error', this.forwardError);
    else this.native.off('error', this.forwardError);
  }

  /** An error of a call this object made itself (joining, leaving). */
  private report(error: IpcChannelError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else {
      process.emitWarning(`${error.message} (listen with channel.on('error') to handle it)`, {
        type: error.name,
        code: error.code,
      });
    }
  }
}
