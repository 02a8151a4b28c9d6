import type { Publication } from '../endpoint/publication.js';
import { Ticker } from '../util/ticker.js';
import { FrameType, controlFrame } from '../wire/frame.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';
import type { OutputBatcher } from './output-batcher.js';

const HEARTBEAT = controlFrame(FrameType.Heartbeat);

export interface HubLivenessOptions {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly stallTimeoutMs: number;
  /** Every open connection. */
  readonly conns: ReadonlySet<HubConnection>;
  readonly output: OutputBatcher;
  /** How peers find this hub (undefined for a hub without one, in tests). */
  readonly publication: Publication | undefined;
  /** `conn` holds the others back or is gone silent: cut it off (`why` is for the log). */
  readonly cut: (conn: HubConnection, why: string) => void;
  /** Another hub took the public name while this process was not running: step down. */
  readonly fenced: () => void;
  /** The bridge stored nothing of what it was written before the last tick (see Router). */
  readonly bridgeBehind: (bridge: HubConnection) => void;
}

/**
 * The hub's side of liveness, one tick per heartbeat interval for all connections:
 * - a connection written nothing since the last tick gets a heartbeat, so its peer can tell a
 *   quiet hub from a hung one (traffic is proof enough: a busy hub sends none);
 * - a joined peer heard from not at all for heartbeatTimeoutMs is cut off: its process is
 *   stopped or its event loop blocked;
 * - a joined peer that had frames pending and confirmed none of them for stallTimeoutMs is cut
 *   off: every broadcast is acked only once all its targets have read it, so one reader that
 *   stopped would otherwise stop every sender's window;
 * - the bridge, never cut off, that has not stored a frame written to it before the last tick is
 *   behind: its frames are reported held to their senders (Router.bridgeBehind).
 * A tick that finds this process itself was not running judges nobody (see Ticker).
 */
export class HubLiveness {
  private readonly ticker: Ticker;
  /** Deposed while its process was not running: the hub writes nothing more. */
  private isFenced = false;
  /** The tick after which mayWrite last looked at the publication. */
  private checkedAfter = 0;

  constructor(private readonly options: HubLivenessOptions) {
    this.ticker = new Ticker(options.heartbeatIntervalMs, (now, resumed) =>
      this.tick(now, resumed),
    );
  }

  stop(): void {
    this.ticker.stop();
  }

  /**
   * Whether the hub may still write. After this process did not run for a while (stopped, or its
   * event loop blocked), its peers may have deposed it and elected another hub; I/O callbacks
   * can run before any timer, so the first flush after such a pause looks at the public name
   * (one lstat). If another hub has it, this one is fenced: it writes nothing it held or routed,
   * and steps down; its own peer joins the new hub.
   */
  mayWrite(): boolean {
    if (this.isFenced) return false;
    return !this.ticker.overdue() || !this.fencedAfterPause();
  }

  /** Whether another hub took the public name; looked at once per pause of this process. */
  private fencedAfterPause(): boolean {
    if (this.isFenced) return true;
    if (this.checkedAfter === this.ticker.lastTick) return false;
    this.checkedAfter = this.ticker.lastTick;
    const pub = this.options.publication;
    if (pub === undefined || !pub.watched || pub.isOurs()) return false;
    this.isFenced = true;
    this.options.fenced();
    return true;
  }

  private tick(now: number, resumed: boolean): void {
    const { conns, output, heartbeatTimeoutMs, stallTimeoutMs } = this.options;
    // Timers can run before I/O callbacks too: the first tick after a pause looks first.
    if (resumed && this.fencedAfterPause()) return;
    const cuts: [HubConnection, string][] = [];
    for (const conn of conns) {
      if (conn.bridge) this.watchBridge(conn, resumed);
      if (conn.local || conn.bridge || conn.state === ConnectionState.Closed) continue;
      if (!conn.spoke) output.send(conn, HEARTBEAT);
      conn.spoke = false;
      if (conn.heard || resumed) {
        conn.heard = false;
        conn.silentSince = now;
      }
      if (conn.pending.length === 0 || conn.receipted !== conn.receiptedAtTick || resumed) {
        conn.receiptedAtTick = conn.receipted;
        conn.stalledSince = now;
      }
      if (conn.state !== ConnectionState.Joined) continue;
      const silentMs = now - conn.silentSince;
      const stalledMs = now - conn.stalledSince;
      if (silentMs >= heartbeatTimeoutMs) {
        cuts.push([conn, `nothing arrived from it for ${silentMs} ms`]);
      } else if (stalledMs >= stallTimeoutMs) {
        cuts.push([
          conn,
          `it read none of ${conn.pending.length} pending frame(s) for ${stalledMs} ms`,
        ]);
      }
    }
    for (const [conn, why] of cuts) this.options.cut(conn, why);
  }

  /**
   * The bridge is never cut off (its receipts wait on the federation store), but a frame written
   * to it before the last tick and still not stored means the store is behind. Not judged after
   * a pause of this process, which held the bridge up too.
   */
  private watchBridge(conn: HubConnection, resumed: boolean): void {
    const behind = conn.receipted < conn.writtenAtTick;
    conn.writtenAtTick = conn.receipted + conn.pending.length;
    if (behind && !resumed && conn.state === ConnectionState.Joined)
      this.options.bridgeBehind(conn);
  }
}
