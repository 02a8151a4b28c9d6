import type { Channel } from '../../channel/channel.js';
import type { ChannelOptions } from '../../channel/channel-options.js';
import type { ChannelTarget, SendOptions } from '../../channel/channel-target.js';
import type {
  AdapterContext,
  FederationAdapter,
} from '../../channel/federation/federation-adapter.js';

/*
 * The federation shapes of the channel's public API (issue 24's contract), as the Nest layer
 * uses them. They are written to match the channel's own PeerId, TargetSpec and
 * FederationOptions exactly, so that once the channel exports them these become re-exports.
 */

/** A peer on this host by number, or on another host as `'<host>/<id>'`. */
export type PeerId = number | `${string}/${number}`;

/**
 * Who a Nest send goes to: one peer (on any host), every peer of every host (`'all'`, self
 * included), every peer but this one (`'others'`), or every peer of this host only (`'host'`).
 */
export type IpcTarget = PeerId | 'all' | 'others' | 'host';

/** How a channel reaches peers on other hosts (the channel's `federation` option). */
export interface FederationOptions {
  /** ioredis URL ('redis://', 'rediss://' for TLS) or ioredis options (host, port, username, password, tls, db...). */
  redis?: string | Record<string, unknown>;
  /** This host's name, unique among the app's hosts; default os.hostname(). 1..64 chars, no '/'. */
  host?: string;
  /** A store other than Redis (see FederationAdapter). Exactly one of redis/adapter. */
  adapter?: (ctx: AdapterContext) => FederationAdapter;
  /** Leadership lease across hosts, ms (default 5000). */
  leaseMs?: number;
  /** A host whose view was not renewed for this long is gone (default 5000). */
  hostTimeoutMs?: number;
  /** Prefix of every Redis key (default 'ipc'). */
  prefix?: string;
}

/** The channel's options, `federation` included. */
export type FederatedChannelOptions = ChannelOptions & { federation?: FederationOptions };

/** What the channel knows of one peer, on this host or another. */
export interface PeerDetails {
  readonly id: PeerId;
  readonly pid: number;
  readonly meta: unknown;
  readonly retiring: boolean;
  /** The peer's host, for a peer on another host. */
  readonly host?: string;
}

/** The parts of Channel that name peers, with the federated signatures. */
export interface FederatedChannel {
  /** This host's name when federated; undefined otherwise. */
  readonly host: string | undefined;
  /** Local ids ascending, then remote `'host/id'` (by host, then id). */
  readonly peers: readonly PeerId[];
  peerInfo(id: PeerId): PeerDetails | undefined;
  to(target: IpcTarget, options?: SendOptions): ChannelTarget;
}

/** `channel` seen through its federated signatures (PeerId wherever a peer is named). */
export function federated(channel: Channel): FederatedChannel {
  return channel as unknown as FederatedChannel;
}
