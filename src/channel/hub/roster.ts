import type { Log } from '../logger.js';
import { FrameType, HEADER_SIZE, jsonFrame, readJson } from '../wire/frame.js';
import type { LeaveNotice, PeerLeave, PeerRecord } from '../wire/handshake.js';
import { readConsumed } from '../wire/join-validation.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';
import type { IdAllocator } from './id-allocator.js';
import type { OutputBatcher } from './output-batcher.js';

export interface RosterOptions {
  readonly output: OutputBatcher;
  readonly ids: IdAllocator;
  readonly log: Log;
  /** The hub process's own peer started retiring (see Router.releaseOwnBroadcasts). */
  readonly onLocalRetire: (conn: HubConnection) => void;
  /** A retired peer is gone: its id waits for a successor (see Router.awaitSuccessor). */
  readonly onRetiredGone: (conn: HubConnection) => void;
}

/**
 * The joined peers, in the order they joined, their comings and goings, and what they are told
 * of one another: joins, leaves, metadata, retirements and the hub's epoch.
 */
export class Roster {
  /** Joined connections, for broadcasts. Changed only by add and unjoin. */
  readonly joined: HubConnection[] = [];
  /** The bridge between hosts, once joined: no member, but told of every member. */
  bridge: HubConnection | undefined;

  constructor(private readonly options: RosterOptions) {}

  /** Every joined peer's record, as a Welcome lists them. */
  records(): PeerRecord[] {
    return this.joined.map((c) => c.record());
  }

  /** Adds a peer that was just granted its id (announce it once it has its Welcome). */
  add(conn: HubConnection): void {
    if (conn.bridge) this.bridge = conn;
    else this.joined.push(conn);
  }

  /** Tells the others that `conn` joined. */
  announceJoin(conn: HubConnection): void {
    if (conn.bridge) return;
    this.toOthers(conn, jsonFrame(FrameType.PeerJoin, { ...conn.record(), hub: conn.local }));
  }

  /** The peer set its metadata; the others hear of it once it has joined. */
  setMeta(conn: HubConnection, meta: unknown): void {
    conn.meta = meta;
    if (conn.state !== ConnectionState.Joined || conn.bridge) return;
    this.toOthers(conn, jsonFrame(FrameType.PeerMeta, { id: conn.id, meta }));
  }

  /**
   * The peer is shutting down: from now on frames for its id wait for its successor (requests
   * are refused at once), and Retired, queued behind everything it was sent, tells it when it
   * has seen the last of them. It keeps its id and may still send (its replies) until it leaves.
   */
  retire(conn: HubConnection): void {
    if (conn.bridge) return;
    if (conn.state === ConnectionState.Joined && !conn.retiring) {
      this.options.log.debug(`hub: peer ${conn.id} (pid ${conn.pid}) retires`);
      conn.retiring = true;
      const notice = { id: conn.id, incarnation: conn.incarnation };
      this.toOthers(conn, jsonFrame(FrameType.PeerRetire, notice));
      if (conn.local) this.options.onLocalRetire(conn);
    }
    this.options.output.send(conn, jsonFrame(FrameType.Retired, {}));
  }

  /**
   * A graceful leave: the peer flushed its own sends and reads what is still on its way. A
   * retiring peer's Leave says what it had consumed when its retirement was confirmed.
   */
  leave(conn: HubConnection, frame: Buffer): void {
    const { ids } = this.options;
    if (conn.retiring && frame.length > HEADER_SIZE) {
      try {
        conn.consumed = readConsumed(readJson<LeaveNotice>(frame).consumed) ?? conn.consumed;
      } catch {
        // An unreadable notice only costs what it would have spared: copies for the successor.
      }
    }
    if (conn.state === ConnectionState.Joined) {
      this.unjoin(conn, 'left');
      // The id stays taken until the connection closes and its unread frames are back on hold.
      ids.markLeaving(conn.id);
    }
    conn.state = ConnectionState.Left;
    ids.stopWaiting(conn);
    clearTimeout(conn.timer);
    this.options.output.send(conn, jsonFrame(FrameType.Bye, {}));
  }

  /**
   * `conn` no longer holds its id: the rest hear it left (said Leave) or was lost (its
   * connection closed).
   */
  unjoin(conn: HubConnection, reason: PeerLeave['reason']): void {
    this.options.ids.vacate(conn);
    if (conn.bridge) {
      if (this.bridge === conn) this.bridge = undefined;
      return;
    }
    const i = this.joined.indexOf(conn);
    if (i >= 0) this.joined.splice(i, 1);
    // A retired peer's id waits for its successor, broadcasts included.
    if (conn.retiring) this.options.onRetiredGone(conn);
    const leave: PeerLeave = { id: conn.id, incarnation: conn.incarnation, reason };
    this.toAll(jsonFrame(FrameType.PeerLeave, leave));
  }

  announceEpoch(epoch: number): void {
    this.toAll(jsonFrame(FrameType.Epoch, { epoch }));
  }

  private toAll(frame: Buffer): void {
    for (const conn of this.joined) this.options.output.send(conn, frame);
    if (this.bridge !== undefined) this.options.output.send(this.bridge, frame);
  }

  private toOthers(except: HubConnection, frame: Buffer): void {
    for (const conn of this.joined) if (conn !== except) this.options.output.send(conn, frame);
    if (this.bridge !== undefined) this.options.output.send(this.bridge, frame);
  }
}
