import type { Log } from '../logger.js';
import { FrameType, jsonFrame } from '../wire/frame.js';
import type { Handover } from '../wire/handshake.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';
import type { OutputBatcher } from './output-batcher.js';
import type { Roster } from './roster.js';

/** How long a closing hub waits for its peers' last receipts. */
const HANDOVER_WAIT_MS = 250;

/**
 * A closing hub's last word to its peers: who should take over, so the next hub is up before
 * the others even probe; on a graceful close, it waits a moment for their last receipts.
 */
export class HubHandover {
  /** Peers yet to answer, while the hub waits for them. */
  private answering: Set<HubConnection> | undefined;
  private answered: (() => void) | undefined;

  constructor(
    private readonly output: OutputBatcher,
    private readonly roster: Roster,
    private readonly log: Log,
  ) {}

  /**
   * Names the successor to every joined connection of `conns`; with `wait`, resolves once each
   * (but the hub's own peer) has answered, or after HANDOVER_WAIT_MS. Resolves with the joined
   * connections that did not answer: what was written to them may have been read unconfirmed.
   */
  async announce(conns: Iterable<HubConnection>, wait: boolean): Promise<Set<HubConnection>> {
    // The successor is the lowest id that is not itself shutting down (PM2 reloads two
    // instances at a time: the next hub should not be the next to go).
    let successor = 0;
    for (const conn of this.roster.joined) {
      if (conn.local || conn.retiring) continue;
      if (successor === 0 || conn.id < successor) successor = conn.id;
    }
    this.log.debug(`hub: closing, handing over to ${successor || 'nobody'}`);
    const notice: Handover = { successor };
    const frame = jsonFrame(FrameType.Handover, notice);
    const answering = new Set<HubConnection>();
    const silent = new Set<HubConnection>();
    for (const conn of conns) {
      if (conn.state !== ConnectionState.Joined) continue;
      this.output.send(conn, frame);
      if (!conn.local && !conn.bridge) answering.add(conn);
      // The hub's own peer and bridge read in this process and close after the hub: they
      // cannot answer.
      else silent.add(conn);
    }
    this.output.flush();
    if (!wait || answering.size === 0) {
      for (const conn of answering) silent.add(conn);
      return silent;
    }
    // Each peer answers with its last receipt: acks for what was read reach the senders
    // before the hub goes, so the next hub is not sent again what was already consumed
    // (which, for an id that changes hands in the meantime, would be a duplicate).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, HANDOVER_WAIT_MS);
      this.answering = answering;
      this.answered = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    for (const conn of answering) silent.add(conn);
    this.answering = undefined;
    this.answered = undefined;
    return silent;
  }

  /** `conn` answered the handover (HandoverDone). */
  answer(conn: HubConnection): void {
    if (this.answering?.delete(conn) && this.answering.size === 0) this.answered?.();
  }
}
