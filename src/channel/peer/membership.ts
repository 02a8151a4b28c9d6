import { isAlive } from '../util/liveness.js';
import type { DirectAddress } from '../wire/handshake.js';
import type { PeerRecord } from '../wire/handshake.js';

/** What a peer knows about another peer. */
export interface PeerInfo {
  readonly id: number;
  readonly incarnation: number;
  readonly pid: number;
  /** The PID namespace of `pid` (absent from older peers). */
  readonly pidNs: string | undefined;
  meta: unknown;
  /**
   * Known before a failover and not yet seen on the new hub. A presumed peer is still listed:
   * its process lives and its messages are held for it until it reconnects.
   */
  presumed: boolean;
  /** Shutting down: takes no new messages, will leave once it has answered what it has. */
  retiring: boolean;
  /** Where it takes direct links (undefined: it takes none). */
  readonly direct: DirectAddress | undefined;
}

/** Changes to report, in order: peers gone, then peers new. */
export interface MembershipChange {
  readonly left: PeerInfo[];
  readonly joined: PeerInfo[];
}

/**
 * This process's view of who is in the channel. A hub failover does not look like every peer
 * leaving and joining again: peers known before it stay listed (presumed) while they reconnect,
 * and only those whose process is dead, or who do not come back within the grace period, leave.
 */
export class Membership {
  private readonly peers = new Map<number, PeerInfo>();
  private sorted: number[] | undefined;

  /** Ids of every peer, self included, ascending. */
  ids(): number[] {
    this.sorted ??= [...this.peers.keys()].sort((a, b) => a - b);
    return this.sorted;
  }

  get(id: number): PeerInfo | undefined {
    return this.peers.get(id);
  }

  has(id: number): boolean {
    return this.peers.has(id);
  }

  /** The hub connection is gone: keep everyone but self as presumed; drop the dead at once. */
  presumeAll(selfId: number): PeerInfo[] {
    const left: PeerInfo[] = [];
    for (const peer of this.peers.values()) {
      if (peer.id === selfId) continue;
      if (!isAlive(peer.pid, peer.pidNs)) {
        this.remove(peer.id);
        left.push(peer);
      } else {
        peer.presumed = true;
      }
    }
    return left;
  }

  /** Presumed peers that are still alive: the new hub keeps their ids for them. */
  presumedAlive(): PeerInfo[] {
    return [...this.peers.values()].filter((p) => p.presumed && isAlive(p.pid, p.pidNs));
  }

  /** Presumed peers whose process has died since: they leave now. */
  dropDeadPresumed(): PeerInfo[] {
    const left: PeerInfo[] = [];
    for (const peer of [...this.peers.values()]) {
      if (peer.presumed && !isAlive(peer.pid, peer.pidNs)) {
        this.remove(peer.id);
        left.push(peer);
      }
    }
    return left;
  }

  anyPresumed(): boolean {
    for (const peer of this.peers.values()) if (peer.presumed) return true;
    return false;
  }

  /** Presumed peers that never came back: they leave now. */
  expirePresumed(): PeerInfo[] {
    const left: PeerInfo[] = [];
    for (const peer of [...this.peers.values()]) {
      if (peer.presumed) {
        this.remove(peer.id);
        left.push(peer);
      }
    }
    return left;
  }

  /** The new hub's list of joined peers. Presumed peers not in it stay presumed. */
  applySnapshot(records: readonly PeerRecord[]): MembershipChange {
    const change: MembershipChange = { left: [], joined: [] };
    for (const record of records) this.merge(record, change);
    return change;
  }

  applyJoin(record: PeerRecord): MembershipChange {
    const change: MembershipChange = { left: [], joined: [] };
    this.merge(record, change);
    return change;
  }

  /** A peer left; ignored if that id now belongs to a newer incarnation. */
  applyLeave(id: number, incarnation: number): PeerInfo | undefined {
    const peer = this.peers.get(id);
    if (peer === undefined || peer.incarnation !== incarnation) return undefined;
    this.remove(id);
    return peer;
  }

  /** The peer started shutting down; ignored for an older incarnation. */
  applyRetire(id: number, incarnation: number): PeerInfo | undefined {
    const peer = this.peers.get(id);
    if (peer === undefined || peer.incarnation !== incarnation || peer.retiring) return undefined;
    peer.retiring = true;
    return peer;
  }

  setMeta(id: number, meta: unknown): PeerInfo | undefined {
    const peer = this.peers.get(id);
    if (peer !== undefined) peer.meta = meta;
    return peer;
  }

  clear(): PeerInfo[] {
    const all = [...this.peers.values()];
    this.peers.clear();
    this.sorted = undefined;
    return all;
  }

  private merge(record: PeerRecord, change: MembershipChange): void {
    const known = this.peers.get(record.id);
    if (known !== undefined && known.incarnation === record.incarnation) {
      known.presumed = false;
      known.meta = record.meta;
      known.retiring = record.retiring === true;
      return;
    }
    if (known !== undefined) {
      // Same id, new process: the old one restarted while we were not looking.
      this.remove(known.id);
      change.left.push(known);
    }
    const peer: PeerInfo = {
      id: record.id,
      incarnation: record.incarnation,
      pid: record.pid,
      pidNs: typeof record.pidNs === 'string' ? record.pidNs : undefined,
      meta: record.meta,
      presumed: false,
      retiring: record.retiring === true,
      direct: record.direct,
    };
    this.peers.set(peer.id, peer);
    this.sorted = undefined;
    change.joined.push(peer);
  }

  private remove(id: number): void {
    this.peers.delete(id);
    this.sorted = undefined;
  }
}
