import { type PeerId, parsePeerId } from '../channel-target.js';
import type { PeerDetails } from '../channel-events.js';
import type { Membership } from './membership.js';
import type { RemoteMembership } from './remote-membership.js';

/** The channel's answers about peers: this host's from the hub, other hosts' from the bridge. */
export class PeerDirectory {
  constructor(
    private readonly membership: Membership,
    private readonly remote: RemoteMembership,
    /** This host's name when federated. */
    private readonly host: string | undefined,
  ) {}

  /** Local ids ascending, then remote `'<host>/<id>'` by host, then id. */
  peers(): PeerId[] {
    const local: PeerId[] = [...this.membership.ids()];
    return this.host === undefined ? local : local.concat(this.remote.ids());
  }

  /** Known hosts, this one included, sorted; empty without federation. */
  hosts(): string[] {
    if (this.host === undefined) return [];
    const names = this.remote.hostNames();
    if (!names.includes(this.host)) names.push(this.host);
    return names.sort();
  }

  info(id: PeerId): PeerDetails | undefined {
    if (typeof id === 'number') return this.local(id);
    const at = typeof id === 'string' ? parsePeerId(id) : undefined;
    if (at === undefined) return undefined;
    if (at.host === this.host) return this.local(at.id);
    const p = this.remote.get(at.host, at.id);
    return p === undefined
      ? undefined
      : { id: p.id, pid: p.pid, meta: p.meta, retiring: p.retiring, host: p.host };
  }

  private local(id: number): PeerDetails | undefined {
    const p = this.membership.get(id);
    if (p === undefined) return undefined;
    const info = { id: p.id, pid: p.pid, meta: p.meta, retiring: p.retiring };
    return this.host === undefined ? info : { ...info, host: this.host };
  }
}
