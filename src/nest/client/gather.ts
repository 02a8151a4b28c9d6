import { Observable } from 'rxjs';
import type { SharedChannel } from '../shared/shared-channel.js';
import type { IpcReply } from './ipc-reply.interface.js';

/** A request to one peer, as the client makes it (values, then completion, or an error). */
export type SingleRequest = (peer: number) => Observable<unknown>;

/**
 * The peers a gather of `route` expects an answer from: every peer that handles it now, those
 * shutting down that handled it (each one's reply is the hub's refusal, or with waitForRestart
 * its successor's answer), and those expected back (see IdHistory.expectedAbsent): a peer whose process left less than
 * graceMs ago, and under PM2 every instance of the app. Ascending.
 */
export function expectedPeers(
  shared: SharedChannel,
  target: 'all' | 'others',
  route: string,
): number[] {
  const self = shared.channel.id;
  const ids = new Set(shared.directory.peersHandling(route));
  for (const id of shared.directory.retiringHandling(route)) ids.add(id);
  for (const id of shared.requests.history.expectedAbsent(route)) ids.add(id);
  if (target === 'others' && self !== undefined) ids.delete(self);
  return [...ids].sort((a, b) => a - b);
}

/**
 * A gather: one request to each expected peer, each answer as an IpcReply. A peer that is
 * absent (restarting) is asked too: the hub refuses the request at once, and the refusal is
 * that peer's IpcReply (PeerUnavailableError), unless the client waits for restarts. Completes
 * once every expected peer has answered, failed or left.
 */
export function gather(
  shared: SharedChannel,
  target: 'all' | 'others',
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
