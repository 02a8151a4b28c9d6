/**
 * `nestjs-ipc-channel/compat`: ipchannel's API, so that an ipchannel application moves over by
 * changing its import. See docs/compat.md for what differs and how to move on to the native API.
 * The error classes are those of `nestjs-ipc-channel/channel`.
 */
import { Channel } from './channel.js';

export { Channel } from './channel.js';
export { MessageTarget, MessageTarget as Message } from './message-target.js';
export type { ChannelOptions } from '../channel/channel-options.js';
export type { TargetSpec } from '../channel/channel-target.js';

/** The process's channel: created on import, joined on the next tick (as ipchannel's is). */
export const channel = new Channel();
export default channel;
