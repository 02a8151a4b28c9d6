import { type Endpoint, ensurePrivateDirectory } from '../endpoint/endpoint.js';
import { connectTimeoutError } from '../election/election.js';
import { ChannelClosedError, type IpcChannelError } from '../errors.js';
import { FrameType, controlFrame } from '../wire/frame.js';
import type { Leadership } from './leadership.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import type { Presence } from './presence.js';
import type { Sender } from './sender.js';

/**
 * How long after the first send queued before connect() the channel says that connect() was
 * never called. A program that means to connect does so as part of its startup, which ends well
 * within this (a Nest app boots in well under a second to a few seconds); one that forgot would
 * otherwise queue silently forever, and 5 s is soon enough to be seen while trying things out.
 * A later connect() still sends everything queued, so the warning is never wrong, only early.
 */
const UNCONNECTED_WARNING_MS = 5000;

/**
 * A channel's life: joining (connect), taking nothing new (retire), and leaving (close), each
 * started once; a second call gets the first one's promise.
 */
export class Lifecycle extends PeerPart {
  private connecting: Promise<void> | undefined;
  private retirement: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Runs out UNCONNECTED_WARNING_MS after the first send queued before connect(). */
  private unconnectedTimer: NodeJS.Timeout | undefined;
  private unconnectedWarned = false;

  constructor(
    ctx: PeerContext,
    /** Where the hub listens; its directory is made private before the first election. */
    private readonly hubAddress: Endpoint,
    private readonly sender: Sender,
    private readonly presence: Presence,
    private readonly leadership: Leadership,
  ) {
    super(ctx);
    sender.queuedWhileNew = () => this.expectConnect();
  }

  /** See Channel.connect. */
  connect(): Promise<void> {
    const state = this.state;
    if (state.phase === 'closing' || state.phase === 'closed') {
      return Promise.reject(new ChannelClosedError('connect'));
    }
    if (this.connecting !== undefined) return this.connecting;
    this.stopExpectingConnect();
    state.phase = 'connecting';
    this.connecting = new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.connectTimeoutMs;
      const timer = setTimeout(() => {
        settle(connectTimeoutError(timeoutMs, this.hubAddress));
      }, timeoutMs);
      const settle = (error?: IpcChannelError) => {
        clearTimeout(timer);
        state.connectWaiter = undefined;
        if (error === undefined) {
          resolve();
          return;
        }
        reject(error);
        void this.shutDown(false);
      };
      state.connectWaiter = settle;
      try {
        if (this.hubAddress.dir !== '') ensurePrivateDirectory(this.hubAddress.dir);
      } catch (e) {
        settle(e as IpcChannelError);
        return;
      }
      // Listening for direct links first: the Join announces where.
      const direct = state.direct;
      if (direct === undefined) this.hubLink.start();
      else
        void direct.listen().then(() => {
          if (state.phase === 'connecting') this.hubLink.start();
        });
    });
    return this.connecting;
  }

  /**
   * A send was queued before connect() was called: if connect() still has not been called
   * UNCONNECTED_WARNING_MS later, says so, once (through the logger, or as a process warning).
   */
  private expectConnect(): void {
    if (this.unconnectedTimer !== undefined || this.unconnectedWarned) return;
    this.unconnectedTimer = setTimeout(() => {
      this.unconnectedTimer = undefined;
      this.unconnectedWarned = true;
      const queued = this.outbox.size;
      const message =
        `Channel '${this.options.name}' has ${queued} message${queued === 1 ? '' : 's'} queued, ` +
        `and connect() was not called ${UNCONNECTED_WARNING_MS / 1000} s after the first. ` +
        'Nothing is sent before it: call (and await) channel.connect(), or close() the channel.';
      if (this.log.enabled) this.log.warn(message);
      else process.emitWarning(message, { type: 'IpcChannelWarning', code: 'IPC_NOT_CONNECTED' });
    }, UNCONNECTED_WARNING_MS);
    // A warning must not keep a process alive that would otherwise exit.
    this.unconnectedTimer.unref();
  }

  private stopExpectingConnect(): void {
    clearTimeout(this.unconnectedTimer);
    this.unconnectedTimer = undefined;
    this.unconnectedWarned = true;
  }

  /** The link gave up joining (`initial`: before this process ever joined). */
  failed(error: IpcChannelError, initial: boolean): void {
    if (initial && this.state.connectWaiter !== undefined) {
      this.state.connectWaiter(error);
      return;
    }
    this.errors.report(error);
  }

  /** See Channel.retire. */
  retire(): Promise<void> {
    const state = this.state;
    if (state.phase === 'closing' || state.phase === 'closed') return Promise.resolve();
    if (this.retirement !== undefined) return this.retirement;
    state.retireRequested = true;
    this.hubLink.retiring = true;
    this.leadership.update();
    // Senders learn what was read on each direct link and send the rest through the hub, which
    // keeps it for this id's next process like anything else sent from here on. Also while no
    // hub is joined: links do not wait for one.
    state.direct?.stopReceiving();
    if (state.phase === 'open' || state.phase === 'connecting') state.phase = 'retiring';
    if (state.phase === 'new' || (!this.hubLink.joined && !this.hubLink.joinPending)) {
      // Nothing can be on its way to a process that is not joined; its next Join says it retires.
      this.retirement = Promise.resolve();
      return this.retirement;
    }
    // Joined, or a Join is out without it: the Welcome may bring what the hub held for this id,
    // and the Retire then goes right after it (Presence.joined).
    this.retirement = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        state.retireWaiter = undefined;
        resolve();
      };
      // Bounded: a hub that never answers must not keep a process from exiting.
      const timer = setTimeout(done, this.options.closeTimeoutMs);
      timer.unref();
      state.retireWaiter = done;
    });
    if (this.hubLink.joined) this.hubLink.write([controlFrame(FrameType.Retire)]);
    return this.retirement;
  }

  /**
   * Leaves the channel: `graceful` (close()) retires first and waits for the outbox to settle;
   * otherwise (a failed connect) it just goes. Messages still unconfirmed are undeliverable.
   */
  shutDown(graceful: boolean): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const state = this.state;
    const wasOpen = state.phase === 'open' || state.phase === 'retiring';
    const hostedHub = this.hubLink.hub !== undefined;
    this.stopExpectingConnect();
    this.leadership.resign();
    this.closing = (async () => {
      const started = Date.now();
      const closeTimeoutMs = this.options.closeTimeoutMs;
      if (graceful && wasOpen) {
        // Take nothing new, read what is on its way, answer it: then leave.
        this.log.info(`closing: peer ${state.selfId} takes nothing new`);
        await this.retire();
        if (!this.sender.settled()) await this.sender.waitUntilSettled(closeTimeoutMs);
      }
      state.phase = 'closing';
      if (graceful && wasOpen && !this.sender.settled()) {
        await this.sender.waitUntilSettled(closeTimeoutMs);
      }
      if (graceful && this.hubLink.joined) {
        const consumed = state.consumedAtRetire;
        await this.hubLink.leave(1000, consumed === undefined ? undefined : { consumed });
        this.sender.flush(); // the final Receipt for what arrived before Bye
      }
      await this.hubLink.close();
      state.direct?.close();
      this.presence.stop();
      // Messages the hub holds for an absent peer stay in its custody after a peer leaves; only
      // a hub process takes its own held messages with it.
      for (const lost of this.outbox.takeAll(hostedHub)) {
        this.errors.failed(lost.frame, 'channel-closed', lost.mayHaveBeenRead);
      }
      // What the hub still holds for an absent peer is no longer this process's to confirm.
      this.outbox.confirmations.abandon(
        new ChannelClosedError(
          'learn whether the message was delivered',
          'the channel closed while the hub held it for a peer id nobody held; it is delivered if that id is taken within graceMs.',
        ),
      );
      state.connectWaiter?.(new ChannelClosedError('join the channel'));
      state.phase = 'closed';
      this.log.info(`closed channel '${this.options.name}' in ${Date.now() - started} ms`);
      this.channel.emit('close');
    })();
    return this.closing;
  }
}
