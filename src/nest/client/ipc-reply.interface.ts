import type { PeerId } from '../../channel/channel-target.js';

/**
 * One response of a gather (`client.to('all').send(...)`, `to('others')`, `to('host')`). A peer whose handler
 * returns one value gives one IpcReply; a streaming handler gives one per value; a failing peer
 * gives one IpcReply with `error`, and the others are not affected.
 */
export interface IpcReply<T = unknown> {
  /** The peer that responded: a number on this host, `'<host>/<id>'` (e.g. `'B/3'`) on another. */
  peer: PeerId;
  /** The value the handler produced (absent when it failed or produced none). */
  data?: T;
  /** What the caller would have received as an error from a single request. */
  error?: unknown;
}
