/**
 * One response of a gather (`client.to('all').send(...)` / `to('others')`). A peer whose handler
 * returns one value gives one IpcReply; a streaming handler gives one per value; a failing peer
 * gives one IpcReply with `error`, and the others are not affected.
 */
export interface IpcReply<T = unknown> {
  /** The peer id that responded. */
  peer: number;
  /** The value the handler produced (absent when it failed or produced none). */
  data?: T;
  /** What the caller would have received as an error from a single request. */
  error?: unknown;
}
