import { elect, withdraw } from '../election/election.js';
import {
  ChannelClosedError,
  EndpointUnavailableError,
  type IpcChannelError,
  JoinRejectedError,
  ProtocolError,
} from '../errors.js';
import { FrameType, OFF_TYPE, controlFrame, jsonFrame, readJson } from '../wire/frame.js';
import {
  type Fault,
  type HubHello,
  type JoinRequest,
  type LeaveNotice,
  type Reject,
  type Welcome,
  joinProof,
  newNonce,
} from '../wire/handshake.js';
import { helloRefusal, rejectionError, welcomeRefusal } from '../wire/join-validation.js';
import { Hub } from '../hub/hub.js';
import type { FrameDuplex } from '../io/frame-duplex.js';
import { SocketDuplex } from '../io/socket-duplex.js';
import { HubWatch } from './hub-watch.js';
import { type HubLinkOptions, type HubLinkOwner, HubLinkState } from './hub-link-types.js';

const HEARTBEAT = controlFrame(FrameType.Heartbeat);

export { HubLinkState, type HubLinkOwner, type HubLinkOptions };

/** Back-off for elections that fail for reasons other than a race (EACCES, ...). */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;
/** How long peers wait after a handover before probing, so the named successor binds first. */
const HANDOVER_HEAD_START_MS = 30;
/** How long a hub that follows another serves rejoining peers before newcomers. */
const REJOIN_WINDOW_MS = 300;
/** The same for a hub that knows no survivors (see Presence.expectedPeers) to reserve ids for. */
const HISTORYLESS_REJOIN_WINDOW_MS = 2000;
/** How long close() waits for an election under way to stop. */
const ELECTION_CLOSE_WAIT_MS = 1000;
/** How long a process that has never joined waits before probing after losing the hub. */
const NEWCOMER_DELAY_MS = 100;

/**
 * One peer's link to the hub. It elects (connecting to the hub, or becoming it), handshakes, and
 * on losing the connection elects again at once. It knows nothing of messages: the owning
 * channel gets every frame after the Welcome.
 */
export class HubLink {
  state = HubLinkState.Idle;
  /** The hub this process hosts, if it won the election. */
  hub: Hub | undefined;
  /** This process's id, used to know whether a Handover names us. */
  selfId = 0;
  /** The channel is shutting down (retiring): it should not become the next hub. */
  retiring = false;
  private duplex: FrameDuplex | undefined;
  private readonly abort = new AbortController();
  /** The election under way or last run (see elect). */
  private electing: Promise<void> | undefined;
  private nonce = '';
  /** The Join went out on the current connection (the hub has it before anything after it). */
  private joinSent = false;
  private successor = 0;
  private everJoined = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private byeWaiter: (() => void) | undefined;
  /** This process was connected to a hub before (so a hub it hosts follows another). */
  private hadHub = false;
  /** The largest frame the hub reads, from its HubHello. */
  private hubMaxFrameBytes = 0;
  /** Heartbeats with a hub in another process, and its deposition when it stops answering. */
  private readonly watch: HubWatch;

  constructor(
    private readonly options: HubLinkOptions,
    private readonly owner: HubLinkOwner,
  ) {
    const { endpoint, hub } = options;
    this.watch = new HubWatch(endpoint.path, hub.heartbeatIntervalMs, hub.heartbeatTimeoutMs, {
      heartbeat: () => this.write([HEARTBEAT]),
      depose: (silentMs) => this.depose(silentMs),
    });
  }

  get joined(): boolean {
    return this.state === HubLinkState.Joined;
  }

  /** A Join is out and its answer not in: a Welcome may come, with what is held for the id. */
  get joinPending(): boolean {
    return this.state === HubLinkState.Handshaking && this.joinSent;
  }

  start(): void {
    if (this.state !== HubLinkState.Idle) return;
    void this.elect(false);
  }

  write(frames: Buffer[]): void {
    if (this.state === HubLinkState.Joined || this.state === HubLinkState.Leaving) {
      this.duplex?.write(frames);
      this.watch.spoke = true;
    }
  }

  /**
   * Writes a control frame the hub takes from a peer it has not admitted yet (SetMeta): also
   * between the Join and the Welcome, which can be seconds for a PM2 instance waiting for its
   * predecessor's id. Before the Join nothing is written: the Join carries the latest anyway.
   */
  writeAfterJoin(frames: Buffer[]): void {
    if (this.joinPending) this.duplex?.write(frames);
    else this.write(frames);
  }

  /** Bytes written to the hub connection but not yet handed to the OS. */
  get pendingBytes(): number {
    return this.duplex?.pendingBytes ?? 0;
  }

  /** The hub is going away; `successor` is to take over. */
  noteHandover(successor: number): void {
    this.successor = successor;
  }

  noteBye(): void {
    this.byeWaiter?.();
  }

  /** Sends Leave and waits for the hub's Bye (everything the hub sent us before it has arrived). */
  async leave(timeoutMs: number, notice?: LeaveNotice): Promise<void> {
    if (this.state !== HubLinkState.Joined) return;
    this.state = HubLinkState.Leaving;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const duplex = this.duplex!;
      const previousClose = duplex.onClose;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.byeWaiter = done;
      duplex.onClose = (e) => {
        done();
        previousClose(e);
      };
      duplex.write([
        notice === undefined ? controlFrame(FrameType.Leave) : jsonFrame(FrameType.Leave, notice),
      ]);
    });
    this.byeWaiter = undefined;
  }

  /** Closes the connection and, if this process is the hub, hands the hub over. */
  async close(): Promise<void> {
    if (this.state === HubLinkState.Closed) return;
    this.state = HubLinkState.Closed;
    this.watch.stop();
    this.abort.abort();
    clearTimeout(this.retryTimer);
    // An aborted election stops at its next step (and withdraws a hub it won meanwhile).
    if (this.electing !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.electing,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ELECTION_CLOSE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    const duplex = this.duplex;
    this.duplex = undefined;
    if (duplex !== undefined && !duplex.closed) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => duplex.destroy(), 1000);
        duplex.onClose = () => {
          clearTimeout(force);
          resolve();
        };
        duplex.end();
      });
    }
    const hub = this.hub;
    this.hub = undefined;
    // The bridge first: it stops reading other hosts' inboxes before the hub hands over.
    await this.options.bridges?.close();
    await hub?.close();
  }

  /** A method, so TypeScript does not narrow `state` across awaits. */
  private isClosed(): boolean {
    return this.state === HubLinkState.Closed;
  }

  /**
   * Elects, remembering the election so close() can wait for it: an election holds the lock
   * file for a moment, and a closed channel must leave nothing in its directory.
   */
  private elect(eager: boolean, delayMs?: number): Promise<void> {
    const running = this.runElection(eager, delayMs);
    this.electing = running;
    return running;
  }

  private async runElection(eager: boolean, delayMs?: number): Promise<void> {
    this.state = HubLinkState.Electing;
    const { endpoint, log } = this.options;
    let result;
    try {
      result = await elect(endpoint, {
        signal: this.abort.signal,
        eager,
        delayMs,
        // Only a process joining for the first time looks for a hub on another endpoint kind:
        // a member electing after a failover must not fail because a misconfigured newcomer
        // showed up at that moment (the newcomer looks, and fails, itself).
        checkRivals: !this.everJoined,
        deposed: this.watch.isDeposed,
      });
    } catch (e) {
      if (this.isClosed() || e instanceof ChannelClosedError) return;
      // A refused token or an unusable directory will not cure itself: fail connect() now.
      if (e instanceof JoinRejectedError || e instanceof EndpointUnavailableError) {
        this.fail(e);
        return;
      }
      this.owner.error(e as IpcChannelError);
      this.retryLater();
      return;
    }
    if (this.isClosed()) {
      withdraw(result);
      return;
    }
    this.watch.elected();
    if (result.role === 'hub') {
      log.info(`hosting the hub of channel '${this.options.name}' at ${endpoint.path}`);
      const expected = this.owner.expectedPeers();
      const hub: Hub = new Hub(
        result.server,
        result.publication,
        {
          ...this.options.hub,
          name: this.options.name,
          codec: this.options.codec,
          secret: this.options.secret,
          maxFrameBytes: this.options.maxFrameBytes,
          expected,
          // A hub that follows another serves rejoining peers before newcomers for a moment; for
          // longer if it reserves nothing, e.g. a PM2 reload's new instance that won the election
          // while it waited for its predecessor's id: the predecessor must get the id back first.
          rejoinWindowMs: !this.hadHub
            ? 0
            : expected.length > 0
              ? REJOIN_WINDOW_MS
              : HISTORYLESS_REJOIN_WINDOW_MS,
          log,
        },
        () => {
          if (this.hub === hub) this.hub = undefined;
          this.options.bridges?.stopped(hub);
        },
      );
      this.hub = hub;
      this.attach(hub.attachLocal());
      this.options.bridges?.hosted(hub);
    } else {
      this.attach(new SocketDuplex(result.socket, this.options.maxFrameBytes));
      this.watch.start(endpoint.lockPath !== undefined);
    }
  }

  private attach(duplex: FrameDuplex): void {
    this.hadHub = true;
    this.duplex = duplex;
    this.state = HubLinkState.Handshaking;
    this.joinSent = false;
    this.successor = 0;
    duplex.onFrames = (frames) => this.receive(duplex, frames);
    duplex.onClose = (error) => this.lost(duplex, error);
  }

  private receive(duplex: FrameDuplex, frames: Buffer[]): void {
    if (duplex !== this.duplex) return;
    this.watch.heard = true;
    if (this.state !== HubLinkState.Handshaking) {
      this.owner.frames(frames);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const type = frame[OFF_TYPE];
      try {
        if (type === FrameType.HubHello) {
          this.hello(readJson<HubHello>(frame));
        } else if (type === FrameType.Welcome) {
          const welcome = readJson<Welcome>(frame);
          this.welcome(welcome);
          if (i + 1 < frames.length) this.owner.frames(frames.slice(i + 1));
          return;
        } else if (type === FrameType.Reject) {
          throw rejectionError(readJson<Reject>(frame));
        } else if (type === FrameType.Fault) {
          const fault = readJson<Fault>(frame);
          throw new ProtocolError(fault.code, `The hub closed the connection: ${fault.message}`);
        }
      } catch (e) {
        this.fail(e as IpcChannelError);
        return;
      }
    }
  }

  private hello(hello: HubHello): void {
    const { name, secret } = this.options;
    const refusal = helloRefusal(hello, this.options, this.options.endpoint.path);
    if (refusal !== undefined) throw rejectionError(refusal);
    this.hubMaxFrameBytes = hello.maxFrameBytes;
    this.nonce = newNonce();
    const request: JoinRequest = { ...this.owner.joinRequest(this.nonce), nonce: this.nonce };
    if (secret !== undefined) request.proof = joinProof(secret, hello.nonce, name);
    this.duplex!.write([jsonFrame(FrameType.Join, request)]);
    this.joinSent = true;
  }

  private welcome(welcome: Welcome): void {
    const refusal = welcomeRefusal(welcome, this.options, this.nonce);
    if (refusal !== undefined) throw rejectionError(refusal);
    this.state = HubLinkState.Joined;
    this.everJoined = true;
    // Only a Welcome ends the back-off: a hub refusing every Join is not asked 20 times a second.
    this.retryMs = RETRY_MIN_MS;
    this.selfId = welcome.id;
    this.owner.joined(welcome, this.hubMaxFrameBytes);
    this.options.bridges?.joined(this.hub);
  }

  /** The hub went silent for the heartbeat timeout: it is deposed, and another elected. */
  private depose(silentMs: number): void {
    const message = `The hub of channel '${this.options.name}' sent nothing for ${silentMs} ms (over heartbeatTimeoutMs): its process is stopped or its event loop blocked. It is deposed and another elected; nothing unconfirmed is lost.`;
    this.options.log.warn(message);
    this.duplex?.destroy(new ProtocolError('ERR_IPC_HUB_UNRESPONSIVE', message));
  }

  private fail(error: IpcChannelError): void {
    const initial = !this.everJoined;
    const duplex = this.duplex;
    this.duplex = undefined;
    this.watch.stop();
    duplex?.destroy();
    if (initial) {
      this.owner.failed(error, true);
      return;
    }
    // A rejoin that fails (version skew in a rolling deploy, a lost id) is reported and retried.
    this.owner.failed(error, false);
    this.state = HubLinkState.Electing;
    this.retryLater();
  }

  /** Elects again after the back-off, which doubles up to RETRY_MAX_MS. */
  private retryLater(): void {
    this.retryTimer = setTimeout(() => void this.elect(false), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private lost(duplex: FrameDuplex, error: Error | undefined): void {
    if (duplex !== this.duplex) return;
    this.duplex = undefined;
    this.watch.stop();
    if (this.state === HubLinkState.Closed || this.state === HubLinkState.Leaving) return;
    const wasJoined = this.state === HubLinkState.Joined;
    const handover = this.successor !== 0;
    if (this.hub !== undefined) {
      // Our own hub stopped under us (it stepped down); it is closed already.
      this.hub = undefined;
    }
    if (!this.everJoined || this.retiring) {
      // Never joined (say a reloaded PM2 instance still waiting for its id): it knows nobody, so
      // a hub it hosted could not keep the survivors' ids for them. Shutting down: it would
      // hand the hub over again at once. Either way, let another peer win.
      void this.elect(false, NEWCOMER_DELAY_MS);
    } else if (this.successor === 0) void this.elect(false);
    else if (this.successor === this.selfId) void this.elect(true);
    // A graceful handover named another peer: let it bind first, so the hub lands where the old
    // one chose instead of on whoever probes first.
    else void this.elect(false, HANDOVER_HEAD_START_MS);
    if (wasJoined) this.owner.disconnected(error, handover);
  }
}
