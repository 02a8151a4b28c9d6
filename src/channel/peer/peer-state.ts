import type { DirectLinks } from '../direct/direct-links.js';
import type { IpcChannelError } from '../errors.js';
import { ChannelCounters } from './stats.js';

/**
 * Where a channel is in its life. `retiring`: it takes nothing new and still sends (replies)
 * until close() leaves.
 */
export type ChannelPhase = 'new' | 'connecting' | 'open' | 'retiring' | 'closing' | 'closed';

/**
 * What the parts of one channel share: where it is in its life, who it is, which hub it last
 * joined, and who waits for the hub's answer. Created once with the channel; the parts in peer/
 * read and write these fields directly.
 */
export class PeerState {
  phase: ChannelPhase = 'new';
  /** This process's peer id (0 before its first join). */
  selfId = 0;
  /** The peer id of the process hosting the hub (0 while unknown). */
  hubId = 0;
  /** The epoch of the hub this process last joined (0 before its first join). */
  epoch = 0;
  /** What this process announces about itself in each Join (see setMeta). */
  meta: unknown;
  /** retire() was called: this process takes nothing new, on this hub and every later one. */
  retireRequested = false;
  /** The last hub went without a handover since this process last joined (see Outbox.rewind). */
  hubDied = false;
  /** What this process had consumed when the hub confirmed its retirement (see HubControl). */
  consumedAtRetire: [incarnation: number, seq: number][] | undefined;
  /** Links straight to other peers (undefined where the platform or option rules them out). */
  direct: DirectLinks | undefined;
  /** Settles the connect() under way once this process joins, or cannot. */
  connectWaiter: ((error?: IpcChannelError) => void) | undefined;
  /** Resolves the retire() under way once the hub confirms it. */
  retireWaiter: (() => void) | undefined;
  /** What this process has sent, received and lived through (see Channel.stats). */
  readonly counters = new ChannelCounters();

  constructor(
    /** This process's random incarnation: a restarted process is a new stream to receivers. */
    readonly incarnation: number,
    meta: unknown,
  ) {
    this.meta = meta;
  }
}
