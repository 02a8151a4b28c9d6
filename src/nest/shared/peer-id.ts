import { type PeerId, parsePeerId } from '../../channel/channel-target.js';

/** Whether `id` names a peer of this host (a number) rather than one on another host. */
export function isLocalPeer(id: PeerId): id is number {
  return typeof id === 'number';
}

/**
 * Whether `id` is a well-formed id of a peer on another host (`'B/3'`). A malformed string is
 * not: the channel refuses it with InvalidTargetError when it is sent to.
 */
export function isRemotePeer(id: PeerId): id is `${string}/${number}` {
  return typeof id === 'string' && parsePeerId(id) !== undefined;
}

/**
 * `id` as the channel names it in its events: a peer of this host (`host`) by its number, so
 * that `'<this host>/3'` and `3` are one peer for pending requests and gathers.
 */
export function canonicalPeer(id: PeerId, host: string | undefined): PeerId {
  if (host === undefined || typeof id !== 'string') return id;
  const remote = parsePeerId(id);
  return remote !== undefined && remote.host === host ? remote.id : id;
}

/** The channel's order of peers: local ids ascending, then remote ones by host, then id. */
export function comparePeers(a: PeerId, b: PeerId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  const ra = parsePeerId(a);
  const rb = parsePeerId(b);
  if (ra === undefined || rb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  if (ra.host !== rb.host) return ra.host < rb.host ? -1 : 1;
  return ra.id - rb.id;
}
