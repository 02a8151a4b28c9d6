import { FrameFlag, OFF_FLAGS } from '../wire/frame.js';
import type { HubConnection } from './hub-connection.js';

/**
 * One data frame routed by the hub, from acceptance until every target has read it. A broadcast
 * shares one record among its targets; the sender gets its ack when `remaining` reaches zero.
 *
 * Its life (see Router): delivered, it waits in the target connection's `pending` queue until
 * that peer receipts it, and then settles. If the connection closes first, its sender is told
 * that the frame may have been read (an Unconfirmed notice), and the record goes back on hold
 * for the id, ahead of anything held since (Router.requeueUnread), to be delivered to the id's
 * next holder. A hold that outlives graceMs expires (Router.expire): a unicast is then nacked to
 * its sender, a broadcast settles without that target.
 */
export class DeliveryRecord {
  /** The sender has been told the frame is held (it then leaves the sender's window). */
  heldNotified = false;
  /** The frame bytes were copied out of the socket read they came in (see HoldQueues). */
  copied = false;
  /**
   * Targets that have yet to read the frame. It starts at 1, so that a broadcast cannot settle
   * while its targets are still being added: the router settles that extra one last.
   */
  remaining = 1;

  constructor(
    readonly from: HubConnection,
    readonly seq: number,
    /** The frame bytes; replaced by a private copy when the frame must be held. */
    public frame: Buffer,
    /** Unicast target id, or 0 for a broadcast. */
    readonly target: number,
    /** FrameFlag.NoHold (requests): held only while a survivor is expected back under the id. */
    readonly noHold: boolean,
  ) {}

  /** Whether it is for the process holding its target id now, even while that one retires. */
  forProcess(): boolean {
    return (this.frame[OFF_FLAGS]! & FrameFlag.ToProcess) !== 0;
  }
}
