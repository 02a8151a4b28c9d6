import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** First frame on every connection, hub → peer. */
export interface HubHello {
  protocol: number;
  name: string;
  codec: string;
  /** Random challenge; a peer proves the secret by an HMAC over it. */
  nonce: string;
  secured: boolean;
  /** The largest frame the hub reads: a peer sends none larger. */
  maxFrameBytes: number;
}

/**
 * How strongly a peer wants an id:
 * - `explicit`: the `id` option; fails if a live peer has it.
 * - `rejoin`: the id it already had before a failover or reconnect.
 * - `preferred`: derived (PM2 instance); waits a while for its previous holder to leave.
 * - `none`: any; gets the lowest free id.
 */
export type ClaimKind = 'explicit' | 'rejoin' | 'preferred' | 'none';

/** Peer → hub, after HubHello. */
export interface JoinRequest {
  protocol: number;
  name: string;
  codec: string;
  incarnation: number;
  pid: number;
  /** The PID namespace `pid` belongs to (see util/liveness.ts); absent from older peers. */
  pidNs?: string;
  claim: number;
  kind: ClaimKind;
  /** For `preferred`: how long to wait for the id before taking another (the joiner's choice). */
  waitMs?: number;
  /** Shutting down: joined only to finish; nothing held for its id is released to it. */
  retiring?: boolean;
  /**
   * With `retiring`: the last sequence this process consumed from each sender incarnation. A
   * sender resends what an earlier hub had not acked; those frames were read here already and
   * must not go to this id's next process.
   */
  consumed?: ConsumedMarks;
  /** For `rejoin`: the peers this one expects back (id, incarnation, pid), for a hub that did not know them. */
  expected?: { id: number; incarnation: number; pid: number; pidNs?: string }[];
  meta: unknown;
  /** The largest frame this peer reads: the hub refuses to hand it a larger one. */
  maxFrameBytes?: number;
  /** The highest leadership epoch this process has seen (absent before its first join). */
  epoch?: number;
  /** Challenge for the hub, so a peer with a secret knows the hub has it too. */
  nonce: string;
  proof?: string;
  /** Where this peer takes direct links from other peers (absent: it takes none). */
  direct?: DirectAddress;
}

/**
 * Where a peer listens for direct links, announced to the other peers through the hub (which
 * vouches for the id it comes with): the abstract socket's name, and the peer's X25519 public
 * key. Two peers derive a secret only they share, so each end of a link proves who it is.
 */
export interface DirectAddress {
  path: string;
  /** X25519 public key, SPKI DER, base64. */
  key: string;
}

/** Receiver → sender, the first frame of a direct link. */
export interface DirectHello {
  nonce: string;
}

/** Sender → receiver: who it is, and proof (under the pair's shared secret) that it is. */
export interface DirectJoin {
  id: number;
  incarnation: number;
  nonce: string;
  proof: string;
}

/** Receiver → sender: proof that it is the peer that announced the address. */
export interface DirectWelcome {
  proof: string;
}

/** A peer as a direct link names it: id and incarnation. */
export type PeerName = readonly [id: number, incarnation: number];

/**
 * Proof on a direct link, under the secret only its two ends can derive: bound to the other
 * end's challenge, to which side speaks, and to both ends' ids and incarnations, so a member
 * cannot pass for another member, nor replay a proof on another link.
 */
export function directProof(
  secret: Buffer,
  role: 'join' | 'welcome',
  nonce: string,
  from: PeerName,
  to: PeerName,
): string {
  return createHmac('sha256', secret)
    .update(`direct-${role}\0${nonce}\0${from[0]}.${from[1]}\0${to[0]}.${to[1]}`)
    .digest('hex');
}

/** Whether `value` (from a peer's Join) is a well-formed direct address. */
export function isDirectAddress(value: unknown): value is DirectAddress {
  const v = value as DirectAddress | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.path === 'string' &&
    v.path.length > 0 &&
    v.path.length <= 200 &&
    typeof v.key === 'string' &&
    v.key.length <= 128
  );
}

/** Hub → peer: joined. */
export interface Welcome {
  id: number;
  hubId: number;
  hubPid: number;
  /** Every joined peer, this one included. */
  peers: PeerRecord[];
  /** The leadership epoch of this hub (see Channel.epoch). */
  epoch: number;
  proof?: string;
  /**
   * What the id's previous process, retired less than graceMs ago, had consumed: a sender that
   * rejoins late writes those frames again, and they are copies for this process too.
   */
  consumed?: ConsumedMarks;
}

/** The last sequence a process consumed from each sender incarnation. */
export type ConsumedMarks = [incarnation: number, seq: number][];

/** Peer → hub, the optional body of Leave. */
export interface LeaveNotice {
  /** A retiring process's marks when its retirement was confirmed (see Welcome.consumed). */
  consumed?: ConsumedMarks;
}

/** Hub → peer: not joined; the connection closes after this. */
export interface Reject {
  reason: string;
  message: string;
  id?: number;
}

/** Hub → peers: the hub is closing; `successor` should take over first. */
export interface Handover {
  successor: number;
}

/** Hub → peer: the hub closes this connection because of what the peer sent. */
export interface Fault {
  code: string;
  message: string;
}

/** Hub → peers: the hub's epoch rose. */
export interface EpochNotice {
  epoch: number;
}

export interface PeerLeave {
  id: number;
  incarnation: number;
  reason: 'left' | 'lost';
}

export interface PeerMetaUpdate {
  id: number;
  meta: unknown;
}

export interface Nack {
  reason: string;
  seqs: number[];
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** Proof that the peer knows the secret, bound to the hub's challenge and the channel name. */
export function joinProof(secret: Buffer, hubNonce: string, name: string): string {
  return createHmac('sha256', secret).update(`join\0${hubNonce}\0${name}`).digest('hex');
}

/** Proof that the hub knows the secret, bound to the peer's challenge. */
export function welcomeProof(secret: Buffer, peerNonce: string, name: string): string {
  return createHmac('sha256', secret).update(`welcome\0${peerNonce}\0${name}`).digest('hex');
}

export function proofsMatch(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

/** What the hub knows of a joined peer, as announced to the others. */
export interface PeerRecord {
  id: number;
  incarnation: number;
  pid: number;
  /** The PID namespace of `pid`: only in the same one does the pid tell whether it runs. */
  pidNs?: string;
  meta: unknown;
  /** Shutting down: takes no new messages (they wait for the id's next holder). */
  retiring?: boolean;
  /** Where it takes direct links from other peers. */
  direct?: DirectAddress;
}
