import { isAlive } from '../util/liveness.js';
import type { Log } from '../logger.js';
import { BRIDGE_ID, MAX_PEER_ID } from '../wire/frame.js';
import type { ClaimKind, Reject } from '../wire/handshake.js';
import { isPeerId, readPidNs } from '../wire/join-validation.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';

/** A peer known before a failover, whose id is kept for it while it reconnects. */
export interface ExpectedPeer {
  readonly id: number;
  readonly pid: number;
  /** The PID namespace of `pid` (absent: that of this process). */
  readonly pidNs?: string;
  readonly incarnation: number;
}

export interface IdAllocatorOptions {
  /** Survivors of the previous hub: their ids are reserved for graceMs. */
  readonly expected: readonly ExpectedPeer[];
  readonly graceMs: number;
  /**
   * After a failover or handover: for this long, peers rejoining with their ids are served
   * first, and newcomers (preferred or any id) wait. 0 for none.
   */
  readonly rejoinWindowMs: number;
  readonly log: Log;
  /** Whether a process runs (default: util/liveness's isAlive). */
  readonly isAlive?: (pid: number, pidNs?: string) => boolean;
  /** `conn` has its id (conn.id) and is Joined: welcome it. */
  readonly onGrant: (conn: HubConnection) => void;
  /** `conn` gets no id. */
  readonly onReject: (conn: HubConnection, reject: Reject) => void;
  /**
   * `stale` is an earlier connection of the process now claiming its id again: it broke, and
   * the hub has not seen it close yet. Close it and forget it (its id is free afterwards).
   */
  readonly onReplaced: (stale: HubConnection) => void;
  /** Nobody is expected under `id` any more (its survivor died, or graceMs passed). */
  readonly onReservationDropped: (id: number) => void;
}

/** A newcomer's Join deferred during the rejoin window. */
interface DeferredClaim {
  readonly conn: HubConnection;
  readonly kind: ClaimKind;
  readonly id: number;
  readonly waitMs: number;
}

/** The process that held an id and lost its connection, while its id is kept for it. */
interface KeptId {
  readonly incarnation: number;
  readonly pid: number;
  readonly pidNs: string | undefined;
  readonly until: number;
}

/** How often the reservations of the survivors still expected are checked. */
const RESERVATION_CHECK_MS = 200;

/**
 * Who holds which peer id, and who gets one next. An `explicit` or `rejoin` claim gets its id or
 * is refused; a `preferred` one waits (up to its waitMs) for the id's holder to go; any other
 * gets the lowest id that nobody holds, leaves, waits for, or is expected back under.
 */
export class IdAllocator {
  private readonly byId = new Map<number, HubConnection>();
  /** Who holds each id (joined connections). */
  readonly holders: ReadonlyMap<number, HubConnection> = this.byId;
  private readonly reserved = new Map<number, ExpectedPeer>();
  /** The survivors of the previous hub that are expected back, by id. */
  readonly reservations: ReadonlyMap<number, ExpectedPeer> = this.reserved;
  private readonly reservationsUntil: number;
  private readonly reservationTimer: NodeJS.Timeout;
  /** Connections waiting for their preferred id (conn.wantedId). */
  private readonly waiting = new Set<HubConnection>();
  /** Ids of peers that said Leave but whose connection is still open: not yet free. */
  private readonly leaving = new Set<number>();
  /**
   * Ids of peers whose connection closed while their process lives (cut off as stalled, or it
   * deposed a silent hub): kept for its rejoin until it dies or a deadline passes.
   */
  private readonly kept = new Map<number, KeptId>();
  private keptTimer: NodeJS.Timeout | undefined;
  /** Newcomers' claims deferred during the rejoin window (undefined once it is over). */
  private newcomers: DeferredClaim[] | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private readonly isAlive: (pid: number, pidNs?: string) => boolean;

  constructor(private readonly options: IdAllocatorOptions) {
    this.isAlive = options.isAlive ?? isAlive;
    for (const peer of options.expected) this.reserved.set(peer.id, peer);
    this.reservationsUntil = Date.now() + options.graceMs;
    this.reservationTimer = setInterval(() => this.checkReservations(), RESERVATION_CHECK_MS);
    this.reservationTimer.unref();
    if (options.rejoinWindowMs > 0) {
      this.newcomers = [];
      this.rejoinTimer = setTimeout(() => this.admitNewcomers(), options.rejoinWindowMs);
      this.rejoinTimer.unref();
    }
  }

  /** Stops the timers (the hub is closing). */
  stop(): void {
    clearInterval(this.reservationTimer);
    clearInterval(this.keptTimer);
    clearTimeout(this.rejoinTimer);
  }

  /** Gives `conn` an id now, later, or never, as `kind` asks (see the class comment). */
  claim(conn: HubConnection, kind: ClaimKind, id: number, waitMs: number): void {
    const { log } = this.options;
    if (this.newcomers !== undefined && (kind === 'preferred' || kind === 'none')) {
      // Right after a failover, ids go first to the peers that held them before.
      log.debug(`hub: pid ${conn.pid} waits for the rejoin window (claims ${kind} ${id})`);
      this.newcomers.push({ conn, kind, id, waitMs });
      return;
    }
    if (kind === 'rejoin') {
      // The id was this process's at the previous hub, which grants an id to one live
      // connection at a time: a reservation made from an older view of who held it yields.
      const reservation = this.reserved.get(id);
      if (reservation !== undefined && reservation.incarnation !== conn.incarnation)
        this.reserved.delete(id);
    }
    if (kind === 'explicit' || kind === 'rejoin') {
      if (!isPeerId(id)) {
        return this.options.onReject(conn, {
          reason: 'invalid-id',
          message: `Peer id ${id} is out of range 1..${MAX_PEER_ID}.`,
        });
      }
      const holder = this.byId.get(id);
      if (holder !== undefined && holder.incarnation === conn.incarnation && holder !== conn) {
        this.options.onReplaced(holder);
      }
      if (this.isTaken(id, conn)) {
        return this.options.onReject(conn, {
          reason: 'id-taken',
          id,
          message: `Peer id ${id} is held by a live process of this channel.`,
        });
      }
      return this.grant(conn, id);
    }
    if (kind === 'preferred' && isPeerId(id)) {
      if (!this.isTaken(id, conn)) return this.grant(conn, id);
      // Under PM2 a reloaded instance starts before its predecessor exits; wait for the id.
      log.debug(`hub: pid ${conn.pid} waits for id ${id}`);
      conn.state = ConnectionState.Waiting;
      conn.wantedId = id;
      this.waiting.add(conn);
      conn.timer = setTimeout(() => {
        this.waiting.delete(conn);
        log.warn(`peer id ${id} stayed taken for ${waitMs} ms; giving this process another id`);
        this.grantLowest(conn);
      }, waitMs);
      conn.timer.unref();
      return;
    }
    this.grantLowest(conn);
  }

  /** Gives the bridge (a connection made by Hub.attachBridge) its reserved id, if it is free. */
  grantBridge(conn: HubConnection): void {
    if (this.byId.has(BRIDGE_ID) || this.leaving.has(BRIDGE_ID)) {
      return this.options.onReject(conn, {
        reason: 'id-taken',
        id: BRIDGE_ID,
        message: 'This hub has a bridge already: attach one bridge per hub.',
      });
    }
    this.grant(conn, BRIDGE_ID);
  }

  /** Whether a connection other than `except` waits for `id` (it goes to that one). */
  isWanted(id: number, except?: HubConnection): boolean {
    for (const w of this.waiting) {
      if (w !== except && w.wantedId === id) return true;
    }
    return false;
  }

  /** `conn` waits for an id no more (it left, or its connection closed). */
  stopWaiting(conn: HubConnection): void {
    this.waiting.delete(conn);
  }

  /**
   * `conn`'s connection closed, not by a Leave, and its process lives: for graceMs, or until the
   * process dies, nobody else gets its id, so the process finds it, and what was held for it,
   * when it joins again. A successor waiting for the id (a PM2 reload) waits meanwhile, rather
   * than strand the old process with replies and confirmations it has yet to send.
   */
  keep(conn: HubConnection): void {
    const { id, incarnation, pid, pidNs } = conn;
    this.kept.set(id, { incarnation, pid, pidNs, until: Date.now() + this.options.graceMs });
    if (this.keptTimer === undefined) {
      this.keptTimer = setInterval(() => this.checkKept(), RESERVATION_CHECK_MS);
      this.keptTimer.unref();
    }
  }

  /** `conn` is no longer joined: its id is not held (but see markLeaving and release). */
  vacate(conn: HubConnection): void {
    if (this.byId.get(conn.id) === conn) this.byId.delete(conn.id);
  }

  /** The peer holding `id` said Leave: the id stays taken until its connection closes. */
  markLeaving(id: number): void {
    this.leaving.add(id);
  }

  /**
   * The connection that held `id` closed, and what it left unread is on hold again: the id is
   * free, and goes to a connection waiting for it, if any. `lost`: it closed without a Leave;
   * if its process lives, the id is kept for it first (see keep).
   */
  release(id: number, lost?: HubConnection): void {
    this.leaving.delete(id);
    if (id === 0 || this.byId.has(id)) return;
    if (lost !== undefined && !lost.bridge && this.isAlive(lost.pid, lost.pidNs)) {
      this.keep(lost);
      return;
    }
    if (this.keptFor(id) === undefined) this.grantWaiting(id);
  }

  private grantWaiting(id: number): void {
    for (const w of this.waiting) {
      if (w.wantedId === id) {
        this.grant(w, id);
        return;
      }
    }
  }

  /** Who `id` is kept for, if its process still lives and its time is not up. */
  private keptFor(id: number): KeptId | undefined {
    const kept = this.kept.get(id);
    if (kept === undefined) return undefined;
    if (Date.now() < kept.until && this.isAlive(kept.pid, kept.pidNs)) return kept;
    this.kept.delete(id);
    return undefined;
  }

  /** Ids kept for processes that died or did not come back in time go to who waits for them. */
  private checkKept(): void {
    for (const id of [...this.kept.keys()]) {
      if (this.keptFor(id) === undefined && !this.byId.has(id) && !this.leaving.has(id))
        this.grantWaiting(id);
    }
    if (this.kept.size === 0) {
      clearInterval(this.keptTimer);
      this.keptTimer = undefined;
    }
  }

  /**
   * A rejoining peer says whom it expects back; a new hub that did not know them (it had never
   * joined) keeps their ids, and holds broadcasts for them too, for the rest of graceMs.
   */
  learnExpected(expected: unknown): void {
    if (!Array.isArray(expected) || Date.now() >= this.reservationsUntil) return;
    for (const e of expected as ExpectedPeer[]) {
      if (e === null || typeof e !== 'object' || !isPeerId(e.id)) continue;
      if (this.byId.has(e.id) || this.reserved.has(e.id) || this.leaving.has(e.id)) continue;
      const pidNs = readPidNs(e.pidNs);
      if (!this.isAlive(Number(e.pid), pidNs)) continue;
      this.reserved.set(e.id, {
        id: e.id,
        pid: Number(e.pid),
        pidNs,
        incarnation: Number(e.incarnation) >>> 0,
      });
    }
  }

  private isTaken(id: number, conn: HubConnection): boolean {
    if (this.byId.has(id) || this.leaving.has(id)) return true;
    const kept = this.keptFor(id);
    if (kept !== undefined && kept.incarnation !== conn.incarnation) return true;
    const reservation = this.reserved.get(id);
    if (reservation === undefined || reservation.incarnation === conn.incarnation) return false;
    if (this.isAlive(reservation.pid, reservation.pidNs)) return true;
    this.dropReservation(id);
    return false;
  }

  private grantLowest(conn: HubConnection): void {
    for (let id = 1; id <= MAX_PEER_ID; id++) {
      if (!this.isTaken(id, conn) && !this.isWanted(id, conn)) return this.grant(conn, id);
    }
    this.options.onReject(conn, {
      reason: 'channel-full',
      message: `All ${MAX_PEER_ID} peer ids are taken.`,
    });
  }

  private grant(conn: HubConnection, id: number): void {
    this.waiting.delete(conn);
    clearTimeout(conn.timer);
    conn.wantedId = 0;
    this.reserved.delete(id);
    this.kept.delete(id);
    conn.id = id;
    conn.state = ConnectionState.Joined;
    this.byId.set(id, conn);
    this.options.onGrant(conn);
  }

  /** The rejoin window is over: newcomers are served, in the order they came. */
  private admitNewcomers(): void {
    const deferred = this.newcomers ?? [];
    this.newcomers = undefined;
    for (const d of deferred) {
      if (d.conn.state === ConnectionState.Greeting) this.claim(d.conn, d.kind, d.id, d.waitMs);
    }
  }

  /**
   * Drops the reservations of survivors that died, and all of them once graceMs are over. One
   * that died on its way out (a worker stopped along with a handing-over hub's, say) never
   * rejoins. Checked on a timer, not per frame: reading a process's state costs a syscall.
   */
  private checkReservations(): void {
    const over = Date.now() >= this.reservationsUntil;
    if (over) clearInterval(this.reservationTimer);
    for (const [id, reservation] of this.reserved) {
      if (!over && this.isAlive(reservation.pid, reservation.pidNs)) continue;
      this.dropReservation(id);
    }
  }

  private dropReservation(id: number): void {
    this.reserved.delete(id);
    this.options.onReservationDropped(id);
  }
}
