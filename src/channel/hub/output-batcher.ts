import { FrameType, jsonFrame, rangesFrame } from '../wire/frame.js';
import type { HubConnection } from './hub-connection.js';

/** Acks alone wait for this many, or this long (see flush). */
const ACK_BATCH = 512;
const ACK_DELAY_MS = 1;

/**
 * The hub's writes: frames for a connection collect in its `out` (and its acks, held notices
 * and nacks in their lists) and go out as one write per connection per tick.
 */
export class OutputBatcher {
  private dirty: HubConnection[] = [];
  private flushScheduled = false;
  private readonly ackWaiters = new Set<HubConnection>();
  private ackTimer: NodeJS.Timeout | undefined;
  /** The hub is closing (see close). */
  closing = false;
  /**
   * Asked before each flush: false once the hub must write nothing more (it was deposed while
   * its process was not running), and what is queued is dropped.
   */
  mayWrite: () => boolean = () => true;
  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly flushAcks = (): void => {
    this.ackTimer = undefined;
    for (const c of this.ackWaiters) this.markDirty(c);
    this.ackWaiters.clear();
    this.flush(true);
  };

  send(conn: HubConnection, frame: Buffer): void {
    conn.out.push(frame);
    this.markDirty(conn);
  }

  /** The connection has something to write (frames, acks, held notices or nacks). */
  markDirty(conn: HubConnection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
    // Timers (grace expiry, id waits) change state outside any read; every change must flush.
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.dirty.length === 0) return;
    this.flushScheduled = true;
    process.nextTick(this.flushNow);
  }

  /**
   * Writes each dirty connection's frames. Acks ride along with data going to that peer; alone
   * they wait for a batch or a short delay (a request and its response then cost no extra
   * writes). Held notices and nacks go at once: they free a sender's window or report a failure.
   */
  flush(forceAcks = false): void {
    const dirty = this.dirty;
    this.dirty = [];
    if (!this.mayWrite()) {
      for (const conn of dirty) conn.dirty = false;
      return;
    }
    for (const conn of dirty) {
      conn.dirty = false;
      if (conn.duplex.closed) continue;
      let frames = conn.out;
      conn.out = [];
      const control: Buffer[] = [];
      if (conn.acks.length > 0) {
        if (frames.length > 0 || forceAcks || this.closing || conn.acks.length >= ACK_BATCH) {
          control.push(rangesFrame(FrameType.Ack, conn.acks));
          conn.acks = [];
        } else {
          this.delayAcks(conn);
        }
      }
      if (conn.held.length > 0) {
        control.push(rangesFrame(FrameType.Held, conn.held));
        conn.held = [];
      }
      // Ahead of the nacks: the sender must know a frame may have been read before it hears
      // that the frame was given up on, or it would report the failure as certain.
      if (conn.unconfirmed.length > 0) {
        control.push(rangesFrame(FrameType.Unconfirmed, conn.unconfirmed));
        conn.unconfirmed = [];
      }
      if (conn.nacks !== undefined) {
        for (const [reason, seqs] of conn.nacks)
          control.push(jsonFrame(FrameType.Nack, { reason, seqs }));
        conn.nacks = undefined;
      }
      if (control.length > 0) frames = frames.length === 0 ? control : control.concat(frames);
      if (frames.length > 0) {
        conn.duplex.write(frames);
        conn.spoke = true;
      }
    }
  }

  /** The hub is closing: from now on acks go out with the next flush, whatever their number. */
  close(): void {
    this.closing = true;
    clearTimeout(this.ackTimer);
  }

  /** Acks left unsent are flushed after a short delay unless data carries them first. */
  private delayAcks(conn: HubConnection): void {
    this.ackWaiters.add(conn);
    if (this.ackTimer !== undefined) return;
    this.ackTimer = setTimeout(this.flushAcks, ACK_DELAY_MS);
    this.ackTimer.unref();
  }
}
