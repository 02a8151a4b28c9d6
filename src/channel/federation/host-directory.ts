import type { Log } from '../logger.js';
import {
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  MAX_PEER_ID,
  TARGET_ALL,
  readJson,
  writeHeader,
} from '../wire/frame.js';
import type { PeerLeave, PeerMetaUpdate, PeerRecord, Welcome } from '../wire/handshake.js';
import type { BatchAuth } from './batch-auth.js';
import type { FederationAdapter } from './federation-adapter.js';
import type { StoreHealth } from './store-health.js';

/** The event that carries the other hosts' views to this host's peers (always JSON). */
export const HOSTS_EVENT = '\u0000ipc:hosts';
const HOSTS_EVENT_BYTES = Buffer.from(HOSTS_EVENT, 'utf8');

/** One member of a host, as its bridge publishes it. */
export interface HostMember {
  id: number;
  pid: number;
  meta: unknown;
  retiring: boolean;
}

/** One host's members, as its bridge published them at `at` (its clock, ms). */
export interface HostView {
  host: string;
  at: number;
  members: HostMember[];
}

export interface HostDirectoryOptions {
  readonly host: string;
  readonly auth: BatchAuth;
  readonly health: StoreHealth;
  readonly log: Log;
  /** How often this host's view is published and the others' read. */
  readonly intervalMs: number;
  readonly hostTimeoutMs: number;
  /** Sends a data frame (the hosts event) to the hub as the bridge's own. */
  readonly send: (frame: Buffer) => number;
  /** The store was read once: the other hosts are known. */
  readonly onHostsKnown: () => void;
}

interface RemoteHost {
  view: HostView;
  /** The view's members as JSON, to tell a change from a renewal. */
  members: string;
  /** Successful reads of the store since the view was last renewed (see update). */
  misses: number;
}

/**
 * Who is on which host. This host's members come from the hub's notices to the bridge; the view
 * is published every interval (with the host timeout as its lifetime) and at once on a change.
 * The other hosts' views are read every interval; one not renewed for hostTimeoutMs (while the
 * store could be read) is dropped, and no longer gets broadcasts.
 * This host's peers get the other hosts' views (the hosts event) on every change, and again when
 * one of them joins; nothing before this bridge first read the store, so that after a hub
 * failover the peers keep the last view instead of seeing every other host leave and come back. While the store cannot be read, the last views are kept: nothing can be
 * known of them then, and dropping them would fail every request to those hosts.
 */
export class HostDirectory {
  private readonly members = new Map<number, HostMember>();
  private readonly remote = new Map<string, RemoteHost>();
  private adapter: FederationAdapter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private publishing = false;
  private publishAgain = false;
  private reading = false;
  private joined = false;
  /**
   * Whether the store was read once: until then this bridge knows no other host, and says
   * nothing to the peers (after a hub failover they keep the view the last bridge sent).
   */
  private everRead = false;
  /** The id of the peer in the hub's own process (0 if it had not joined). */
  private hubId = 0;
  private stopped = false;

  constructor(private readonly options: HostDirectoryOptions) {}

  /** The other hosts known now. */
  otherHosts(): IterableIterator<string> {
    return this.remote.keys();
  }

  /** The bridge joined its hub: these are this host's members. */
  welcome(welcome: Welcome): void {
    this.joined = true;
    this.hubId = welcome.hubId;
    for (const peer of welcome.peers) this.members.set(peer.id, member(peer));
    this.publish();
    this.sendHosts();
  }

  /** A notice from the hub about one of this host's members. */
  notice(type: FrameType, frame: Buffer): void {
    if (type === FrameType.PeerJoin) {
      const peer = readJson<PeerRecord>(frame);
      this.members.set(peer.id, member(peer));
      // The newcomer learns the other hosts.
      this.sendHosts();
    } else if (type === FrameType.PeerLeave) {
      const leave = readJson<PeerLeave>(frame);
      this.members.delete(leave.id);
    } else if (type === FrameType.PeerMeta) {
      const update = readJson<PeerMetaUpdate>(frame);
      const m = this.members.get(update.id);
      if (m === undefined) return;
      m.meta = update.meta;
    } else if (type === FrameType.PeerRetire) {
      const m = this.members.get(readJson<{ id: number }>(frame).id);
      if (m === undefined) return;
      m.retiring = true;
    } else {
      return;
    }
    this.publish();
  }

  /** Starts publishing and reading (the store is connected). */
  start(adapter: FederationAdapter): void {
    this.adapter = adapter;
    this.publish();
    void this.read();
    this.timer = setInterval(() => {
      this.publish();
      void this.read();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /**
   * Publishes this host with no members (its last process is closing): the other hosts' peers
   * see its members leave at once, and the host itself goes once that view expires.
   */
  async vacate(adapter: FederationAdapter): Promise<void> {
    const view: HostView = { host: this.options.host, at: Date.now(), members: [] };
    const sealed = this.options.auth.seal(Buffer.from(JSON.stringify(view)));
    await adapter.publishHost(sealed, this.options.hostTimeoutMs);
  }

  /** Whether no member but the hub's own peer is left on this host (nobody lives on here). */
  nobodyElse(): boolean {
    for (const id of this.members.keys()) if (id !== this.hubId) return false;
    return true;
  }

  /** This host's view as published (for tests and the bridge). */
  ownView(): HostView {
    return { host: this.options.host, at: Date.now(), members: [...this.members.values()] };
  }

  private publish(): void {
    const adapter = this.adapter;
    if (adapter === undefined || !this.joined || this.stopped) return;
    if (this.publishing) {
      this.publishAgain = true;
      return;
    }
    this.publishing = true;
    this.publishAgain = false;
    const view = this.options.auth.seal(Buffer.from(JSON.stringify(this.ownView())));
    adapter
      .publishHost(view, this.options.hostTimeoutMs)
      .then(
        () => this.options.health.ok(),
        (e: unknown) => this.options.health.failed("publish this host's view", e),
      )
      .finally(() => {
        this.publishing = false;
        if (this.publishAgain) this.publish();
      });
  }

  private async read(): Promise<void> {
    const adapter = this.adapter;
    if (adapter === undefined || this.reading || this.stopped) return;
    this.reading = true;
    let views: Map<string, Buffer>;
    try {
      views = await adapter.readHosts();
    } catch (e) {
      this.options.health.failed("read the other hosts' views", e);
      return;
    } finally {
      this.reading = false;
    }
    if (this.stopped) return;
    this.options.health.ok();
    const first = !this.everRead;
    this.everRead = true;
    this.update(views, first);
    if (first) this.options.onHostsKnown();
  }

  /** Takes the views read from the store; sends the hosts event if anything changed. */
  /**
   * Takes the views read from the store; sends the hosts event if anything changed. A host is
   * gone once the store, while it could be read, showed no renewal of its view for
   * hostTimeoutMs: counted in reads (one per interval), not in wall-clock time, because views
   * also vanish when the store restarts (their expiry ran on while it was down) and a host that
   * lives on must not be dropped, nor miss broadcasts, until it had the time to publish again.
   */
  private update(views: Map<string, Buffer>, first: boolean): void {
    let changed = first;
    const renewed = new Set<string>();
    for (const [host, raw] of views) {
      if (host === this.options.host) continue;
      const view = this.readView(host, raw);
      if (view === undefined) continue;
      const known = this.remote.get(host);
      if (known !== undefined && known.view.at === view.at) continue;
      const members = JSON.stringify(view.members);
      if (known === undefined || known.members !== members) changed = true;
      this.remote.set(host, { view, members, misses: 0 });
      renewed.add(host);
    }
    const { hostTimeoutMs, intervalMs } = this.options;
    for (const [host, known] of this.remote) {
      if (renewed.has(host) || ++known.misses * intervalMs < hostTimeoutMs) continue;
      this.remote.delete(host);
      changed = true;
    }
    if (changed) this.sendHosts();
  }

  /** A host's view, checked; undefined (and a warning) if forged or malformed. */
  private readView(host: string, raw: Buffer): HostView | undefined {
    const body = this.options.auth.open(raw);
    let view: HostView | undefined;
    try {
      if (body !== undefined) view = JSON.parse(body.toString('utf8')) as HostView;
    } catch {
      view = undefined;
    }
    if (view !== undefined && isView(view, host)) return view;
    this.options.health.warnRarely(
      `view-${host}`,
      `federation bridge: ignored host '${host}'s view: ${body === undefined ? "it does not carry this channel's secret" : 'it is malformed'}`,
    );
    return undefined;
  }

  /** Sends the other hosts' views to this host's peers (HostOnly; JSON, whatever the codec). */
  private sendHosts(): void {
    if (!this.joined || this.stopped || !this.everRead) return;
    const views = [...this.remote.values()].map((r) => r.view);
    const args = Buffer.from(JSON.stringify([views]));
    const n = HOSTS_EVENT_BYTES.length;
    const frame = Buffer.allocUnsafe(HEADER_SIZE + n + args.length);
    writeHeader(frame, FrameType.Event, FrameFlag.HostOnly, TARGET_ALL, n, 0, 0);
    HOSTS_EVENT_BYTES.copy(frame, HEADER_SIZE);
    args.copy(frame, HEADER_SIZE + n);
    this.options.send(frame);
  }
}

function member(peer: PeerRecord): HostMember {
  return { id: peer.id, pid: peer.pid, meta: peer.meta, retiring: peer.retiring === true };
}

function isView(view: HostView, host: string): boolean {
  return (
    typeof view === 'object' &&
    view !== null &&
    view.host === host &&
    typeof view.at === 'number' &&
    Array.isArray(view.members) &&
    view.members.every(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        Number.isInteger(m.id) &&
        m.id >= 1 &&
        m.id <= MAX_PEER_ID &&
        typeof m.pid === 'number' &&
        typeof m.retiring === 'boolean',
    )
  );
}
