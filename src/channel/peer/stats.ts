import type { Outbox } from './outbox.js';

/**
 * What one process's side of a channel has done and holds now, as plain numbers (see
 * `Channel.stats()`). Totals count from the channel's creation; they never go down.
 */
export interface ChannelStats {
  /** Messages and events accepted by `send`/`emit` (a broadcast counts once). */
  readonly messagesSent: number;
  /** Bytes of those messages as framed, header and event name included. */
  readonly bytesSent: number;
  /** Messages and events handed to this process's listeners (duplicates after a failover not counted). */
  readonly messagesReceived: number;
  /** Bytes of those messages as framed. */
  readonly bytesReceived: number;
  /** Accepted messages not yet written to the hub or a direct link. */
  readonly queuedMessages: number;
  /** Accepted messages not yet confirmed read by their targets (queued, in flight and held). */
  readonly unconfirmedMessages: number;
  /**
   * Of those, the ones the hub holds for a peer id that is absent now, and (federation) those
   * for other hosts that wait on a federation store that is slow or down: any the hub's bridge
   * had not stored within a heartbeat interval, until it stores one again. Held messages do not
   * count against the sender's in-flight window, only against `highWaterMark`/`maxQueueBytes`.
   */
  readonly heldMessages: number;
  /** Bytes of the unconfirmed messages (the figure `highWaterMark` is compared with). */
  readonly pendingBytes: number;
  /** Elections this process won: times it started hosting the channel's hub. */
  readonly hubsHosted: number;
  /** Times the hub this process was joined to died without handing over. */
  readonly failovers: number;
  /** Times the hub this process was joined to handed over gracefully (it was closing). */
  readonly handovers: number;
  /** Heartbeats from the hub that did not come in time (0 where heartbeats are not in use). */
  readonly heartbeatsMissed: number;
}

/**
 * The running totals behind ChannelStats. The send and receive paths bump them with one call
 * per message, integer additions only, so keeping them costs nothing worth measuring.
 */
export class ChannelCounters {
  messagesSent = 0;
  bytesSent = 0;
  messagesReceived = 0;
  bytesReceived = 0;
  hubsHosted = 0;
  failovers = 0;
  handovers = 0;
  /** Bumped by the heartbeat watcher, once per heartbeat it waited for in vain. */
  heartbeatsMissed = 0;

  /** One message accepted for sending, `bytes` long as framed. */
  sent(bytes: number): void {
    this.messagesSent++;
    this.bytesSent += bytes;
  }

  /** One message delivered to this process, `bytes` long as framed. */
  received(bytes: number): void {
    this.messagesReceived++;
    this.bytesReceived += bytes;
  }

  /** The hub this process was joined to is gone: `handover` when it said so first. */
  hubLost(handover: boolean): void {
    if (handover) this.handovers++;
    else this.failovers++;
  }

  /** The totals, with what the outbox holds now. */
  snapshot(outbox: Outbox): ChannelStats {
    return {
      messagesSent: this.messagesSent,
      bytesSent: this.bytesSent,
      messagesReceived: this.messagesReceived,
      bytesReceived: this.bytesReceived,
      queuedMessages: outbox.queuedCount,
      unconfirmedMessages: outbox.size,
      heldMessages: outbox.size - outbox.unheldCount,
      pendingBytes: outbox.pendingBytes,
      hubsHosted: this.hubsHosted,
      failovers: this.failovers,
      handovers: this.handovers,
      heartbeatsMissed: this.heartbeatsMissed,
    };
  }
}
