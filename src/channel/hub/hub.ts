import type { Socket } from 'node:net';
import { isAlive } from '../election/liveness.js';
import type { HubListener } from '../endpoint/endpoint.js';
import { IpcChannelError, MalformedFrameError, ProtocolError } from '../errors.js';
import {
  DATA_MIN,
  FrameFlag,
  FrameType,
  MAX_PEER_ID,
  OFF_FLAGS,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  PROTOCOL_VERSION,
  TARGET_ALL,
  TARGET_OTHERS,
  jsonFrame,
  rangesFrame,
  readCount,
  readJson,
  readSeq,
  readTarget,
} from '../wire/frame.js';
import {
  type ClaimKind,
  type Fault,
  type HubHello,
  type JoinRequest,
  type Reject,
  type Welcome,
  isDirectAddress,
  joinProof,
  newNonce,
  proofsMatch,
  welcomeProof,
} from '../wire/handshake.js';
import { HoldQueues } from './hold-queues.js';
import { ConnectionState, type DeliveryRecord, HubConnection } from './hub-connection.js';
import type { Log } from '../logger.js';
import type { Publication } from '../endpoint/publication.js';
import type { FrameDuplex } from '../io/frame-duplex.js';
import { InProcessDuplex } from '../io/in-process-duplex.js';
import { SocketDuplex } from '../io/socket-duplex.js';

/** A peer known before a failover, whose id is kept for it while it reconnects. */
export interface ExpectedPeer {
  readonly id: number;
  readonly pid: number;
  readonly incarnation: number;
}

export interface HubOptions {
  readonly name: string;
  readonly codec: string;
  readonly secret: Buffer | undefined;
  readonly maxFrameBytes: number;
  readonly graceMs: number;
  readonly preferredIdWaitMs: number;
  readonly maxHeldBytes: number;
  readonly handshakeTimeoutMs: number;
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
}

/** Acks alone wait for this many, or this long (see flush). */
const ACK_BATCH = 512;
const ACK_DELAY_MS = 1;
/** How long a closing hub waits for its peers' last receipts. */
const HANDOVER_WAIT_MS = 250;
/** How often the hub checks that the public socket (or endpoint) file is still its own. */
const WATCHDOG_MS = 1000;
/** How often the hub checks that the survivors it still expects are alive. */
const RESERVATION_CHECK_MS = 200;

/**
 * The hub role: grants ids, keeps membership, routes data frames by their header, and holds
 * frames for absent peers. It never decodes a data payload.
 *
 * Delivery is confirmed end to end: a peer receipts the data frames it has read, and only when
 * every target of a frame has read it does the sender get its ack. A sender keeps each frame
 * until then, so a hub that dies loses nothing that its successor will not be sent again.
 */
export class Hub {
  private readonly conns = new Set<HubConnection>();
  private readonly byId = new Map<number, HubConnection>();
  /** Joined connections, for broadcasts. */
  private joined: HubConnection[] = [];
  private readonly reserved = new Map<number, ExpectedPeer>();
  private readonly waiting = new Set<HubConnection>();
  /** Ids of peers that said Leave but whose connection is still open: not yet free. */
  private readonly leaving = new Set<number>();
  /**
   * Ids whose holder retired and is gone, until a successor takes the id or graceMs pass
   * (a PM2 reload): broadcasts are held for the successor, as unicasts are.
   */
  private readonly handover = new Map<number, number>();
  private readonly holds: HoldQueues;
  private dirty: HubConnection[] = [];
  private flushScheduled = false;
  private readonly ackWaiters = new Set<HubConnection>();
  private ackTimer: NodeJS.Timeout | undefined;
  /** Sockets accepted before the hub's own peer has joined; served right after. */
  private backlog: Socket[] | undefined = [];
  private watchdog: NodeJS.Timeout | undefined;
  private reservationTimer: NodeJS.Timeout | undefined;
  private reservationsUntil = 0;
  /** Newcomers' joins deferred during the rejoin window (undefined once it is over). */
  private newcomers:
    { conn: HubConnection; kind: ClaimKind; id: number; waitMs: number }[] | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly closing: Promise<void>[] = [];
  /** Peers yet to answer a graceful handover. */
  private handoverAnswers: { waiting: Set<HubConnection>; done: () => void } | undefined;
  /** The id of the hub process's own peer, once it has joined. */
  selfId = 0;
  /**
   * The leadership epoch: above every epoch any peer of this hub has seen, so that each hub's
   * leader is told apart from every earlier one (a fencing token).
   */
  epoch: number;

  constructor(
    private readonly server: HubListener | undefined,
    private readonly publication: Publication | undefined,
    private readonly options: HubOptions,
    /** Called when the hub stops on its own (its socket file was replaced). */
    private readonly onStepDown: () => void = () => {},
  ) {
    this.holds = new HoldQueues(options.graceMs, options.maxHeldBytes, (record) =>
      this.expire(record),
    );
    this.epoch = options.firstEpoch?.() ?? 1;
    for (const peer of options.expected) this.reserved.set(peer.id, peer);
    this.reservationsUntil = Date.now() + options.graceMs;
    this.reservationTimer = setInterval(() => this.checkReservations(), RESERVATION_CHECK_MS);
    this.reservationTimer.unref();
    const window = options.rejoinWindowMs ?? 0;
    if (window > 0) {
      this.newcomers = [];
      this.rejoinTimer = setTimeout(() => this.admitNewcomers(), window);
      this.rejoinTimer.unref();
    }
    if (server) {
      server.on('connection', (socket) => this.accept(socket));
      server.on('error', (e) => options.log.error('hub server error', e));
    }
    if (publication?.watched) {
      this.watchdog = setInterval(() => this.checkPublication(), WATCHDOG_MS);
      this.watchdog.unref();
    }
  }

  /** Connects the hub process's own peer; returns the peer's end of the in-process pair. */
  attachLocal(): FrameDuplex {
    const [hubEnd, peerEnd] = InProcessDuplex.pair();
    this.addConnection(hubEnd, true);
    return peerEnd;
  }

  get peerCount(): number {
    return this.joined.length;
  }

  /** Whether the hub is closing or closed (it no longer serves, nor leads). */
  get stopped(): boolean {
    return this.closed;
  }

  /**
   * Whether the channel's public socket file is this hub's at this moment. False once another
   * hub replaced it, and while it is missing (another process could bind one meanwhile): the
   * watchdog notices either within a second, but a leader check must not wait for it.
   */
  ownsPublication(): boolean {
    if (this.closed) return false;
    return this.publication === undefined || this.publication.isOurs();
  }

  /**
   * Closes the hub and tells the peers which of them should take over (the lowest id), so the
   * next hub is up before the others even probe. Peers re-send whatever was not confirmed.
   */
  async close(): Promise<void> {
    await this.shutDown(true);
  }

  private async shutDown(handover: boolean): Promise<void> {
    if (this.closed) {
      await Promise.all(this.closing);
      return;
    }
    this.closed = true;
    this.options.onStop?.();
    clearInterval(this.watchdog);
    clearTimeout(this.ackTimer);
    clearInterval(this.reservationTimer);
    clearTimeout(this.rejoinTimer);
    this.holds.clear();
    if (handover) this.publication?.unpublish();
    this.server?.close();
    this.publication?.dispose();
    for (const socket of this.backlog ?? []) socket.destroy();
    this.backlog = undefined;

    // The successor is the lowest id that is not itself shutting down (PM2 reloads two
    // instances at a time: the next hub should not be the next to go).
    let successor = 0;
    for (const conn of this.joined) {
      if (conn.local || conn.retiring) continue;
      if (successor === 0 || conn.id < successor) successor = conn.id;
    }
    this.options.log.debug(`hub: closing, handing over to ${successor || 'nobody'}`);
    const answering = new Set<HubConnection>();
    for (const conn of this.conns) {
      clearTimeout(conn.timer);
      if (conn.state === ConnectionState.Joined) {
        this.send(conn, jsonFrame(FrameType.Handover, { successor }));
        if (!conn.local) answering.add(conn);
      }
    }
    this.flush();
    if (handover && answering.size > 0) {
      // Each peer answers with its last receipt: acks for what was read reach the senders
      // before the hub goes, so the next hub is not sent again what was already consumed
      // (which, for an id that changes hands in the meantime, would be a duplicate).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, HANDOVER_WAIT_MS);
        this.handoverAnswers = {
          waiting: answering,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
      this.handoverAnswers = undefined;
      this.flush(true);
    }
    for (const conn of [...this.conns]) {
      this.closing.push(
        new Promise<void>((resolve) => {
          if (conn.transport.closed) return resolve();
          const previous = conn.transport.onClose;
          const force = setTimeout(() => conn.transport.destroy(), 1000);
          conn.transport.onClose = (e) => {
            clearTimeout(force);
            previous(e);
            resolve();
          };
          conn.transport.end();
        }),
      );
    }
    await Promise.all(this.closing);
  }

  /**
   * Someone removed our public file (a /tmp cleaner) or replaced it (a second hub after a race
   * no lock can fully exclude). The publication re-publishes in the first case; step down in
   * the second so the channel converges on one hub.
   */
  private checkPublication(): void {
    const pub = this.publication!;
    const state = pub.check();
    if (state === 'republished') {
      this.options.log.warn(
        `the channel endpoint ${pub.path} had been removed; published it again`,
      );
    } else if (state === 'replaced') {
      this.options.log.warn(`another hub took over ${pub.path}; this process steps down as hub`);
      void this.shutDown(false).then(this.onStepDown);
    }
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (this.backlog !== undefined) {
      socket.on('error', () => {});
      this.backlog.push(socket);
      return;
    }
    this.addConnection(new SocketDuplex(socket, this.options.maxFrameBytes), false);
  }

  private openToSockets(): void {
    const backlog = this.backlog;
    if (backlog === undefined) return;
    this.backlog = undefined;
    for (const socket of backlog) {
      if (!socket.destroyed) this.accept(socket);
    }
  }

  private addConnection(transport: FrameDuplex, local: boolean): void {
    const conn = new HubConnection(transport, local, newNonce());
    this.conns.add(conn);
    transport.onFrames = (frames) => this.receive(conn, frames);
    transport.onClose = (error) => this.closed || this.drop(conn, error);
    transport.onFault = (error) => this.fault(conn, error);
    const hello: HubHello = {
      protocol: PROTOCOL_VERSION,
      name: this.options.name,
      codec: this.options.codec,
      nonce: conn.nonce,
      secured: this.options.secret !== undefined,
    };
    this.send(
      conn,
      jsonFrame(FrameType.HubHello, { ...hello, maxFrameBytes: this.options.maxFrameBytes }),
    );
    if (!local) {
      const timeout = new ProtocolError(
        'ERR_IPC_HANDSHAKE_TIMEOUT',
        'no Join within the handshake timeout',
      );
      conn.timer = setTimeout(() => this.fault(conn, timeout), this.options.handshakeTimeoutMs);
      conn.timer.unref();
    }
    this.scheduleFlush();
  }

  private receive(conn: HubConnection, frames: Buffer[]): void {
    if (this.closed) {
      this.receiveWhileClosing(conn, frames);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      if (conn.state === ConnectionState.Closed) break;
      const frame = frames[i]!;
      const type = frame[OFF_TYPE]!;
      if (type >= DATA_MIN) {
        if (type !== FrameType.Message && type !== FrameType.Event) {
          this.fault(conn, new MalformedFrameError(`unknown data frame type ${type}`));
        } else if (conn.state === ConnectionState.Joined) {
          this.route(conn, frame);
        } else if (conn.state !== ConnectionState.Left) {
          this.fault(
            conn,
            new ProtocolError('ERR_IPC_PROTOCOL', 'data frame before the peer joined'),
          );
        }
        continue;
      }
      switch (type) {
        case FrameType.Receipt:
          this.receipt(conn, readCount(frame));
          break;
        case FrameType.Join:
          this.join(conn, frame);
          break;
        case FrameType.SetMeta:
          this.setMeta(conn, frame);
          break;
        case FrameType.Leave:
          this.leave(conn);
          break;
        case FrameType.Retire:
          this.retire(conn);
          break;
        case FrameType.HandoverDone:
          break; // only meaningful while closing
        default:
          this.fault(conn, new MalformedFrameError(`unexpected frame type ${type}`));
      }
    }
    this.scheduleFlush();
  }

  /**
   * A closing hub delivers nothing and grants nothing: its hold queues are gone, so a frame it
   * delivered now could overtake older ones waiting to be resent, and a receiver would then drop
   * those as copies. It only takes the peers' last receipts (to ack what was read) and their
   * answers to the handover; anything else is unacked and goes, in order, to the next hub.
   */
  private receiveWhileClosing(conn: HubConnection, frames: Buffer[]): void {
    for (const frame of frames) {
      const type = frame[OFF_TYPE];
      if (type === FrameType.Receipt) {
        this.receipt(conn, readCount(frame));
      } else if (type === FrameType.HandoverDone) {
        const answers = this.handoverAnswers;
        if (answers !== undefined && answers.waiting.delete(conn) && answers.waiting.size === 0) {
          answers.done();
        }
      }
    }
  }

  // ---- routing -----------------------------------------------------------------------------

  private route(from: HubConnection, frame: Buffer): void {
    // Both halves of the sender's identity come from its Join, never from the frame: receivers
    // dedup by incarnation, so a forged one could make them drop another peer's frames.
    frame.writeUInt16LE(from.id, OFF_SENDER);
    frame.writeUInt32LE(from.incarnation, OFF_INC);
    const target = readTarget(frame);
    const seq = readSeq(frame);
    if (target === TARGET_ALL || target === TARGET_OTHERS) {
      // `remaining` starts at 1 so the record cannot settle while targets are still being added.
      const record: DeliveryRecord = {
        from,
        seq,
        frame,
        copied: false,
        heldNotified: false,
        remaining: 1,
        target: 0,
        noHold: false,
      };
      const joined = this.joined;
      for (let i = 0; i < joined.length; i++) {
        const conn = joined[i]!;
        if (target === TARGET_OTHERS && conn === from) continue;
        if (conn.retiring) {
          // Shutting down: whoever takes the id next gets it, unless this process read it
          // before a failover (a sender's resend).
          if (this.wasConsumed(conn, frame) || !this.holdsForSuccessor(conn.id, from)) continue;
          record.remaining++;
          this.holdOrGiveUp(conn.id, record, false);
          continue;
        }
        record.remaining++;
        this.deliver(conn, record);
      }
      for (const id of this.reserved.keys()) {
        if (this.byId.has(id)) continue;
        record.remaining++;
        this.holdOrGiveUp(id, record, false);
      }
      if (this.handover.size > 0) this.holdForSuccessors(record, target === TARGET_OTHERS);
      this.settle(record);
      return;
    }
    if (target === 0 || target > MAX_PEER_ID) {
      this.fault(from, new MalformedFrameError(`invalid target ${target}`));
      return;
    }
    const noHold = (frame[OFF_FLAGS]! & FrameFlag.NoHold) !== 0;
    const record: DeliveryRecord = {
      from,
      seq,
      frame,
      copied: false,
      heldNotified: false,
      remaining: 1,
      target,
      noHold,
    };
    const conn = this.byId.get(target);
    if (conn !== undefined && (!conn.retiring || toProcess(record))) this.deliver(conn, record);
    else if (conn !== undefined && this.wasConsumed(conn, frame)) this.settle(record);
    else if (noHold && conn !== undefined) this.giveUp(record, 'peer-retiring');
    else if (noHold && !this.reserved.has(target)) this.giveUp(record, 'peer-absent');
    // Absent, or shutting down: the next process to hold the id gets it.
    else this.holdOrGiveUp(target, record, false);
  }

  /** Holds a broadcast for each id whose retired holder left and whose successor is not here yet. */
  private holdForSuccessors(record: DeliveryRecord, others: boolean): void {
    const now = Date.now();
    for (const [id, until] of this.handover) {
      if (until <= now) {
        this.handover.delete(id);
        continue;
      }
      if (this.byId.has(id) || this.reserved.has(id) || (others && id === record.from.id)) continue;
      if (!this.holdsForSuccessor(id, record.from)) continue;
      record.remaining++;
      this.holdOrGiveUp(id, record, false);
    }
  }

  /**
   * Whether a broadcast from `from` waits for the successor of a retired id. Not when it comes
   * from the hub's own process while that closes, unless a successor already waits for the id:
   * what the hub holds goes with it, and holding it for a successor that may never come
   * (`pm2 scale` down) would hold the process's close up for graceMs, past PM2's kill_timeout,
   * turning a handover into a crash.
   */
  private holdsForSuccessor(id: number, from: HubConnection): boolean {
    return !(from.local && from.retiring) || this.isWanted(id, from);
  }

  /**
   * The hub's own process started closing: its broadcasts held for successors that are not
   * waiting yet are let go (see holdsForSuccessor). Messages to an absent id still wait.
   */
  private releaseOwnBroadcasts(local: HubConnection): void {
    const mine = (r: DeliveryRecord) => r.target === 0 && r.from === local;
    for (const id of this.holds.targets()) {
      if (this.reserved.has(id) || this.holdsForSuccessor(id, local)) continue;
      for (const record of this.holds.remove(id, mine)) this.settle(record);
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
    let dropped = false;
    for (const [id, reservation] of this.reserved) {
      if (!over && isAlive(reservation.pid)) continue;
      this.dropReservation(id);
      dropped = true;
    }
    if (dropped) this.scheduleFlush();
  }

  /**
   * Nobody is expected under this id any more: requests held for it (hold: false) are refused,
   * while messages still wait their graceMs for whoever takes the id next.
   */
  private dropReservation(id: number): void {
    this.reserved.delete(id);
    for (const record of this.holds.remove(id, (r) => r.noHold)) this.giveUp(record, 'peer-absent');
  }

  /** Whether a retiring peer said it had already read this frame (a sender's resend). */
  private wasConsumed(conn: HubConnection, frame: Buffer): boolean {
    const last = conn.consumed?.get(frame.readUInt32LE(OFF_INC));
    return last !== undefined && readSeq(frame) <= last;
  }

  private deliver(conn: HubConnection, record: DeliveryRecord): void {
    if (record.frame.length > conn.maxFrameBytes) {
      // Its reader would fault on it and reconnect, to be handed the same frame again.
      if (record.target !== 0) {
        this.giveUp(record, 'frame-too-large');
      } else {
        this.options.log.warn(
          `hub: peer ${conn.id} did not get a ${record.frame.length}-byte broadcast from peer ${record.from.id}: it reads frames up to its maxFrameBytes (${conn.maxFrameBytes}). Give every process the same maxFrameBytes.`,
        );
        this.settle(record);
      }
      return;
    }
    conn.out.push(record.frame);
    conn.pending.push(record);
    this.markDirty(conn);
  }

  private receipt(conn: HubConnection, count: number): void {
    const n = count - conn.receipted;
    if (!(n > 0)) return;
    conn.receipted = count;
    conn.shiftPending(n, (record) => this.settle(record));
  }

  /** One target has the frame; when all have, the sender gets its ack. */
  private settle(record: DeliveryRecord): void {
    if (--record.remaining !== 0) return;
    const from = record.from;
    if (from.state === ConnectionState.Closed) return;
    from.acks.push(record.seq);
    this.markDirty(from);
  }

  private giveUp(record: DeliveryRecord, reason: string): void {
    record.remaining = 0;
    const from = record.from;
    if (from.state === ConnectionState.Closed) return;
    from.addNack(reason, record.seq);
    this.markDirty(from);
  }

  private holdOrGiveUp(target: number, record: DeliveryRecord, front: boolean): void {
    const ok = front ? this.holds.holdFront(target, record) : this.holds.hold(target, record);
    if (!ok) {
      if (record.target !== 0) this.giveUp(record, 'hold-full');
      else this.settle(record);
      return;
    }
    // Tell the sender once, so the frame stops counting against its window.
    const from = record.from;
    if (record.heldNotified || from.state === ConnectionState.Closed) return;
    record.heldNotified = true;
    from.held.push(record.seq);
    this.markDirty(from);
  }

  private expire(record: DeliveryRecord): void {
    this.options.log.debug(`hub: a frame held for ${record.target || 'a broadcast'} expired`);
    if (record.target !== 0) this.giveUp(record, 'grace-expired');
    else this.settle(record);
    this.scheduleFlush();
  }

  // ---- membership --------------------------------------------------------------------------

  private join(conn: HubConnection, frame: Buffer): void {
    if (conn.state !== ConnectionState.Greeting) {
      this.fault(conn, new ProtocolError('ERR_IPC_PROTOCOL', 'a second Join on one connection'));
      return;
    }
    let req: JoinRequest;
    try {
      req = readJson<JoinRequest>(frame);
    } catch {
      this.fault(conn, new MalformedFrameError('Join is not JSON'));
      return;
    }
    if (typeof req !== 'object' || req === null || typeof req.incarnation !== 'number') {
      this.fault(conn, new MalformedFrameError('Join lacks its fields'));
      return;
    }
    clearTimeout(conn.timer);
    const { name, codec, secret } = this.options;
    if (req.protocol !== PROTOCOL_VERSION) {
      return this.reject(conn, {
        reason: 'protocol-mismatch',
        message: `The hub speaks protocol ${PROTOCOL_VERSION}, this process speaks ${String(req.protocol)}: every process of a channel must run a compatible nestjs-ipc-channel. Restart them all on one version.`,
      });
    }
    if (req.name !== name) {
      return this.reject(conn, {
        reason: 'name-mismatch',
        message: `The socket belongs to channel '${name}', not '${String(req.name)}'. Use another 'dir' for this channel.`,
      });
    }
    if (req.codec !== codec) {
      return this.reject(conn, {
        reason: 'codec-mismatch',
        message: `Channel '${name}' uses the '${codec}' codec but this process uses '${String(req.codec)}'. Every process of a channel must use the same codec.`,
      });
    }
    if (secret !== undefined && !proofsMatch(joinProof(secret, conn.nonce, name), req.proof)) {
      return this.reject(conn, {
        reason: 'auth-failed',
        message: `Channel '${name}' requires a secret, and this process ${req.proof === undefined ? 'gave none' : 'gave a different one'}. Pass the same 'secret' option to every process.`,
      });
    }
    conn.incarnation = req.incarnation >>> 0;
    if (req.kind !== 'rejoin' && this.incarnationInUse(conn)) {
      // Incarnations are random per process; only the same process rejoining may reuse one.
      return this.reject(conn, {
        reason: 'incarnation-taken',
        message: `Another peer of channel '${name}' already uses incarnation ${conn.incarnation}: a process may join only once.`,
      });
    }
    conn.pid = Number(req.pid) || 0;
    // A process that was retiring when its hub went away stays retiring here, from the start:
    // what the hub holds for its id is for its successor.
    conn.retiring = req.retiring === true;
    if (conn.retiring && Array.isArray(req.consumed)) {
      conn.consumed = new Map();
      for (const pair of req.consumed) {
        if (Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'number') {
          conn.consumed.set(pair[0] >>> 0, pair[1]);
        }
      }
    }
    conn.meta = req.meta ?? null;
    conn.direct = isDirectAddress(req.direct) ? req.direct : undefined;
    const limit = Number(req.maxFrameBytes);
    if (limit > 0) conn.maxFrameBytes = limit;
    (conn as { peerNonce?: string }).peerNonce = typeof req.nonce === 'string' ? req.nonce : '';
    if (req.kind === 'rejoin') this.learnExpected(req.expected);
    if (Number.isSafeInteger(req.epoch) && req.epoch! >= this.epoch) this.raiseEpoch(req.epoch!);
    const waitMs = Number(req.waitMs);
    this.claim(
      conn,
      req.kind,
      Number(req.claim) || 0,
      waitMs > 0 ? waitMs : this.options.preferredIdWaitMs,
    );
    if (conn.local) this.openToSockets();
  }

  private incarnationInUse(conn: HubConnection): boolean {
    for (const other of this.conns) {
      const live =
        other.state === ConnectionState.Joined || other.state === ConnectionState.Waiting;
      if (other !== conn && live && other.incarnation === conn.incarnation) return true;
    }
    return false;
  }

  /**
   * A peer has seen an epoch this hub has not: its process had not heard of the last hubs (it
   * had never joined, or lagged behind a failover). Leadership must still be told apart from
   * every earlier one, so the epoch goes above it and every peer hears of it.
   */
  private raiseEpoch(seen: number): void {
    this.epoch = seen + 1;
    this.options.log.debug(`hub: a peer had seen epoch ${seen}; epoch is now ${this.epoch}`);
    const notice = jsonFrame(FrameType.Epoch, { epoch: this.epoch });
    for (const conn of this.joined) this.send(conn, notice);
  }

  /** The rejoin window is over: newcomers are served, in the order they came. */
  private admitNewcomers(): void {
    const waiting = this.newcomers ?? [];
    this.newcomers = undefined;
    for (const w of waiting) {
      if (w.conn.state === ConnectionState.Greeting) this.claim(w.conn, w.kind, w.id, w.waitMs);
    }
    this.scheduleFlush();
  }

  /**
   * A rejoining peer says whom it expects back; a new hub that did not know them (it had never
   * joined) keeps their ids and holds broadcasts for them too, for the rest of graceMs.
   */
  private learnExpected(expected: unknown): void {
    if (!Array.isArray(expected) || Date.now() >= this.reservationsUntil) return;
    for (const e of expected as ExpectedPeer[]) {
      if (e === null || typeof e !== 'object' || !Number.isInteger(e.id)) continue;
      if (this.byId.has(e.id) || this.reserved.has(e.id) || this.leaving.has(e.id)) continue;
      if (e.id < 1 || e.id > MAX_PEER_ID || !isAlive(Number(e.pid))) continue;
      this.reserved.set(e.id, {
        id: e.id,
        pid: Number(e.pid),
        incarnation: Number(e.incarnation) >>> 0,
      });
    }
  }

  private claim(conn: HubConnection, kind: ClaimKind, id: number, waitMs: number): void {
    if (this.newcomers !== undefined && (kind === 'preferred' || kind === 'none')) {
      // Right after a failover, ids go first to the peers that held them before.
      this.options.log.debug(
        `hub: pid ${conn.pid} waits for the rejoin window (claims ${kind} ${id})`,
      );
      this.newcomers.push({ conn, kind, id, waitMs });
      return;
    }
    const valid = Number.isInteger(id) && id >= 1 && id <= MAX_PEER_ID;
    if (kind === 'rejoin') {
      // The id was this process's at the previous hub, which grants an id to one live
      // connection at a time: a reservation made from an older view of who held it yields.
      const reservation = this.reserved.get(id);
      if (reservation !== undefined && reservation.incarnation !== conn.incarnation)
        this.reserved.delete(id);
    }
    if (kind === 'explicit' || kind === 'rejoin') {
      if (!valid) {
        return this.reject(conn, {
          reason: 'invalid-id',
          message: `Peer id ${id} is out of range 1..${MAX_PEER_ID}.`,
        });
      }
      const holder = this.byId.get(id);
      if (holder !== undefined && holder.incarnation === conn.incarnation && holder !== conn) {
        // The same process again: its old connection broke and we have not seen it close yet.
        holder.transport.destroy();
        this.drop(holder);
      }
      if (this.isTaken(id, conn)) {
        return this.reject(conn, {
          reason: 'id-taken',
          id,
          message: `Peer id ${id} is held by a live process of this channel.`,
        });
      }
      return this.grant(conn, id);
    }
    if (kind === 'preferred' && valid) {
      if (!this.isTaken(id, conn)) return this.grant(conn, id);
      // Under PM2 a reloaded instance starts before its predecessor exits; wait for the id.
      this.options.log.debug(`hub: pid ${conn.pid} waits for id ${id}`);
      conn.state = ConnectionState.Waiting;
      (conn as { wanted?: number }).wanted = id;
      this.waiting.add(conn);
      conn.timer = setTimeout(() => {
        this.waiting.delete(conn);
        this.options.log.warn(
          `peer id ${id} stayed taken for ${waitMs} ms; giving this process another id`,
        );
        this.grantLowest(conn);
      }, waitMs);
      conn.timer.unref();
      return;
    }
    this.grantLowest(conn);
  }

  private isTaken(id: number, conn: HubConnection): boolean {
    if (this.byId.has(id) || this.leaving.has(id)) return true;
    const reservation = this.reserved.get(id);
    if (reservation === undefined || reservation.incarnation === conn.incarnation) return false;
    if (isAlive(reservation.pid)) return true;
    this.dropReservation(id);
    return false;
  }

  private grantLowest(conn: HubConnection): void {
    for (let id = 1; id <= MAX_PEER_ID; id++) {
      if (!this.isTaken(id, conn) && !this.isWanted(id, conn)) return this.grant(conn, id);
    }
    this.reject(conn, {
      reason: 'channel-full',
      message: `All ${MAX_PEER_ID} peer ids are taken.`,
    });
  }

  /** An id another connection is waiting for should go to it, not to a newcomer. */
  private isWanted(id: number, conn: HubConnection): boolean {
    for (const w of this.waiting) {
      if (w !== conn && (w as { wanted?: number }).wanted === id) return true;
    }
    return false;
  }

  private grant(conn: HubConnection, id: number): void {
    this.waiting.delete(conn);
    clearTimeout(conn.timer);
    this.reserved.delete(id);
    if (!conn.retiring) this.handover.delete(id);
    conn.id = id;
    conn.state = ConnectionState.Joined;
    this.byId.set(id, conn);
    this.joined.push(conn);
    if (conn.local) this.selfId = id;

    const welcome: Welcome = {
      id,
      hubId: this.selfId,
      hubPid: process.pid,
      peers: this.joined.map((c) => c.record()),
      epoch: this.epoch,
    };
    const secret = this.options.secret;
    if (secret !== undefined) {
      welcome.proof = welcomeProof(
        secret,
        (conn as { peerNonce?: string }).peerNonce ?? '',
        this.options.name,
      );
    }
    this.send(conn, jsonFrame(FrameType.Welcome, welcome));
    const announcement = jsonFrame(FrameType.PeerJoin, { ...conn.record(), hub: conn.local });
    for (const other of this.joined) if (other !== conn) this.send(other, announcement);
    // A retiring process rejoining after a failover gets only the answers to its own requests
    // that waited for it; the rest waits for its successor.
    const held = conn.retiring ? this.holds.remove(id, toProcess) : this.holds.release(id);
    for (const record of held) this.deliver(conn, record);
    // What a retiring peer already read (resent by senders after a failover) is delivered.
    if (conn.consumed !== undefined) {
      for (const record of this.holds.remove(id, (r) => this.wasConsumed(conn, r.frame)))
        this.settle(record);
    }
    this.options.log.debug(
      `hub: granted id ${id} to pid ${conn.pid}${held.length > 0 ? `, with ${held.length} held frame(s)` : ''}${this.closed ? ' (hub closing)' : ''}`,
    );
  }

  private setMeta(conn: HubConnection, frame: Buffer): void {
    let meta: unknown;
    try {
      meta = readJson(frame);
    } catch {
      this.fault(conn, new MalformedFrameError('SetMeta is not JSON'));
      return;
    }
    conn.meta = meta;
    if (conn.state !== ConnectionState.Joined) return;
    const update = jsonFrame(FrameType.PeerMeta, { id: conn.id, meta });
    for (const other of this.joined) if (other !== conn) this.send(other, update);
  }

  /**
   * The peer is shutting down: from now on frames for its id wait for its successor (requests
   * are refused at once), and Drained, queued behind everything it was sent, tells it when it
   * has seen the last of them. It keeps its id and may still send (its replies) until it leaves.
   */
  private retire(conn: HubConnection): void {
    if (conn.state === ConnectionState.Joined && !conn.retiring) {
      this.options.log.debug(`hub: peer ${conn.id} (pid ${conn.pid}) retires`);
      conn.retiring = true;
      const notice = jsonFrame(FrameType.PeerRetire, {
        id: conn.id,
        incarnation: conn.incarnation,
      });
      for (const other of this.joined) if (other !== conn) this.send(other, notice);
      if (conn.local) this.releaseOwnBroadcasts(conn);
    }
    this.send(conn, jsonFrame(FrameType.Retired, {}));
  }

  /** A graceful leave: the peer flushed its own sends and reads what is still on its way. */
  private leave(conn: HubConnection): void {
    if (conn.state === ConnectionState.Joined) {
      this.removeJoined(conn);
      this.announceLeave(conn, 'left');
      // The id stays taken until the connection closes and its unread frames are back on hold.
      this.leaving.add(conn.id);
    }
    conn.state = ConnectionState.Left;
    this.waiting.delete(conn);
    clearTimeout(conn.timer);
    this.send(conn, jsonFrame(FrameType.Bye, {}));
  }

  private drop(conn: HubConnection, error?: Error): void {
    if (conn.state === ConnectionState.Closed) return;
    const was = conn.state;
    conn.state = ConnectionState.Closed;
    this.conns.delete(conn);
    this.waiting.delete(conn);
    clearTimeout(conn.timer);
    if (was === ConnectionState.Joined) {
      this.removeJoined(conn);
      this.announceLeave(conn, 'lost');
    }
    if (error instanceof IpcChannelError) {
      this.options.log.warn(
        `closed the connection of peer ${conn.id || '(not joined)'}: ${error.message}`,
      );
      this.options.onFault?.(error, conn.id);
    }
    // Frames written to it but never read go back on hold, ahead of anything held since, so the
    // next holder of the id reads them in order.
    const unread = conn.takeAllPending();
    this.options.log.debug(
      `hub: connection of peer ${conn.id || '-'} (pid ${conn.pid}, ${was}) closed; ${unread.length} frame(s) unread`,
    );
    for (let i = unread.length - 1; i >= 0; i--) {
      const record = unread[i]!;
      if (record.target === 0) this.settle(record);
      else if (record.noHold) this.giveUp(record, 'peer-left');
      else this.holdOrGiveUp(record.target, record, true);
    }
    if (was === ConnectionState.Left) this.leaving.delete(conn.id);
    if (was === ConnectionState.Joined || was === ConnectionState.Left) this.grantWaiter(conn.id);
    this.scheduleFlush();
  }

  private grantWaiter(id: number): void {
    if (id === 0 || this.byId.has(id)) return;
    for (const w of this.waiting) {
      if ((w as { wanted?: number }).wanted === id) {
        this.grant(w, id);
        return;
      }
    }
  }

  private removeJoined(conn: HubConnection): void {
    if (this.byId.get(conn.id) === conn) this.byId.delete(conn.id);
    const i = this.joined.indexOf(conn);
    if (i >= 0) this.joined.splice(i, 1);
    // A retired peer's id waits for its successor, broadcasts included (see holdForSuccessors).
    if (conn.retiring) this.handover.set(conn.id, Date.now() + this.options.graceMs);
  }

  private announceLeave(conn: HubConnection, reason: 'left' | 'lost'): void {
    const frame = jsonFrame(FrameType.PeerLeave, {
      id: conn.id,
      incarnation: conn.incarnation,
      reason,
    });
    for (const other of this.joined) this.send(other, frame);
  }

  private reject(conn: HubConnection, reject: Reject): void {
    this.options.log.warn(`refused a peer: ${reject.message}`);
    this.send(conn, jsonFrame(FrameType.Reject, reject));
    this.flush();
    conn.state = ConnectionState.Left;
    conn.transport.end();
  }

  /** Closes one connection for what it sent; everyone else is unaffected. */
  private fault(conn: HubConnection, error: IpcChannelError): void {
    if (conn.state === ConnectionState.Closed) return;
    this.options.log.warn(
      `closing the connection of peer ${conn.id || '(not joined)'}: ${error.message}`,
    );
    this.options.onFault?.(error, conn.id);
    const body: Fault = { code: error.code, message: error.message };
    this.send(conn, jsonFrame(FrameType.Fault, body));
    this.flush();
    conn.transport.end();
    this.drop(conn);
  }

  // ---- output ------------------------------------------------------------------------------

  private send(conn: HubConnection, frame: Buffer): void {
    conn.out.push(frame);
    this.markDirty(conn);
  }

  private markDirty(conn: HubConnection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
    // Timers (grace expiry, id waits) change state outside any read; every change must flush.
    this.scheduleFlush();
  }

  /** Acks left unsent are flushed after a short delay unless data carries them first. */
  private delayAcks(conn: HubConnection): void {
    this.ackWaiters.add(conn);
    if (this.ackTimer !== undefined) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      for (const c of this.ackWaiters) this.markDirty(c);
      this.ackWaiters.clear();
      this.flush(true);
    }, ACK_DELAY_MS);
    this.ackTimer.unref();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.dirty.length === 0) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Writes each dirty connection's frames. Acks ride along with data going to that peer; alone
   * they wait for a batch or a short delay (a request and its response then cost no extra
   * writes). Held notices and nacks go at once: they free a sender's window or report a failure.
   */
  private flush(forceAcks = false): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const conn of dirty) {
      conn.dirty = false;
      if (conn.transport.closed) continue;
      let frames = conn.out;
      conn.out = [];
      const control: Buffer[] = [];
      if (conn.acks.length > 0) {
        if (frames.length > 0 || forceAcks || this.closed || conn.acks.length >= ACK_BATCH) {
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
      if (conn.nacks !== undefined) {
        for (const [reason, seqs] of conn.nacks)
          control.push(jsonFrame(FrameType.Nack, { reason, seqs }));
        conn.nacks = undefined;
      }
      if (control.length > 0) frames = frames.length === 0 ? control : control.concat(frames);
      if (frames.length > 0) conn.transport.write(frames);
    }
  }
}

/** Whether a frame is for the process holding its target id now, even while that one retires. */
function toProcess(record: DeliveryRecord): boolean {
  return (record.frame[OFF_FLAGS]! & FrameFlag.ToProcess) !== 0;
}
