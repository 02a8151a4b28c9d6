import type { EventEmitter } from 'node:events';

/** What this process knows of a peer on another host. */
export interface RemotePeerInfo {
  /** `'<host>/<id>'`. */
  readonly id: `${string}/${number}`;
  readonly host: string;
  readonly pid: number;
  meta: unknown;
  retiring: boolean;
}

/** Every host's members, as the bridge announces them (the hosts view). */
interface HostView {
  host: string;
  members: { id: number; pid: number; meta: unknown; retiring: boolean }[];
}

/** The event the bridge announces the other hosts' members with (always JSON). */
export const HOSTS_EVENT = '\u0000ipc:hosts';

/**
 * This process's view of the peers on other hosts, replaced whole by each hosts view the bridge
 * sends. The difference from the previous view becomes 'leave', 'join', 'meta' and 'retiring'
 * events with `'<host>/<id>'` ids. The view outlives the hub: after a failover it stays as it
 * was until the next hub's bridge sends a new one.
 */
export class RemoteMembership {
  private hosts = new Map<string, Map<number, RemotePeerInfo>>();
  private sortedIds: `${string}/${number}`[] | undefined;

  constructor(private readonly channel: EventEmitter) {}

  /** The other hosts known now, by name. */
  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** Every remote peer, by host name then id. */
  ids(): `${string}/${number}`[] {
    if (this.sortedIds === undefined) {
      const ids: `${string}/${number}`[] = [];
      for (const host of [...this.hosts.keys()].sort()) {
        const members = this.hosts.get(host)!;
        for (const id of [...members.keys()].sort((a, b) => a - b)) ids.push(`${host}/${id}`);
      }
      this.sortedIds = ids;
    }
    return this.sortedIds;
  }

  get(host: string, id: number): RemotePeerInfo | undefined {
    return this.hosts.get(host)?.get(id);
  }

  /**
   * Replaces the view with the bridge's, and emits what changed: leaves first, then joins, then
   * meta and retiring changes of peers known before. A malformed view is ignored whole.
   */
  apply(views: unknown, ownHost: string | undefined): void {
    const next = parseViews(views, ownHost);
    if (next === undefined) return;
    const left: RemotePeerInfo[] = [];
    const joined: RemotePeerInfo[] = [];
    const meta: RemotePeerInfo[] = [];
    const retiring: RemotePeerInfo[] = [];
    for (const [host, members] of this.hosts) {
      const now = next.get(host);
      for (const [id, peer] of members) {
        const after = now?.get(id);
        if (after === undefined || after.pid !== peer.pid) left.push(peer);
      }
    }
    for (const [host, members] of next) {
      const before = this.hosts.get(host);
      for (const [id, peer] of members) {
        const known = before?.get(id);
        if (known === undefined || known.pid !== peer.pid) {
          joined.push(peer);
          continue;
        }
        if (JSON.stringify(known.meta) !== JSON.stringify(peer.meta)) meta.push(peer);
        if (peer.retiring && !known.retiring) retiring.push(peer);
      }
    }
    this.hosts = next;
    this.sortedIds = undefined;
    for (const p of left) this.channel.emit('leave', p.id);
    for (const p of joined) this.channel.emit('join', p.id);
    for (const p of meta) this.channel.emit('meta', p.id, p.meta);
    for (const p of retiring) this.channel.emit('retiring', p.id);
  }
}

/** The views as maps; undefined unless it is an array of well-formed host views. */
function parseViews(
  views: unknown,
  ownHost: string | undefined,
): Map<string, Map<number, RemotePeerInfo>> | undefined {
  if (!Array.isArray(views)) return undefined;
  const out = new Map<string, Map<number, RemotePeerInfo>>();
  for (const view of views as HostView[]) {
    if (view === null || typeof view !== 'object') return undefined;
    const { host, members } = view;
    if (typeof host !== 'string' || host.length === 0 || host.includes('/')) return undefined;
    if (!Array.isArray(members)) return undefined;
    // The bridge lists other hosts only; this host's peers come from the hub itself.
    if (host === ownHost) continue;
    const peers = new Map<number, RemotePeerInfo>();
    for (const m of members) {
      if (m === null || typeof m !== 'object') return undefined;
      if (!Number.isInteger(m.id) || m.id < 1 || m.id > 0xffff) return undefined;
      peers.set(m.id, {
        id: `${host}/${m.id}`,
        host,
        pid: typeof m.pid === 'number' ? m.pid : 0,
        meta: m.meta ?? null,
        retiring: m.retiring === true,
      });
    }
    out.set(host, peers);
  }
  return out;
}
