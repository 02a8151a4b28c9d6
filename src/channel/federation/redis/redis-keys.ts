import type { AdapterContext } from '../federation-adapter.js';

/** The Redis keys of one channel, all under `${prefix}:${channel}:`. */
export interface RedisKeys {
  /** A host's inbox: a stream that other hosts append batches to. */
  inbox(host: string): string;
  /** The consumer group that reads a host's inbox now: the last adapter's to connect. */
  inboxReader(host: string): string;
  /** A host's view (its members), a string with a TTL. */
  hostView(host: string): string;
  /** Every host that published a view, scored by the time (ms, Redis clock) its view expires. */
  readonly hosts: string;
  /** The leadership lease: the holder's token, with a TTL. */
  readonly leader: string;
  /** The last fencing epoch given out; survives the lease so that epochs only rise. */
  readonly epoch: string;
}

/** The keys of `ctx.channel` under `ctx.prefix`. */
export function redisKeys(ctx: AdapterContext): RedisKeys {
  const base = `${ctx.prefix}:${ctx.channel}`;
  return {
    inbox: (host) => `${base}:inbox:${host}`,
    inboxReader: (host) => `${base}:reader:${host}`,
    hostView: (host) => `${base}:host:${host}`,
    hosts: `${base}:hosts`,
    leader: `${base}:leader`,
    epoch: `${base}:epoch`,
  };
}
