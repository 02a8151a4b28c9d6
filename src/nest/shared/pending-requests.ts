import { randomBytes } from 'node:crypto';
import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import {
  ChannelClosedError,
  type DeliveryFailure,
  DeliveryUncertainError,
} from '../../channel/errors.js';
import { PeerLeftError, PeerUnavailableError } from '../ipc.errors.js';
import { type ClientSide, requestIdOf, sendCancel, sendRequest } from '../protocol/nest-wire.js';
import { IdHistory } from './id-history.js';
import { isLocalPeer, isRemotePeer } from './peer-id.js';

/** A request waiting for its responses. */
export interface PendingRequest {
  /** The peer it went to: a number on this host, `'<host>/<id>'` on another. */
  readonly target: PeerId;
  readonly pattern: string;
  /** Who sent it (an IpcClient): closing that client abandons it. */
  readonly owner: object;
  /** The channel sequence number of its frame once sent; -1 before. */
  seq: number;
  /** A response packet arrived (still serialized, as the responder's serializer left it). */
  onResponse(raw: unknown): void;
  /** The request cannot complete (peer gone, unavailable, channel closed). */
  onFailure(error: Error): void;
}

/**
 * The requests this process sent and still waits on, by id. A request fails at once when its
 * target leaves after reading it, or when the hub cannot deliver it. A request to a peer on
 * another host fails when that peer leaves (or its host is dropped) whether or not it was read:
 * no refusal comes back across hosts.
 */
export class PendingRequests implements ClientSide {
  private readonly requests = new Map<string, PendingRequest>();
  private nextId = 1;
  /**
   * Makes request ids unique to this process: a response sent to a process that has since
   * retired is handed to the next holder of its id, which must not take it for its own request
   * with the same number.
   */
  private readonly idPrefix = `${randomBytes(6).toString('base64url')}.`;
  /** Which ids came and went: whether an absent one is restarting, and when it is back. */
  readonly history: IdHistory;
  /** Requests waiting for their target to restart (see whenBack), and how to stop each wait. */
  private readonly waiting = new Map<PendingRequest, () => void>();

  constructor(
    private readonly channel: Channel,
    /** The channel's graceMs: how long an id whose holder left counts as restarting. */
    private readonly graceMs = 5000,
  ) {
    this.history = new IdHistory(channel, graceMs);
    channel.on('leave', (peer: PeerId) => this.peerLeft(peer));
  }

  /** The hub's peer id now (a timeout names it: its event loop may be the blocked one). */
  get hubId(): number | undefined {
    return this.channel.hubId;
  }

  /** A fresh request id, unique within this process. */
  newId(): string {
    return this.idPrefix + this.nextId++;
  }

  /**
   * Sends a request; its responses go to `request` until it settles or is cancelled. `raw` is
   * the packet, or what a custom serializer made of it (`serialized`).
   */
  send(
    target: PeerId,
    id: string,
    raw: unknown,
    serialized: boolean,
    request: PendingRequest,
  ): void {
    this.refuseRemote(target, request.pattern);
    this.requests.set(id, request);
    try {
      sendRequest(this.channel, target, id, raw, serialized);
      request.seq = this.channel._lastSeq;
    } catch (e) {
      this.requests.delete(id);
      throw e;
    }
  }

  /**
   * A request to a peer on another host that is not in this host's view of it, or is shutting
   * down, cannot be refused by that host's hub (refusals do not cross hosts): it is refused
   * here, before it is sent, with what the view tells. A malformed id goes on to the channel,
   * which refuses it with InvalidTargetError.
   */
  private refuseRemote(target: PeerId, pattern: string): void {
    if (!isRemotePeer(target) || this.channel.host === undefined) return;
    const info = this.channel.peerInfo(target);
    if (info === undefined)
      throw new PeerUnavailableError(target, pattern, false, this.history.absent(target));
    if (info.retiring) throw new PeerUnavailableError(target, pattern, true);
  }

  /** Hands a response packet to the request it belongs to, if it still waits. */
  onResponse(id: string, raw: unknown): void {
    this.requests.get(id)?.onResponse(raw);
  }

  /** Forgets a request and tells its responder to stop (the caller unsubscribed). */
  cancel(id: string): void {
    const request = this.requests.get(id);
    if (request === undefined) return;
    this.requests.delete(id);
    try {
      sendCancel(this.channel, request.target, id);
    } catch {
      /* closing */
    }
  }

  /** Whether the responder has read request `id` (the hub confirmed it); false while in flight. */
  wasRead(id: string): boolean {
    const seq = this.requests.get(id)?.seq ?? -1;
    return seq >= 0 && !this.channel._isUnconfirmed(seq);
  }

  /** Removes a request that has completed. */
  settle(id: string): void {
    this.requests.delete(id);
  }

  /**
   * Fails every request `owner` (a closing IpcClient) still waits on, and tells their responders
   * to stop: its callers must hear of it rather than wait for responses nobody will take.
   */
  abandonAll(owner: object, error: Error): void {
    for (const [id, request] of [...this.requests]) {
      if (request.owner !== owner) continue;
      this.cancel(id);
      request.onFailure(error);
    }
    for (const [request, stop] of [...this.waiting]) {
      if (request.owner !== owner) continue;
      stop();
      request.onFailure(error);
    }
  }

  /** The channel closed: no request can get its response any more. */
  failAll(): void {
    for (const [id, request] of this.requests) {
      this.requests.delete(id);
      request.onFailure(new PeerLeftError(request.target, request.pattern));
    }
    // Those waiting for a restart were never delivered: they did not run.
    for (const [request, stop] of [...this.waiting]) {
      stop();
      request.onFailure(
        new ChannelClosedError(
          `send '${request.pattern}' to peer ${request.target}`,
          'the channel closed while the request waited for that peer to restart; it did not run.',
        ),
      );
    }
  }

  /** A request the hub could not deliver fails its caller, and nobody else hears of it. */
  onRequestUndelivered(error: DeliveryFailure): void {
    const id = requestIdOf(error);
    if (id === undefined) return;
    const request = this.requests.get(id);
    if (request === undefined) return;
    this.requests.delete(id);
    if (error instanceof DeliveryUncertainError) {
      // It reached the process then holding the id, which went away: it may have run there.
      request.onFailure(new PeerLeftError(request.target, request.pattern));
      return;
    }
    if (error.reason === 'frame-too-large') {
      request.onFailure(error); // a misconfiguration, not a peer coming or going
      return;
    }
    // No process received it: it did not run, and the caller may send it again.
    if (error.reason === 'channel-closed') {
      request.onFailure(new PeerLeftError(request.target, request.pattern));
      return;
    }
    const retiring = error.reason === 'peer-retiring';
    let absent = retiring ? undefined : this.history.absent(request.target);
    // Written to its holder, which closed before reading it: that process left just now.
    if (error.reason === 'peer-left' && absent?.kind === 'unknown')
      absent = { kind: 'restarting', leftMsAgo: 0 };
    request.onFailure(new PeerUnavailableError(request.target, request.pattern, retiring, absent));
  }

  /**
   * Calls `back` once a process that takes new requests holds the request's target (at once if
   * one does now),
   * or `expired` when it is not back by the time it stops counting as restarting (unless the
   * request is `timed`: its own timeout ends the wait then). Without
   * `now`, a process holding it now does not count: only one that joins from here on. Returns
   * a function that stops waiting.
   */
  whenBack(
    request: PendingRequest,
    back: () => void,
    expired: () => void,
    now = true,
    /** The request has a timeout of its own, which ends the wait: no deadline here. */
    timed = false,
  ): () => void {
    const peer = request.target;
    const holds = () => {
      const info = this.channel.peerInfo(peer);
      return info !== undefined && !info.retiring;
    };
    if (now && holds()) {
      back();
      return () => {};
    }
    const onJoin = (id: PeerId) => {
      if (id !== peer || !holds()) return;
      stop();
      back();
    };
    const deadline = Math.max(this.history.restartDeadline(peer), Date.now() + 1);
    const timer = timed
      ? undefined
      : setTimeout(() => {
          stop();
          expired();
        }, deadline - Date.now());
    const stop = () => {
      clearTimeout(timer);
      this.channel.off('join', onJoin);
      this.waiting.delete(request);
    };
    this.channel.on('join', onJoin);
    this.waiting.set(request, stop);
    return stop;
  }

  /**
   * A peer left (or restarted: the same id, a new process). Requests it had read can no longer get
   * their response: they fail now. A request it had not read yet is still on its way (or held
   * for its id after a failover): it reaches whoever holds the id next, which responds, or the
   * hub refuses it and it fails then. On another host (its peer left, or the host was dropped)
   * "confirmed" only means stored in that host's inbox and no refusal comes back: every
   * request to it fails now.
   */
  private peerLeft(peer: PeerId): void {
    const local = isLocalPeer(peer);
    for (const [id, request] of this.requests) {
      if (request.target !== peer) continue;
      if (local && request.seq >= 0 && this.channel._isUnconfirmed(request.seq)) continue;
      this.requests.delete(id);
      request.onFailure(new PeerLeftError(peer, request.pattern));
    }
  }
}
