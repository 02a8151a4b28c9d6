import type { ChannelTarget } from '../channel/channel-target.js';
import { MESSAGE_EVENT, wireName } from './event-names.js';

/**
 * The sending half of `channel.to(receiver)`, as ipchannel shapes it: `send(...data)` and
 * `emit(event, ...data)`, each datum a separate argument on arrival.
 */
export class MessageTarget {
  /** @internal */
  constructor(private readonly target: ChannelTarget) {}

  /**
   * Sends a message, received by `on('message', (sender, ...data) => ...)` with the same
   * arguments. Returns false when the sender should slow down (the message is accepted either
   * way); throws for what the channel cannot take (closed, queue full, value the codec refuses).
   */
  send(...data: unknown[]): boolean {
    // One value is the channel's own message, readable by native peers as `on('message')`;
    // any other count needs the argument list, which only an event carries.
    if (data.length === 1 && data[0] !== undefined) return this.target.send(data[0]);
    return this.target.emit(MESSAGE_EVENT, ...data);
  }

  /**
   * Emits `event` with `data`, received by `on(event, (sender, ...data) => ...)`. `'message'` is
   * the same as `send(...data)`. `'connect'`, `'disconnect'` and `'error'` are refused
   * (InvalidEventNameError): the receiver's channel emits them itself.
   */
  emit(event: string, ...data: unknown[]): boolean {
    if (event === 'message') return this.send(...data);
    return this.target.emit(wireName(event), ...data);
  }
}
