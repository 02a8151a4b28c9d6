import { elect, withdraw } from '../election/election.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import {
  AuthenticationError,
  ChannelClosedError,
  EndpointUnavailableError,
  HandshakeError,
  IdTakenError,
  type IpcChannelError,
  JoinRejectedError,
  ProtocolError,
} from '../errors.js';
import {
  FrameType,
  OFF_TYPE,
  PROTOCOL_VERSION,
  controlFrame,
  jsonFrame,
  readJson,
} from '../wire/frame.js';
import {
  type Fault,
  type HubHello,
  type JoinRequest,
  type Reject,
  type Welcome,
  joinProof,
  newNonce,
  proofsMatch,
  welcomeProof,
} from '../wire/handshake.js';
import { type ExpectedPeer, Hub, type HubOptions } from '../hub/hub.js';
import type { Log } from '../logger.js';
import type { FrameDuplex } from '../io/frame-duplex.js';
import { SocketDuplex } from '../io/socket-duplex.js';

/** The states of a peer's link to its hub. */
export enum HubLinkState {
  Idle = 'idle',
  /** Looking for the hub, or becoming it. */
  Electing = 'electing',
  /** Connected; exchanging HubHello / Join / Welcome. */
  Handshaking = 'handshaking',
  /** Joined: data flows. */
  Joined = 'joined',
  /** Sent Leave, waiting for Bye. */
  Leaving = 'leaving',
  Closed = 'closed',
}

/** What the link needs from the channel that owns it. */
export interface HubLinkOwner {
  /** The Join to send (claim, meta, incarnation) for the hub that greeted us. */
  joinRequest(nonce: string): Omit<JoinRequest, 'nonce' | 'proof'>;
  /** Peers to keep ids for, should this process become the hub. */
  expectedPeers(): ExpectedPeer[];
  joined(welcome: Welcome, hubMaxFrameBytes: number): void;
  /** Frames that follow the Welcome on the same connection. */
  frames(frames: Buffer[]): void;
  /** The connection to the hub is gone (`handover`: the hub announced it); already electing. */
  disconnected(error: Error | undefined, handover: boolean): void;
  /** The hub refused us, or the handshake failed. */
  failed(error: IpcChannelError, initial: boolean): void;
  /** A recoverable problem worth reporting (an election error, a fault). */
  error(error: IpcChannelError): void;
}

export interface HubLinkOptions {
  readonly endpoint: Endpoint;
  readonly name: string;
  readonly codec: string;
  readonly secret: Buffer | undefined;
  readonly maxFrameBytes: number;
  readonly hub: Omit<
    HubOptions,
    'expected' | 'name' | 'codec' | 'secret' | 'maxFrameBytes' | 'log'
  >;
  readonly log: Log;
}

/** Back-off for elections that fail for reasons other than a race (EACCES, ...). */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;
/** How long peers wait after a handover before probing, so the named successor binds first. */
const HANDOVER_HEAD_START_MS = 30;
/** How long a hub that follows another serves rejoining peers before newcomers. */
const REJOIN_WINDOW_MS = 300;
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
  private transport: FrameDuplex | undefined;
  private readonly abort = new AbortController();
  /** The election under way or last run (see elect). */
  private electing: Promise<void> | undefined;
  private nonce = '';
  private successor = 0;
  private everJoined = false;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private byeWaiter: (() => void) | undefined;

  constructor(
    private readonly options: HubLinkOptions,
    private readonly owner: HubLinkOwner,
  ) {}

  /** This process's id, used to know whether a Handover names us. */
  selfId = 0;
  /** The channel is shutting down (retiring): it should not become the next hub. */
  retiring = false;
  /** This process was connected to a hub before (so a hub it hosts follows another). */
  private hadHub = false;

  get joined(): boolean {
    return this.state === HubLinkState.Joined;
  }

  start(): void {
    if (this.state !== HubLinkState.Idle) return;
    void this.elect(false);
  }

  write(frames: Buffer[]): void {
    if (this.state === HubLinkState.Joined || this.state === HubLinkState.Leaving)
      this.transport?.write(frames);
  }

  /** Bytes written to the hub connection but not yet handed to the OS. */
  get pendingBytes(): number {
    return this.transport?.pendingBytes ?? 0;
  }

  /** The hub is going away; `successor` is to take over. */
  noteHandover(successor: number): void {
    this.successor = successor;
  }

  noteBye(): void {
    this.byeWaiter?.();
  }

  /** Sends Leave and waits for the hub's Bye (everything the hub sent us before it has arrived). */
  async leave(timeoutMs: number): Promise<void> {
    if (this.state !== HubLinkState.Joined) return;
    this.state = HubLinkState.Leaving;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const transport = this.transport!;
      const previousClose = transport.onClose;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.byeWaiter = done;
      transport.onClose = (e) => {
        done();
        previousClose(e);
      };
      transport.write([controlFrame(FrameType.Leave)]);
    });
    this.byeWaiter = undefined;
  }

  /** Closes the connection and, if this process is the hub, hands the hub over. */
  async close(): Promise<void> {
    if (this.state === HubLinkState.Closed) return;
    this.state = HubLinkState.Closed;
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
    const transport = this.transport;
    this.transport = undefined;
    if (transport !== undefined && !transport.closed) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => transport.destroy(), 1000);
        transport.onClose = () => {
          clearTimeout(force);
          resolve();
        };
        transport.end();
      });
    }
    const hub = this.hub;
    this.hub = undefined;
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
      });
    } catch (e) {
      if (this.isClosed() || e instanceof ChannelClosedError) return;
      // A refused token or an unusable directory will not cure itself: fail connect() now.
      if (e instanceof JoinRejectedError || e instanceof EndpointUnavailableError) {
        this.fail(e);
        return;
      }
      this.owner.error(e as IpcChannelError);
      this.retryTimer = setTimeout(() => void this.elect(false), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      return;
    }
    if (this.isClosed()) {
      withdraw(result);
      return;
    }
    this.retryMs = RETRY_MIN_MS;
    if (result.role === 'hub') {
      log.info(`hosting the hub of channel '${this.options.name}' at ${endpoint.path}`);
      const hub: Hub = new Hub(
        result.server,
        result.publication,
        {
          ...this.options.hub,
          name: this.options.name,
          codec: this.options.codec,
          secret: this.options.secret,
          maxFrameBytes: this.options.maxFrameBytes,
          expected: this.owner.expectedPeers(),
          // A hub that follows another serves rejoining peers before newcomers for a moment.
          rejoinWindowMs: this.hadHub ? REJOIN_WINDOW_MS : 0,
          log,
        },
        () => {
          if (this.hub === hub) this.hub = undefined;
        },
      );
      this.hub = hub;
      this.attach(hub.attachLocal());
    } else {
      this.attach(new SocketDuplex(result.socket, this.options.maxFrameBytes));
    }
  }

  private attach(transport: FrameDuplex): void {
    this.hadHub = true;
    this.transport = transport;
    this.state = HubLinkState.Handshaking;
    this.successor = 0;
    transport.onFrames = (frames) => this.receive(transport, frames);
    transport.onClose = (error) => this.lost(transport, error);
  }

  private receive(transport: FrameDuplex, frames: Buffer[]): void {
    if (transport !== this.transport) return;
    if (this.state !== HubLinkState.Handshaking) {
      this.owner.frames(frames);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const type = frame[OFF_TYPE];
      try {
        if (type === FrameType.HubHello) {
          this.hello(readJson<HubHello & { maxFrameBytes: number }>(frame));
        } else if (type === FrameType.Welcome) {
          const welcome = readJson<Welcome>(frame);
          this.welcome(welcome);
          if (i + 1 < frames.length) this.owner.frames(frames.slice(i + 1));
          return;
        } else if (type === FrameType.Reject) {
          throw rejection(readJson<Reject>(frame));
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

  private hubMaxFrameBytes = 0;

  private hello(hello: HubHello & { maxFrameBytes: number }): void {
    const { name, codec, secret } = this.options;
    if (hello.protocol !== PROTOCOL_VERSION) {
      throw new HandshakeError(
        'protocol-mismatch',
        `The hub of channel '${name}' speaks protocol ${hello.protocol}, this process speaks ${PROTOCOL_VERSION}: every process of a channel must run a compatible nestjs-ipc-channel. Restart them all on one version.`,
      );
    }
    if (hello.name !== name) {
      throw new HandshakeError(
        'name-mismatch',
        `The socket at ${this.options.endpoint.path} belongs to channel '${hello.name}', not '${name}'. Use another 'dir' for this channel.`,
      );
    }
    if (hello.codec !== codec) {
      throw new HandshakeError(
        'codec-mismatch',
        `Channel '${name}' uses the '${hello.codec}' codec but this process uses '${codec}'. Every process of a channel must use the same codec.`,
      );
    }
    if (secret !== undefined && !hello.secured) {
      throw new AuthenticationError(
        `This process has a secret, but the process hosting channel '${name}' has none, so it cannot prove it is trusted. Pass the same 'secret' option to every process.`,
      );
    }
    if (secret === undefined && hello.secured) {
      throw new AuthenticationError(
        `Channel '${name}' requires a secret and this process has none. Pass the same 'secret' option to every process.`,
      );
    }
    this.hubMaxFrameBytes = hello.maxFrameBytes;
    this.nonce = newNonce();
    const request: JoinRequest = { ...this.owner.joinRequest(this.nonce), nonce: this.nonce };
    if (secret !== undefined) request.proof = joinProof(secret, hello.nonce, name);
    this.transport!.write([jsonFrame(FrameType.Join, request)]);
  }

  private welcome(welcome: Welcome): void {
    const secret = this.options.secret;
    if (
      secret !== undefined &&
      !proofsMatch(welcomeProof(secret, this.nonce, this.options.name), welcome.proof)
    ) {
      throw new AuthenticationError(
        `The process hosting channel '${this.options.name}' does not know this process's secret. Pass the same 'secret' option to every process.`,
      );
    }
    this.state = HubLinkState.Joined;
    this.everJoined = true;
    this.selfId = welcome.id;
    this.owner.joined(welcome, this.hubMaxFrameBytes);
  }

  private fail(error: IpcChannelError): void {
    const initial = !this.everJoined;
    const transport = this.transport;
    this.transport = undefined;
    transport?.destroy();
    if (initial) {
      this.owner.failed(error, true);
      return;
    }
    // A rejoin that fails (version skew in a rolling deploy, a lost id) is reported and retried.
    this.owner.failed(error, false);
    this.state = HubLinkState.Electing;
    this.retryTimer = setTimeout(() => void this.elect(false), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private lost(transport: FrameDuplex, error: Error | undefined): void {
    if (transport !== this.transport) return;
    this.transport = undefined;
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

function rejection(reject: Reject): JoinRejectedError {
  if (reject.reason === 'id-taken') return new IdTakenError(reject.id ?? 0);
  if (reject.reason === 'auth-failed') return new AuthenticationError(reject.message);
  return new HandshakeError(reject.reason, reject.message);
}
