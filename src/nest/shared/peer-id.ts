import type { PeerId } from './federation-types.js';

/** The highest peer id a host gives out (the channel's MAX_PEER_ID under federation). */
const MAX_ID = 0xfffc;

/** Whether `id` names a peer of this host (a number) rather than one on another host. */
export function isLocalPeer(id: PeerId): id is number {
  return typeof id === 'number';
}

/**
 * The host and id of a well-formed remote peer id (`'B/3'`); undefined for a local id or a
 * malformed string, which the channel refuses with InvalidTargetError when it is sent to.
 */
export function splitRemote(id: PeerId): { host: string; id: number } | undefined {
  if (typeof id !== 'string') return undefined;
  const slash = id.indexOf('/');
  if (slash < 1 || slash !== id.lastIndexOf('/')) return undefined;
  const digits = id.slice(slash + 1);
  if (!/^[1-9][0-9]{0,4}$/.test(digits)) return undefined;
  const n = Number(digits);
  return n <= MAX_ID ? { host: id.slice(0, slash), id: n } : undefined;
}

/**
 * `id` as the channel names it in its events: a peer of this host (`host`) by its number, so
 * that `'<this host>/3'` and `3` are one peer for pending requests and gathers.
 */
export function canonicalPeer(id: PeerId, host: string | undefined): PeerId {
  if (host === undefined || typeof id !== 'string') return id;
  const remote = splitRemote(id);
  return remote !== undefined && remote.host === host ? remote.id : id;
}

/** The channel's order of peers: local ids ascending, then remote ones by host, then id. */
export function comparePeers(a: PeerId, b: PeerId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1;
  if (typeof b === 'number') return 1;
  const ra = splitRemote(a);
  const rb = splitRemote(b);
  if (ra === undefined || rb === undefined) return a < b ? -1 : a > b ? 1 : 0;
  if (ra.host !== rb.host) return ra.host < rb.host ? -1 : 1;
  return ra.id - rb.id;
}
