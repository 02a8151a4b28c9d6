import { Observable } from 'rxjs';
import type { PeerId } from '../../channel/channel-target.js';
import { comparePeers, isLocalPeer } from '../shared/peer-id.js';
import type { SharedChannel } from '../shared/shared-channel.js';
import type { IpcReply } from './ipc-reply.interface.js';

/** A request to one peer, as the client makes it (values, then completion, or an error). */
export type SingleRequest = (peer: PeerId) => Observable<unknown>;

/** The groups a gather is made to. */
export type GatherTarget = 'all' | 'others' | 'host';

/**
 * The peers a gather of `route` expects an answer from: every peer that handles it now (on
 * every host of a federated channel, as their hosts' views announce it; on this host only for
 * `'host'`), those shutting down that handled it (each one's reply is the refusal, or with
 * waitForRestart its successor's answer), and this host's ids expected back (see
 * IdHistory.expectedAbsent): a peer whose process left less than graceMs ago, and under PM2
 * every instance of the app. In the channel's order: local ids ascending, then other hosts'.
 */
export function expectedPeers(
  shared: SharedChannel,
  target: GatherTarget,
  route: string,
): PeerId[] {
  const self = shared.channel.id;
  const ids = new Set<PeerId>(shared.directory.peersHandling(route));
  for (const id of shared.directory.retiringHandling(route)) ids.add(id);
  for (const id of shared.requests.history.expectedAbsent(route)) ids.add(id);
  if (target === 'others' && self !== undefined) ids.delete(self);
  const peers = [...ids];
  return (target === 'host' ? peers.filter(isLocalPeer) : peers).sort(comparePeers);
}

/**
 * A gather: one request to each expected peer, each answer as an IpcReply. A peer that is
 * absent (restarting) is asked too: the hub refuses the request at once, and the refusal is
 * that peer's IpcReply (PeerUnavailableError), unless the client waits for restarts. A peer on
 * another host that leaves before answering (or whose host is dropped) gives PeerLeftError.
 * Completes once every expected peer has answered, failed or left.
 */
export function gather(
  shared: SharedChannel,
  target: GatherTarget,
  route: string,
  single: SingleRequest,
): Observable<IpcReply> {
  return new Observable<IpcReply>((observer) => {
    const peers = expectedPeers(shared, target, route);
    let open = peers.length;
    if (open === 0) {
      observer.complete();
      return;
    }
    const finish = () => {
      if (--open === 0) observer.complete();
    };
    const subs = peers.map((peer) => {
      let responded = false;
      return single(peer).subscribe({
        next: (value) => {
          responded = true;
          observer.next({ peer, data: value });
        },
        error: (error: unknown) => {
          observer.next({ peer, error });
          finish();
        },
        complete: () => {
          if (!responded) observer.next({ peer });
          finish();
        },
      });
    });
    return () => subs.forEach((s) => s.unsubscribe());
  });
}
