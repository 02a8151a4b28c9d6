import type { ReadPacket, WritePacket } from '@nestjs/microservices';
import type { PeerId } from '../../channel/channel-target.js';
import type { ChannelClosedError } from '../../channel/errors.js';
import { PeerUnavailableError, RequestTimeoutError } from '../ipc.errors.js';
import type { InOrder } from '../protocol/in-order.js';
import type { PendingRequest, PendingRequests } from '../shared/pending-requests.js';

/** What every request of one IpcClient shares: made once per client, not once per request. */
export interface RequestPipes {
  /** The IpcClient: closing it abandons its requests. */
  readonly owner: object;
  readonly customSerializer: boolean;
  readonly customDeserializer: boolean;
  readonly outgoing: InOrder;
  readonly incoming: InOrder;
  readonly timeoutMs: number | undefined;
  /** Requests to a restarting peer wait for it (the client's `waitForRestart` option). */
  readonly waitForRestart: boolean;
  serialize(packet: ReadPacket & { id: string }): unknown;
  deserialize(raw: unknown): WritePacket | Promise<WritePacket>;
  /** The error a request made after close() fails with; undefined while the client is open. */
  closedError(): ChannelClosedError | undefined;
}

/** The process's requests in flight, as one request uses them. */
export type RequestLedger = Pick<
  PendingRequests,
  'hubId' | 'send' | 'cancel' | 'wasRead' | 'settle' | 'whenBack'
>;

/**
 * One request to one peer, from subscription to its response. It is one object rather than a
 * closure per step: a requester with many requests in flight would otherwise allocate several
 * closures for each.
 *
 * It is the request's teardown too: unsubscribing before the response cancels it at the
 * responder.
 */
export class RequestCall implements PendingRequest {
  seq = -1;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  /** The packet as sent (serialized when a custom serializer is set), kept to send it again. */
  private raw: unknown;
  /** Stops waiting for a restarting target; set while waiting. */
  private stopWaiting: (() => void) | undefined;
  private waits = 0;

  constructor(
    private readonly pipes: RequestPipes,
    private readonly requests: RequestLedger,
    readonly target: PeerId,
    readonly pattern: string,
    readonly id: string,
    /** Turns a response packet into observer calls (Nest's createObserver). */
    private readonly callback: (packet: WritePacket) => void,
    /** Whether this request may wait for a restarting target (requests to one chosen peer). */
    private readonly mayWait = false,
  ) {}

  get owner(): object {
    return this.pipes.owner;
  }

  /** Sends `packet` (through a custom serializer first, in order) and starts the timeout. */
  start(packet: ReadPacket & { id: string }): void {
    const pipes = this.pipes;
    if (!pipes.customSerializer && pipes.outgoing.idle) this.send(packet);
    else
      pipes.outgoing.run(
        () => (pipes.customSerializer ? pipes.serialize(packet) : packet),
        (raw) => this.send(raw),
        (error) => this.onFailure(error),
      );
    const ms = pipes.timeoutMs;
    if (ms !== undefined && !this.settled) this.timer = setTimeout(() => this.timedOut(ms), ms);
  }

  onResponse(raw: unknown): void {
    const pipes = this.pipes;
    // Without a custom deserializer, and nothing async ahead of it, a response goes on at once.
    if (!pipes.customDeserializer && pipes.incoming.idle) this.deliver(raw as WritePacket);
    else
      pipes.incoming.run(
        () => (pipes.customDeserializer ? pipes.deserialize(raw) : (raw as WritePacket)),
        (packet) => this.deliver(packet),
        (error) => this.onFailure(error),
      );
  }

  onFailure(err: unknown): void {
    if (this.settled) return;
    // Only a request that provably did not run is sent again (PeerUnavailableError is given
    // for nothing else); one its target may have read fails with PeerLeftError.
    if (
      err instanceof PeerUnavailableError &&
      err.restarting &&
      this.mayWait &&
      this.pipes.waitForRestart
    ) {
      this.waitForTarget(err);
      return;
    }
    this.settle();
    this.callback({ err, isDisposed: true });
  }

  /** The subscriber left before the response: the responder is told to stop. */
  unsubscribe(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.stopWaiting?.();
    this.requests.cancel(this.id);
  }

  /** Sends the request again once its target is back; fails with `err` if it is not in time. */
  private waitForTarget(err: PeerUnavailableError): void {
    let waiting = true;
    const stop = this.requests.whenBack(
      this,
      () => {
        waiting = false;
        this.stopWaiting = undefined;
        this.send(this.raw);
      },
      () => {
        waiting = false;
        this.stopWaiting = undefined;
        this.onFailureNow(err);
      },
      // A target this process still lists was refused: its leave is on the way, so the second
      // time the request waits for the id to join again rather than going round at once.
      this.waits++ === 0,
      this.timer !== undefined,
    );
    if (waiting) this.stopWaiting = stop;
  }

  private onFailureNow(err: unknown): void {
    if (this.settled) return;
    this.settle();
    this.callback({ err, isDisposed: true });
  }

  private send(raw: unknown): void {
    if (this.settled) return;
    this.raw = raw;
    // An async serializer may finish after close(): the request must fail, not go out.
    const closed = this.pipes.closedError();
    if (closed !== undefined) return this.onFailure(closed);
    try {
      this.requests.send(this.target, this.id, raw, this.pipes.customSerializer, this);
    } catch (e) {
      this.onFailure(e);
    }
  }

  private deliver(packet: WritePacket): void {
    if (this.settled) return;
    if (packet.err || packet.isDisposed) this.settle();
    this.callback(packet);
  }

  private timedOut(ms: number): void {
    if (this.settled) return;
    const requests = this.requests;
    const waited = this.stopWaiting !== undefined;
    const read = requests.wasRead(this.id);
    requests.cancel(this.id);
    this.settle();
    const hubId = requests.hubId;
    const err = new RequestTimeoutError(this.target, this.pattern, ms, read, hubId, waited);
    this.callback({ err, isDisposed: true });
  }

  private settle(): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.requests.settle(this.id);
  }
}
