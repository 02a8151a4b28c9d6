import { pidNamespace } from '../util/liveness.js';
import type { ExpectedPeer } from '../hub/hub.js';
import { FrameType, PROTOCOL_VERSION, controlFrame, jsonFrame } from '../wire/frame.js';
import type {
  ClaimKind,
  JoinRequest,
  PeerLeave,
  PeerMetaUpdate,
  PeerRecord,
  Welcome,
} from '../wire/handshake.js';
import { readConsumed } from '../wire/join-validation.js';
import type { Dedup } from './dedup.js';
import type { Leadership } from './leadership.js';
import type { PeerInfo } from './membership.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import type { Sender } from './sender.js';

/** How often peers presumed alive after a failover are checked for death. */
const PRESUMED_CHECK_MS = 200;

/**
 * This process among its peers: the id it claims in each Join and what it tells the hub there,
 * the Welcome that admits it, the peers that join, leave, retire or change meta ('join',
 * 'leave', 'retiring', 'meta', 'hub'), and, when the hub is lost, the peers it presumes alive
 * until the next hub confirms them or they are seen to be dead.
 */
export class Presence extends PeerPart {
  private presumedTimer: NodeJS.Timeout | undefined;

  constructor(
    ctx: PeerContext,
    private readonly dedup: Dedup,
    private readonly sender: Sender,
    private readonly leadership: Leadership,
  ) {
    super(ctx);
  }

  /** The Join for the hub that greeted this process. */
  joinRequest(): Omit<JoinRequest, 'nonce' | 'proof'> {
    const state = this.state;
    const retiring = state.retireRequested;
    return {
      protocol: PROTOCOL_VERSION,
      name: this.options.name,
      codec: this.codec.name,
      incarnation: state.incarnation,
      pid: process.pid,
      pidNs: pidNamespace() || undefined,
      ...this.claim(),
      waitMs: this.options.preferredIdWaitMs,
      expected: state.selfId !== 0 ? this.expectedPeers() : undefined,
      retiring: retiring || undefined,
      // The hub counts this process as retiring from this Join on: what it reads from here
      // is answers only, which must not count as consumed (see HubControl, Retired).
      consumed: retiring ? (state.consumedAtRetire ??= this.consumedMarks()) : undefined,
      meta: state.meta,
      direct: retiring ? undefined : state.direct?.address,
      maxFrameBytes: this.options.maxFrameBytes,
      epoch: state.epoch || undefined,
    };
  }

  /** Peers to keep ids for, should this process host the next hub. */
  expectedPeers(): ExpectedPeer[] {
    return this.membership
      .presumedAlive()
      .filter((p) => p.id !== this.state.selfId)
      .map((p) => ({ id: p.id, pid: p.pid, pidNs: p.pidNs, incarnation: p.incarnation }));
  }

  /** What this process has consumed from each known peer (for a retiring rejoin). */
  consumedMarks(): [number, number][] {
    const incarnations: number[] = [];
    for (const id of this.membership.ids()) {
      const peer = this.membership.get(id);
      if (peer !== undefined) incarnations.push(peer.incarnation);
    }
    return this.dedup.marks(incarnations);
  }

  /** A hub admitted this process (for the first time, or again after a failover). */
  joined(welcome: Welcome, hubMaxFrameBytes: number): void {
    const state = this.state;
    const first = state.selfId === 0;
    state.selfId = welcome.id;
    const change = this.membership.applySnapshot(welcome.peers);
    // This id's previous process retired moments ago: what it read, late senders write again.
    const consumed = readConsumed(welcome.consumed);
    if (consumed !== undefined) this.dedup.seed(consumed);
    // A SetMeta may have crossed the Welcome: this process's own meta is the one it last set.
    this.membership.setMeta(welcome.id, state.meta ?? null);
    this.sender.joined(hubMaxFrameBytes);
    if (state.phase === 'connecting' || state.phase === 'new')
      state.phase = state.retireRequested ? 'retiring' : 'open';
    // A reloaded worker may host the new hub under the old hub's id: a new epoch still tells.
    const epochKnown = Number.isSafeInteger(welcome.epoch);
    const hubChanged =
      welcome.hubId !== state.hubId || (epochKnown && welcome.epoch !== state.epoch);
    state.hubId = welcome.hubId;
    if (epochKnown) state.epoch = welcome.epoch;
    if (hubChanged && this.hubLink.hub !== undefined) state.counters.hubsHosted++;

    this.log.info(
      `${first ? 'joined' : 'rejoined'} channel '${this.options.name}' as peer ${welcome.id}` +
        (this.hubLink.hub !== undefined
          ? ' (hosting the hub)'
          : ` (hub: peer ${welcome.hubId || '?'})`),
    );
    // A process that was retiring when the hub changed tells the new hub too.
    if (state.retireRequested) this.hubLink.write([controlFrame(FrameType.Retire)]);
    state.connectWaiter?.();
    this.channel.emit('connect', welcome.id);
    if (hubChanged && welcome.hubId !== 0) this.channel.emit('hub', welcome.hubId);
    this.announce(
      change.left,
      change.joined.filter((p) => p.id !== state.selfId),
    );
    this.leadership.update();
  }

  /** Replaces what this process announces about itself, here and in later Joins. */
  setMeta(meta: unknown): void {
    this.state.meta = meta;
    // A Join already sent carries the old meta: the hub takes the new one before its Welcome.
    this.hubLink.writeAfterJoin([jsonFrame(FrameType.SetMeta, meta ?? null)]);
    if (this.hubLink.joined) this.membership.setMeta(this.state.selfId, meta);
  }

  /** The connection to the hub is gone (`handover`: the hub announced it); already electing. */
  disconnected(error: Error | undefined, handover: boolean): void {
    if (!handover) this.state.hubDied = true;
    this.state.counters.hubLost(handover);
    // A hub this process deposed for its silence: what ipc_channel_heartbeats_missed_total counts.
    if ((error as { code?: string } | undefined)?.code === 'ERR_IPC_HUB_UNRESPONSIVE') {
      this.state.counters.heartbeatsMissed++;
    }
    this.leadership.update();
    const name = this.options.name;
    if (handover) {
      this.log.info(`the hub of channel '${name}' is handing over; joining the next one`);
    } else {
      this.log.warn(
        `lost the hub of channel '${name}'${error ? ` (${error.message})` : ''}; electing a new one`,
      );
    }
    const dead = this.membership.presumeAll(this.state.selfId);
    this.channel.emit('disconnect', error);
    for (const p of dead) this.left(p);
    this.watchPresumed();
  }

  peerJoined(record: PeerRecord & { hub?: boolean }): void {
    const change = this.membership.applyJoin(record);
    this.announce(change.left, change.joined);
    if (record.hub && this.state.hubId !== record.id) {
      this.state.hubId = record.id;
      this.channel.emit('hub', record.id);
    }
  }

  peerLeft(leave: PeerLeave): void {
    const peer = this.membership.applyLeave(leave.id, leave.incarnation);
    if (peer !== undefined) this.left(peer);
  }

  peerMeta(update: PeerMetaUpdate): void {
    if (this.membership.setMeta(update.id, update.meta) !== undefined) {
      this.channel.emit('meta', update.id, update.meta);
    }
  }

  peerRetiring(notice: { id: number; incarnation: number }): void {
    if (this.membership.applyRetire(notice.id, notice.incarnation) !== undefined) {
      this.channel.emit('retiring', notice.id);
    }
  }

  /** The channel closed: no more checks on presumed peers. */
  stop(): void {
    clearInterval(this.presumedTimer);
  }

  private claim(): { claim: number; kind: ClaimKind } {
    const selfId = this.state.selfId;
    if (selfId !== 0) return { claim: selfId, kind: 'rejoin' };
    if (this.options.id !== undefined) return { claim: this.options.id, kind: 'explicit' };
    if (this.options.preferredId !== undefined)
      return { claim: this.options.preferredId, kind: 'preferred' };
    return { claim: 0, kind: 'none' };
  }

  private announce(left: PeerInfo[], joined: PeerInfo[]): void {
    for (const p of left) this.left(p);
    for (const p of joined) this.channel.emit('join', p.id);
  }

  private left(peer: PeerInfo): void {
    this.state.direct?.peerGone(peer.id, peer.incarnation);
    this.channel.emit('leave', peer.id);
  }

  /**
   * Peers presumed alive after a failover are checked again every few hundred ms (a peer killed
   * together with the hub leaves as soon as its death is visible) and dropped after graceMs.
   */
  private watchPresumed(): void {
    clearInterval(this.presumedTimer);
    const deadline = Date.now() + this.options.graceMs;
    this.presumedTimer = setInterval(() => {
      const left =
        Date.now() >= deadline
          ? this.membership.expirePresumed()
          : this.membership.dropDeadPresumed();
      for (const p of left) this.left(p);
      if (Date.now() >= deadline || !this.membership.anyPresumed())
        clearInterval(this.presumedTimer);
    }, PRESUMED_CHECK_MS);
    this.presumedTimer.unref();
  }
}
