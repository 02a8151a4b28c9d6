import type { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { IpcChannelError } from '../../channel/errors.js';
import type { IpcStatus } from '../ipc-options.interface.js';
import { leadershipEvents } from '../leadership/leadership-events.js';

/** Where an IpcServer or IpcClient publishes its status (Nest's status subject). */
export interface StatusSink {
  next(value: IpcStatus): void;
}

/**
 * Tells the IpcServer and IpcClients of a process what happens to their shared channel: its
 * lifecycle as their status and `on()` events, errors that belong to no request as their
 * 'error' events, and leadership changes to the leadership API.
 */
export class StatusForwarder {
  private readonly errorListeners = new Set<(error: IpcChannelError) => void>();
  private readonly logger = new Logger('IpcChannel');

  constructor(private readonly channel: Channel) {
    channel.on('error', (error) => this.stray(error));
    // A (re)join or a new hub also brings followers a new epoch.
    for (const event of ['leader', 'follower', 'connect', 'hub'] as const) {
      channel.on(event, () => leadershipEvents.emit('change', channel.name));
    }
  }

  /**
   * Forwards the channel's lifecycle to an IpcServer's or IpcClient's status and `on()`
   * listeners; returns the function that stops it.
   */
  watch(emitter: EventEmitter, status: StatusSink): () => void {
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
      join: (id: PeerId) => emitter.emit('join', id),
      leave: (id: PeerId) => emitter.emit('leave', id),
      retiring: (id: PeerId) => emitter.emit('retiring', id),
      leader: (epoch: number) => emitter.emit('leader', epoch),
      follower: (epoch: number) => emitter.emit('follower', epoch),
    };
    const onError = (error: IpcChannelError) => {
      if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
    };
    for (const [event, listener] of Object.entries(on)) ch.on(event, listener);
    this.errorListeners.add(onError);
    // Attaching to a channel this process had already joined (the IpcServer joined first): the
    // channel's 'connect' is past, and listeners registered before the attach must still hear it.
    if (ch.connected) on.connect!(ch.id);
    return () => {
      for (const [event, listener] of Object.entries(on)) ch.off(event, listener);
      this.errorListeners.delete(onError);
    };
  }

  /**
   * `on('connected', cb)` registered while the channel is joined calls `cb(id)` once at once
   * (on the next microtask), as `status` replays `'connected'` to a late subscriber.
   */
  static replayConnected(
    event: string,
    callback: (...args: any[]) => void,
    channel: Channel | undefined,
  ): void {
    if (event !== 'connected' || channel?.connected !== true) return;
    queueMicrotask(() => {
      if (channel.connected) callback(channel.id);
    });
  }

  /** An error that belongs to no request: logged, and given to 'error' listeners. */
  stray(error: IpcChannelError): void {
    this.logger.warn(error.message);
    for (const listener of this.errorListeners) listener(error);
  }
}
