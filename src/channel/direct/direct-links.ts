import {
  type KeyObject,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { type Server, type Socket, createServer } from 'node:net';
import type { DirectAddress } from '../wire/handshake.js';
import { InboundLink, InboundState } from './direct-inbound.js';
import { OutboundLink, OutboundState } from './direct-outbound.js';
import type { Log } from '../logger.js';
import { Ticker } from '../util/ticker.js';
import type { DirectRoutes, RoutedFrame } from './direct-routes.js';

/** What the direct links need from the channel that owns them. */
export interface DirectLinksOwner {
  /** This process's peer id (0 before it joined). */
  readonly selfId: number;
  readonly incarnation: number;
  /** What this process knows of a peer (undefined: not a member). */
  peer(id: number): { incarnation: number; retiring: boolean; direct?: DirectAddress } | undefined;
  /** Data frames read from a direct link, in order, the sender's id stamped. */
  frames(frames: Buffer[]): void;
  /** The receiver read these entries. */
  confirmed(entries: RoutedFrame[]): void;
  /** These entries go through the hub after all (see Outbox.unroute). */
  unroute(entries: RoutedFrame[], mayHaveRead: boolean): void;
  /** Something can be written: a link opened, or acks are due. */
  flushSoon(): void;
  /** Acks are due: flush before the event loop waits again. */
  ackSoon(): void;
}

/** Inbound connections that have not proved themselves yet, at most (the oldest goes first). */
const MAX_UNPROVEN = 32;

/** When a link's receiver counts as stalled, and how often that is checked. */
export interface DirectLiveness {
  readonly heartbeatIntervalMs: number;
  readonly stallTimeoutMs: number;
}

/**
 * Direct links between peers: each process listens on a Linux abstract socket (no file to leave
 * behind after `kill -9`), announces it and a public key through the hub, and opens a link to a
 * peer the first time it sends it something. A message then crosses one socket instead
 * of two, and the hub neither reads nor acks it. The outbox decides, frame by frame, which path
 * may carry what (see Outbox.takeSendable); whatever a link cannot confirm goes through the hub.
 */
export class DirectLinks implements DirectRoutes {
  /** Where this process takes links, once listening (undefined: it takes none). */
  address: DirectAddress | undefined;
  private readonly privateKey: KeyObject;
  private readonly publicKey: string;
  /** The secret shared with each peer process, by `${id}.${incarnation}`. */
  private readonly secrets = new Map<string, Buffer>();
  private server: Server | undefined;
  private receiving = false;
  private readonly inbound = new Set<InboundLink>();
  private readonly acking = new Set<InboundLink>();
  private readonly outbound = new Map<number, OutboundLink>();
  /** The incarnation last tried per peer id: a link that failed is not tried again. */
  private readonly tried = new Map<number, number>();
  /** Links that took frames since the last flush. */
  private used: OutboundLink[] = [];
  private openCount = 0;
  private closed = false;
  /** stopReceiving() ran: this process takes no links any more, even if it never listened. */
  private stopped = false;
  /** Looks for stalled receivers, once the first link is made. */
  private ticker: Ticker | undefined;

  /** Whether this platform and endpoint kind can have direct links. */
  static supported(kind: string): boolean {
    return process.platform === 'linux' && kind === 'unix';
  }

  constructor(
    private readonly owner: DirectLinksOwner,
    private readonly maxFrameBytes: number,
    private readonly log: Log,
    private readonly liveness: DirectLiveness,
  ) {
    const pair = generateKeyPairSync('x25519');
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  }

  /** Starts listening. Never fails: a process that cannot listen just takes no links. */
  async listen(): Promise<void> {
    if (this.server !== undefined || this.stopped) return;
    const path = `\0nestjs-ipc-channel/${randomBytes(16).toString('hex')}`;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // exclusive: in a node:cluster or PM2 cluster worker, the primary would own it otherwise.
        server.listen({ path, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      this.server = undefined;
      this.log.warn(`direct links are off: cannot listen (${(e as Error).message})`);
      return;
    }
    server.on('error', (e) => this.log.warn(`direct link listener: ${e.message}`));
    if (this.stopped) {
      server.close(); // retired or closed while it was binding
      return;
    }
    this.receiving = true;
    this.address = { path, key: this.publicKey };
  }

  /** Whether any link can take frames (so a flush is useful while the hub is away). */
  get anyOpen(): boolean {
    return this.openCount > 0;
  }

  /** Peer ids this process sends to over a direct link right now. */
  get peers(): number[] {
    const ids: number[] = [];
    for (const [id, link] of this.outbound) if (link.state === OutboundState.Open) ids.push(id);
    return ids.sort((a, b) => a - b);
  }

  canSend(target: number): boolean {
    const link = this.outbound.get(target);
    if (link !== undefined) {
      if (link.state !== OutboundState.Open) return false;
      const peer = this.owner.peer(target);
      return peer !== undefined && peer.incarnation === link.incarnation && !peer.retiring;
    }
    this.maybeOpen(target);
    return false;
  }

  send(target: number, entry: RoutedFrame): void {
    const link = this.outbound.get(target)!;
    if (!link.hasBatch) this.used.push(link);
    link.send(entry);
  }

  /** Writes what the outbox routed to links since the last flush. */
  flushWrites(): void {
    if (this.used.length === 0) return;
    const used = this.used;
    this.used = [];
    for (const link of used) link.flush();
  }

  /**
   * Writes the acks due: with the data going to the same peer in this flush when there is
   * some (call before flushWrites), on their own otherwise.
   */
  flushAcks(): void {
    if (this.acking.size === 0) return;
    for (const link of this.acking) {
      const out = this.outbound.get(link.id);
      if (out !== undefined && out.hasBatch && out.incarnation === link.incarnation) {
        const ack = link.takeAck();
        if (ack !== undefined) out.addAck(ack);
      } else {
        link.flushAck();
      }
    }
    this.acking.clear();
  }

  /**
   * Takes nothing more over direct links (this process retires): each sender learns what was
   * read and sends the rest through the hub, which keeps it for this id's next process.
   */
  stopReceiving(): void {
    this.stopped = true;
    this.receiving = false;
    this.server?.close();
    this.server = undefined;
    this.flushAcks();
    for (const link of this.inbound) link.bye();
  }

  /** A peer process left (or its id now belongs to another one): its links are done. */
  peerGone(id: number, incarnation: number): void {
    const out = this.outbound.get(id);
    if (out !== undefined && out.incarnation === incarnation) out.destroy();
    for (const link of this.inbound) {
      if (link.id === id && link.incarnation === incarnation) link.destroy();
    }
    this.secrets.delete(`${id}.${incarnation}`);
    // The hub may have counted a live process as gone (its connection broke; it rejoins under
    // the same incarnation): if it comes back, it gets a new link.
    if (this.tried.get(id) === incarnation) this.tried.delete(id);
  }

  /** Closes every link and the listener. */
  close(): void {
    this.closed = true;
    this.ticker?.stop();
    this.stopReceiving();
    for (const link of this.outbound.values()) link.end();
    this.outbound.clear();
    this.used = [];
  }

  /** The secret shared with this peer process; undefined if it is not a member with a key. */
  private secretWith(id: number, incarnation: number): Buffer | undefined {
    const name = `${id}.${incarnation}`;
    let secret = this.secrets.get(name);
    if (secret !== undefined) return secret;
    const peer = this.owner.peer(id);
    if (peer === undefined || peer.incarnation !== incarnation || peer.direct === undefined) {
      return undefined;
    }
    try {
      const key = createPublicKey({
        key: Buffer.from(peer.direct.key, 'base64'),
        format: 'der',
        type: 'spki',
      });
      secret = diffieHellman({ privateKey: this.privateKey, publicKey: key });
    } catch {
      return undefined; // not an X25519 key: no link with this peer
    }
    this.secrets.set(name, secret);
    return secret;
  }

  private maybeOpen(target: number): void {
    const self = this.owner.selfId;
    if (self === 0 || target === self || this.closed) return;
    const peer = this.owner.peer(target);
    if (peer === undefined || peer.direct === undefined || peer.retiring) return;
    if (this.tried.get(target) === peer.incarnation) return;
    this.tried.set(target, peer.incarnation);
    const secret = this.secretWith(target, peer.incarnation);
    if (secret === undefined) return;
    const link = new OutboundLink(target, peer.incarnation, peer.direct.path, secret, {
      self: [self, this.owner.incarnation],
      opened: () => {
        this.openCount++;
        this.log.debug(`direct link to peer ${target} is open`);
        this.owner.flushSoon();
      },
      confirmed: (entries) => {
        if (!this.closed) this.owner.confirmed(entries);
      },
      closed: (closed, unconfirmed, mayHaveRead) =>
        this.linkClosed(closed, unconfirmed, mayHaveRead),
    });
    this.outbound.set(target, link);
    this.ticker ??= new Ticker(this.liveness.heartbeatIntervalMs, (now, resumed) =>
      this.dropStalled(now, resumed),
    );
  }

  /**
   * A link's acks are its heartbeat: a receiver reading what it is sent acks within a
   * millisecond, and an idle link holds nobody back. A receiver that has confirmed none of its
   * frames for stallTimeoutMs (stopped, or its event loop blocked) loses its link; what it did
   * not confirm goes through the hub, which cuts it off by the same rule, so this sender's
   * broadcasts and other messages no longer wait behind it. No new link opens to the same
   * process until it has joined again.
   */
  private dropStalled(now: number, resumed: boolean): void {
    for (const link of this.outbound.values()) {
      const stalledMs = link.stalledFor(now, resumed);
      if (stalledMs < this.liveness.stallTimeoutMs) continue;
      this.log.warn(
        `direct link to peer ${link.peer}: it confirmed nothing for ${stalledMs} ms; its messages go through the hub`,
      );
      link.destroy();
    }
  }

  private linkClosed(link: OutboundLink, unconfirmed: RoutedFrame[], mayHaveRead: boolean): void {
    // After close() the outbox has already given up on what was left.
    if (this.closed) return;
    if (this.outbound.get(link.peer) === link) this.outbound.delete(link.peer);
    this.used = this.used.filter((l) => l !== link);
    if (link.wasOpen) this.openCount--;
    for (const inbound of this.inbound) {
      if (inbound.id === link.peer && inbound.incarnation === link.incarnation && inbound.reAck()) {
        this.acking.add(inbound);
        this.owner.ackSoon();
      }
    }
    if (unconfirmed.length > 0) this.owner.unroute(unconfirmed, mayHaveRead);
  }

  private accept(socket: Socket): void {
    if (!this.receiving) {
      socket.destroy();
      return;
    }
    // Anyone on the machine can connect to an abstract socket: strangers must not pile up.
    let unproven = 0;
    let oldest: InboundLink | undefined;
    for (const l of this.inbound) {
      if (l.state === InboundState.Open) continue;
      unproven++;
      oldest ??= l;
    }
    if (unproven >= MAX_UNPROVEN) oldest?.destroy();
    const link = new InboundLink(socket, this.maxFrameBytes, {
      self: () => [this.owner.selfId, this.owner.incarnation],
      secretWith: (id, incarnation) =>
        id === this.owner.selfId ? undefined : this.secretWith(id, incarnation),
      frames: (_link, frames) => this.owner.frames(frames),
      acked: (l, seq) => {
        const out = this.outbound.get(l.id);
        if (out !== undefined && out.incarnation === l.incarnation) out.acked(seq);
      },
      needsAck: (l) => {
        this.acking.add(l);
        this.owner.ackSoon();
      },
      closed: (l) => {
        this.inbound.delete(l);
        this.acking.delete(l);
      },
    });
    this.inbound.add(link);
  }
}
