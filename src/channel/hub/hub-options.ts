import type { IpcChannelError } from '../errors.js';
import type { Log } from '../logger.js';
import type { ExpectedPeer } from './id-allocator.js';

/** What a Hub is told when it is created. */
export interface HubOptions {
  readonly name: string;
  readonly codec: string;
  readonly secret: Buffer | undefined;
  readonly maxFrameBytes: number;
  readonly graceMs: number;
  readonly preferredIdWaitMs: number;
  readonly maxHeldBytes: number;
  readonly handshakeTimeoutMs: number;
  /** A connection the hub wrote nothing to for this long gets a heartbeat. */
  readonly heartbeatIntervalMs: number;
  /** A joined peer the hub heard nothing from for this long is cut off (see HubLiveness). */
  readonly heartbeatTimeoutMs: number;
  /** A joined peer that read none of what it was written for this long is cut off. */
  readonly stallTimeoutMs: number;
  /** Survivors of the previous hub: their ids are reserved, and broadcasts held, for graceMs. */
  readonly expected: readonly ExpectedPeer[];
  /**
   * After a failover or handover: for this long, peers rejoining with their ids are served
   * first, and newcomers (preferred or any id) wait. 0 for a channel's very first hub.
   */
  readonly rejoinWindowMs?: number;
  readonly log: Log;
  /** A connection was closed for what it sent (malformed or oversized frames, bad handshake). */
  readonly onFault?: (error: IpcChannelError, peerId: number) => void;
  /**
   * The leadership epoch this hub starts with: one above the highest its process has seen (the
   * wall clock if it has seen none). Asked once, when the hub is created. Default 1.
   */
  readonly firstEpoch?: () => number;
  /**
   * The hub stops serving (closing, handing over, or stepping down): called before it tells
   * anyone, so the process hosting it stops acting as leader before a successor can start.
   */
  readonly onStop?: () => void;
  /**
   * The channel is federated: a bridge will attach (attachBridge). Broadcasts are held for it
   * from the start, so none sent before it joined (a peer's resend after a failover) misses the
   * other hosts. Attaching a bridge sets it too.
   */
  readonly federated?: boolean;
}
