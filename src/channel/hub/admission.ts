import { type IpcChannelError, ProtocolError } from '../errors.js';
import type { Log } from '../logger.js';
import { FrameType, PROTOCOL_VERSION, jsonFrame } from '../wire/frame.js';
import {
  type HubHello,
  type JoinRequest,
  type Reject,
  type Welcome,
  isDirectAddress,
  welcomeProof,
} from '../wire/handshake.js';
import {
  type ChannelTerms,
  joinRefusal,
  readConsumed,
  readJoin,
  readPidNs,
} from '../wire/join-validation.js';
import { ConnectionState, type HubConnection } from './hub-connection.js';
import type { IdAllocator } from './id-allocator.js';
import type { OutputBatcher } from './output-batcher.js';
import type { Roster } from './roster.js';
import type { Router } from './router.js';

export interface AdmissionOptions {
  readonly terms: ChannelTerms;
  /** The largest frame the hub reads (told to every peer in its HubHello). */
  readonly maxFrameBytes: number;
  /** How long a connection may take to send its Join. */
  readonly handshakeTimeoutMs: number;
  /** How long a `preferred` claim waits for its id when the joiner does not say. */
  readonly preferredIdWaitMs: number;
  /** The leadership epoch the hub starts with. */
  readonly firstEpoch: number;
  /** Every open connection (an incarnation may be in use by one joined or waiting). */
  readonly conns: ReadonlySet<HubConnection>;
  readonly ids: IdAllocator;
  readonly roster: Roster;
  readonly router: Router;
  readonly output: OutputBatcher;
  readonly log: Log;
  /**
   * Closes a connection for what it sent (a malformed or repeated Join); with `now`, its
   * descriptor is released at once instead of after the peer closes its side.
   */
  readonly fault: (conn: HubConnection, error: IpcChannelError, now?: boolean) => void;
  /** The hub process's own peer has joined (other connections may now be served). */
  readonly onLocalJoin: () => void;
}

/**
 * Connections that have not joined, on any endpoint. A real peer sends its Join within
 * milliseconds of the HubHello; past this many, the oldest still silent is closed so that a
 * flood of strangers can use up neither the hub's memory nor its file descriptors, and a real
 * peer arriving during the flood still gets in.
 */
export const MAX_UNJOINED = 64;

/**
 * Lets peers in: reads and checks each Join, claims an id for it from the IdAllocator, and
 * welcomes it when it has one, or refuses it with a Reject.
 */
export class Admission {
  /** The id of the hub process's own peer, once it has joined. */
  selfId = 0;
  /**
   * The leadership epoch: above every epoch any peer of this hub has seen, so that each hub's
   * leader is told apart from every earlier one (a fencing token).
   */
  epoch: number;

  /** Connections greeted and not yet joined, oldest first (closed ones are swept lazily). */
  private readonly unjoined = new Set<HubConnection>();

  constructor(private readonly options: AdmissionOptions) {
    this.epoch = options.firstEpoch;
  }

  /**
   * Before its Join, a connection may send nothing else: a Leave or Retire from a stranger
   * must not reach the roster, where it would stop the handshake timer and keep the connection
   * open for ever. Returns true when `conn` was closed for it.
   */
  refusedBeforeJoin(conn: HubConnection, type: number): boolean {
    if (conn.state !== ConnectionState.Greeting || type === FrameType.Join) return false;
    // A type this protocol lacks is malformed, whenever it comes (the hub says so).
    const name = FrameType[type];
    if (name === undefined) return false;
    this.options.fault(
      conn,
      new ProtocolError('ERR_IPC_PROTOCOL', `a ${name} frame before Join; a peer must join first`),
    );
    return true;
  }

  /** Greets a new connection with the HubHello; one that is not local must Join in time. */
  greet(conn: HubConnection): void {
    const { terms, maxFrameBytes, fault } = this.options;
    const hello: HubHello = {
      protocol: PROTOCOL_VERSION,
      name: terms.name,
      codec: terms.codec,
      nonce: conn.nonce,
      secured: terms.secret !== undefined,
      maxFrameBytes,
    };
    this.options.output.send(conn, jsonFrame(FrameType.HubHello, hello));
    if (conn.local || conn.bridge) return;
    this.makeRoom();
    this.unjoined.add(conn);
    const timeout = new ProtocolError(
      'ERR_IPC_HANDSHAKE_TIMEOUT',
      'no Join within the handshake timeout',
    );
    conn.timer = setTimeout(() => fault(conn, timeout), this.options.handshakeTimeoutMs);
    conn.timer.unref();
  }

  join(conn: HubConnection, frame: Buffer): void {
    const { fault, terms } = this.options;
    this.unjoined.delete(conn);
    if (conn.state !== ConnectionState.Greeting) {
      fault(conn, new ProtocolError('ERR_IPC_PROTOCOL', 'a second Join on one connection'));
      return;
    }
    let req: JoinRequest;
    try {
      req = readJoin(frame);
    } catch (e) {
      fault(conn, e as IpcChannelError);
      return;
    }
    clearTimeout(conn.timer);
    // The bridge is made in this process by Hub.attachBridge: it has no secret to prove.
    const refusal = joinRefusal(
      req,
      conn.bridge ? { ...terms, secret: undefined } : terms,
      conn.nonce,
    );
    if (refusal !== undefined) return this.reject(conn, refusal);
    conn.incarnation = req.incarnation >>> 0;
    if (req.kind !== 'rejoin' && this.incarnationInUse(conn)) {
      // Incarnations are random per process; only the same process rejoining may reuse one.
      return this.reject(conn, {
        reason: 'incarnation-taken',
        message: `Another peer of channel '${terms.name}' already uses incarnation ${conn.incarnation}: a process may join only once.`,
      });
    }
    conn.pid = Number(req.pid) || 0;
    conn.pidNs = readPidNs(req.pidNs);
    // A process that was retiring when its hub went away stays retiring here, from the start:
    // what the hub holds for its id is for its successor.
    conn.retiring = req.retiring === true;
    if (conn.retiring) conn.consumed = readConsumed(req.consumed);
    conn.meta = req.meta ?? null;
    conn.direct = isDirectAddress(req.direct) ? req.direct : undefined;
    const limit = Number(req.maxFrameBytes);
    if (limit > 0) conn.maxFrameBytes = limit;
    conn.peerNonce = typeof req.nonce === 'string' ? req.nonce : '';
    if (req.kind === 'rejoin') this.options.ids.learnExpected(req.expected);
    if (Number.isSafeInteger(req.epoch) && req.epoch! >= this.epoch) this.raiseEpoch(req.epoch!);
    if (conn.bridge) return this.options.ids.grantBridge(conn);
    const waitMs = Number(req.waitMs);
    this.options.ids.claim(
      conn,
      req.kind,
      Number(req.claim) || 0,
      waitMs > 0 ? waitMs : this.options.preferredIdWaitMs,
    );
    if (conn.local) this.options.onLocalJoin();
  }

  /** `conn` was granted its id (see IdAllocator): it is welcomed, and the others told. */
  welcome(conn: HubConnection): void {
    const { roster, output, terms } = this.options;
    const id = conn.id;
    roster.add(conn);
    if (conn.local) this.selfId = id;
    const welcome: Welcome = {
      id,
      hubId: this.selfId,
      hubPid: process.pid,
      peers: roster.records(),
      epoch: this.epoch,
    };
    const consumed = this.options.router.predecessorConsumed(id);
    if (consumed !== undefined) welcome.consumed = consumed;
    if (terms.secret !== undefined) {
      welcome.proof = welcomeProof(terms.secret, conn.peerNonce, terms.name);
    }
    output.send(conn, jsonFrame(FrameType.Welcome, welcome));
    roster.announceJoin(conn);
    const held = this.options.router.deliverHeld(conn);
    this.options.log.debug(
      `hub: granted id ${id} to pid ${conn.pid}${held > 0 ? `, with ${held} held frame(s)` : ''}${output.closing ? ' (hub closing)' : ''}`,
    );
  }

  /** Refuses `conn` and closes its connection once the Reject is written. */
  reject(conn: HubConnection, reject: Reject): void {
    this.options.log.warn(`refused a peer: ${reject.message}`);
    this.options.output.send(conn, jsonFrame(FrameType.Reject, reject));
    this.options.output.flush();
    conn.state = ConnectionState.Left;
    conn.duplex.end();
  }

  /** Keeps the unjoined connections under MAX_UNJOINED, closing the oldest if it must. */
  private makeRoom(): void {
    if (this.unjoined.size < MAX_UNJOINED) return;
    for (const conn of this.unjoined) {
      if (conn.state !== ConnectionState.Greeting) this.unjoined.delete(conn);
    }
    for (const conn of this.unjoined) {
      if (this.unjoined.size < MAX_UNJOINED) break;
      this.unjoined.delete(conn);
      this.options.fault(
        conn,
        new ProtocolError(
          'ERR_IPC_HANDSHAKE_TIMEOUT',
          `no Join while ${MAX_UNJOINED} connections waited to join; the oldest is closed to make room`,
        ),
        // A flood of silent connections must not hold more than MAX_UNJOINED descriptors,
        // not even while the evicted ones wait for their peers to close.
        true,
      );
    }
  }

  private incarnationInUse(conn: HubConnection): boolean {
    for (const other of this.options.conns) {
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
    this.options.roster.announceEpoch(this.epoch);
  }
}
