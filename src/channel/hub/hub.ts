import type { Socket } from 'node:net';
import type { HubListener } from '../endpoint/endpoint.js';
import type { Publication } from '../endpoint/publication.js';
import { IpcChannelError, MalformedFrameError, ProtocolError } from '../errors.js';
import type { FrameDuplex } from '../io/frame-duplex.js';
import { InProcessDuplex } from '../io/in-process-duplex.js';
import { SocketDuplex } from '../io/socket-duplex.js';
import {
  DATA_MIN,
  FrameType,
  OFF_TYPE,
  isDataType,
  jsonFrame,
  readCount,
  readJson,
} from '../wire/frame.js';
import { type Fault, newNonce } from '../wire/handshake.js';
import { Admission, MAX_UNJOINED } from './admission.js';
import { ConnectionState, HubConnection } from './hub-connection.js';
import { HubHandover } from './hub-handover.js';
import { HubLiveness } from './hub-liveness.js';
import { IdAllocator } from './id-allocator.js';
import { OutputBatcher } from './output-batcher.js';
import { Roster } from './roster.js';
import { Router } from './router.js';
import { endConnection } from './end-connection.js';

import type { HubOptions } from './hub-options.js';

export type { ExpectedPeer } from './id-allocator.js';
export type { HubOptions } from './hub-options.js';

/** How often the hub checks that the public socket (or endpoint) file is still its own. */
const WATCHDOG_MS = 1000;

/**
 * The hub role: grants ids, keeps membership, routes data frames by their header, and holds
 * frames for absent peers. It never decodes a data payload.
 *
 * Delivery is confirmed end to end: a peer receipts the data frames it has read, and only when
 * every target of a frame has read it does the sender get its ack. A sender keeps each frame
 * until then, so a hub that dies loses nothing that its successor will not be sent again.
 *
 * This class runs the hub's life (accepting, each connection's frames and its end, closing);
 * the work is done by the parts it creates once: Admission (Joins), IdAllocator (ids), Roster
 * (the joined peers and their notices), Router (data frames, holds, acks), OutputBatcher
 * (writes) and HubHandover (the successor, on closing).
 */
export class Hub {
  /** Every open connection, joined or not. */
  private readonly conns = new Set<HubConnection>();
  private readonly output = new OutputBatcher();
  private readonly roster: Roster;
  private readonly ids: IdAllocator;
  private readonly router: Router;
  private readonly admission: Admission;
  private readonly handover: HubHandover;
  private readonly liveness: HubLiveness;
  /** Sockets accepted before the hub's own peer has joined; served right after. */
  private backlog: Socket[] | undefined = [];
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly closing: Promise<void>[] = [];

  constructor(
    private readonly server: HubListener | undefined,
    private readonly publication: Publication | undefined,
    private readonly options: HubOptions,
    /** Called when the hub stops on its own (its socket file was replaced). */
    private readonly onStepDown: () => void = () => {},
  ) {
    const { log } = options;
    const fault = this.fault.bind(this);
    this.ids = new IdAllocator({
      expected: options.expected,
      graceMs: options.graceMs,
      rejoinWindowMs: options.rejoinWindowMs ?? 0,
      log,
      onGrant: (conn) => this.admission.welcome(conn),
      onReject: (conn, reject) => this.admission.reject(conn, reject),
      onReplaced: (stale) => {
        stale.duplex.destroy();
        this.drop(stale);
      },
      onReservationDropped: (id) => this.router.refuseHeldRequests(id),
    });
    this.roster = new Roster({
      output: this.output,
      ids: this.ids,
      log,
      onLocalRetire: (conn) => this.router.releaseOwnBroadcasts(conn),
      onRetiredGone: (conn) => this.router.awaitSuccessor(conn.id, conn.consumed),
    });
    this.router = new Router({
      output: this.output,
      roster: this.roster,
      ids: this.ids,
      graceMs: options.graceMs,
      maxHeldBytes: options.maxHeldBytes,
      preferredIdWaitMs: options.preferredIdWaitMs,
      log,
      fault,
    });
    this.admission = new Admission({
      terms: { name: options.name, codec: options.codec, secret: options.secret },
      maxFrameBytes: options.maxFrameBytes,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      preferredIdWaitMs: options.preferredIdWaitMs,
      firstEpoch: options.firstEpoch?.() ?? 1,
      conns: this.conns,
      ids: this.ids,
      roster: this.roster,
      router: this.router,
      output: this.output,
      log,
      fault,
      onLocalJoin: () => this.openToSockets(),
    });
    this.router.bridged = options.federated === true;
    this.handover = new HubHandover(this.output, this.roster, log);
    this.liveness = new HubLiveness({
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      conns: this.conns,
      output: this.output,
      publication,
      cut: (conn, why) => this.cut(conn, why),
      bridgeBehind: (bridge) => this.router.bridgeBehind(bridge),
      fenced: () => {
        options.log.warn(
          `this hub was deposed while its process was not running (another hub serves ${publication!.path}); it steps down without routing what it held`,
        );
        void this.shutDown(false).then(this.onStepDown);
      },
    });
    this.output.mayWrite = () => this.liveness.mayWrite();
    if (server) {
      server.on('connection', (socket) => this.accept(socket));
      server.on('error', (e) => log.error('hub server error', e));
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

  /**
   * Connects the bridge between hosts (federation); returns the bridge's end of the in-process
   * pair. It joins with BRIDGE_ID, takes frames for other hosts and this host's broadcasts, and
   * hears of every member; it is no member itself, and being in this process it is never cut
   * off for silence or stalls (its receipts wait on the store while the store is down; what
   * waits past a heartbeat interval is reported held to its senders, see Router.bridgeBehind).
   */
  attachBridge(): FrameDuplex {
    const [hubEnd, bridgeEnd] = InProcessDuplex.pair();
    this.router.bridged = true;
    this.addConnection(hubEnd, false, true);
    return bridgeEnd;
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
    this.liveness.stop();
    this.output.close();
    this.ids.stop();
    this.router.clear();
    if (handover) this.publication?.unpublish();
    this.server?.close();
    this.publication?.dispose();
    for (const socket of this.backlog ?? []) socket.destroy();
    this.backlog = undefined;

    for (const conn of this.conns) clearTimeout(conn.timer);
    const silent = await this.handover.announce(this.conns, handover);
    // A peer that did not confirm what it was written before the hub goes may have read it:
    // its senders are told, since the next hub cannot know it.
    for (const conn of silent) this.router.noteUnconfirmedPending(conn);
    this.output.flush(true);
    for (const conn of [...this.conns]) this.closing.push(endConnection(conn.duplex));
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
      if (this.backlog.length >= MAX_UNJOINED) this.backlog.shift()!.destroy();
      this.backlog.push(socket);
      return;
    }
    this.addConnection(new SocketDuplex(socket, this.options.maxFrameBytes, true), false);
  }

  private openToSockets(): void {
    const backlog = this.backlog;
    if (backlog === undefined) return;
    this.backlog = undefined;
    for (const socket of backlog) {
      if (!socket.destroyed) this.accept(socket);
    }
  }

  private addConnection(duplex: FrameDuplex, local: boolean, bridge = false): void {
    const conn = new HubConnection(duplex, local, newNonce(), bridge);
    this.conns.add(conn);
    duplex.onFrames = (frames) => this.receive(conn, frames);
    duplex.onClose = (error) => this.closed || this.drop(conn, error);
    duplex.onFault = (error) => this.fault(conn, error);
    this.admission.greet(conn);
    this.output.scheduleFlush();
  }

  private receive(conn: HubConnection, frames: Buffer[]): void {
    if (this.closed) {
      this.receiveWhileClosing(conn, frames);
      return;
    }
    const router = this.router;
    conn.heard = true;
    for (let i = 0; i < frames.length; i++) {
      if (conn.state === ConnectionState.Closed) break;
      const frame = frames[i]!;
      const type = frame[OFF_TYPE]!;
      if (conn.state === ConnectionState.Greeting && this.admission.refusedBeforeJoin(conn, type))
        break;
      if (type >= DATA_MIN) {
        if (!isDataType(type)) {
          this.fault(conn, new MalformedFrameError(`unknown data frame type ${type}`));
        } else if (conn.state === ConnectionState.Joined) {
          router.route(conn, frame);
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
          router.receipt(conn, readCount(frame));
          break;
        case FrameType.Join:
          this.admission.join(conn, frame);
          break;
        case FrameType.SetMeta:
          this.setMeta(conn, frame);
          break;
        case FrameType.Leave:
          this.roster.leave(conn, frame);
          break;
        case FrameType.Retire:
          this.roster.retire(conn);
          break;
        case FrameType.HandoverDone:
          break; // only meaningful while closing
        case FrameType.Heartbeat:
          break; // counted above: anything that arrives is proof of life
        default:
          this.fault(conn, new MalformedFrameError(`unexpected frame type ${type}`));
      }
    }
    this.output.scheduleFlush();
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
        this.router.receipt(conn, readCount(frame));
      } else if (type === FrameType.HandoverDone) {
        this.handover.answer(conn);
      }
    }
  }

  private setMeta(conn: HubConnection, frame: Buffer): void {
    try {
      this.roster.setMeta(conn, readJson(frame));
    } catch {
      this.fault(conn, new MalformedFrameError('SetMeta is not JSON'));
    }
  }

  private drop(conn: HubConnection, error?: Error): void {
    if (conn.state === ConnectionState.Closed) return;
    const was = conn.state;
    conn.state = ConnectionState.Closed;
    this.conns.delete(conn);
    this.ids.stopWaiting(conn);
    clearTimeout(conn.timer);
    if (was === ConnectionState.Joined) this.roster.unjoin(conn, 'lost');
    if (error instanceof IpcChannelError) {
      this.options.log.warn(
        `closed the connection of peer ${conn.id || '(not joined)'}: ${error.message}`,
      );
      this.options.onFault?.(error, conn.id);
    }
    const unread = this.router.requeueUnread(conn);
    this.options.log.debug(
      `hub: connection of peer ${conn.id || '-'} (pid ${conn.pid}, ${was}) closed; ${unread} frame(s) unread`,
    );
    if (was === ConnectionState.Joined) this.ids.release(conn.id, conn);
    else if (was === ConnectionState.Left) this.ids.release(conn.id);
    this.output.scheduleFlush();
  }

  /**
   * Cuts off a peer that stopped reading or went silent, so that it holds nobody back: as for
   * a peer that crashed, what it was written and did not confirm is held for its id with
   * everything sent to it meanwhile (broadcasts excepted), and its id is kept for its process
   * for graceMs. When it runs again it finds the connection closed and joins again.
   */
  private cut(conn: HubConnection, why: string): void {
    this.options.log.warn(
      `hub: cut off peer ${conn.id} (pid ${conn.pid}): ${why}; messages to it are held for graceMs`,
    );
    this.drop(conn);
    conn.duplex.destroy();
  }

  /** Closes one connection for what it sent (with `now`, at once); the rest are unaffected. */
  private fault(conn: HubConnection, error: IpcChannelError, now = false): void {
    if (conn.state === ConnectionState.Closed) return;
    this.options.log.warn(
      `closing the connection of peer ${conn.id || '(not joined)'}: ${error.message}`,
    );
    this.options.onFault?.(error, conn.id);
    const body: Fault = { code: error.code, message: error.message };
    this.output.send(conn, jsonFrame(FrameType.Fault, body));
    this.output.flush();
    if (now) conn.duplex.destroy();
    else conn.duplex.end();
    this.drop(conn);
  }
}
