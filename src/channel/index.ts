export { Channel, type ChannelEventMap } from './channel.js';
export { type ChannelOptions, defaultChannelName } from './channel-options.js';
export type { ChannelStats } from './peer/stats.js';
export type { TransportKind, TransportOption } from './endpoint/endpoint-choice.js';
export { type Codec, type CodecName, jsonCodec, v8Codec } from './wire/codec.js';
export * from './errors.js';
export * from './endpoint-errors.js';
export type { ChannelLogger } from './logger.js';
export { ChannelTarget, type PeerId, type SendOptions, type TargetSpec } from './channel-target.js';
export type { PeerDetails } from './channel-events.js';
export type { FederationOptions } from './channel-options.js';
export type {
  AdapterContext,
  FederationAdapter,
  InboxEntry,
} from './federation/federation-adapter.js';
export * from './federation/federation-errors.js';
export { InboxTakenOverError, RedisStoreError } from './federation/redis/redis-store-error.js';
