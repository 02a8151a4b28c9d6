/**
 * How the Nest layer picks and expects peers on a federated channel, against a stand-in for the
 * channel's federated membership (its peers, their meta, leaves): a request without a target
 * prefers this host's handlers and falls back to other hosts' only when none is left; a gather
 * expects every handler of every host, in the channel's order; a remote peer's leave fails its
 * requests whether or not they were confirmed; an absent remote id is never "restarting".
 * The same behaviour over real hosts is in federation-hosts.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { Channel } from '../../src/channel/channel.js';
import type { PeerDetails } from '../../src/channel/channel-events.js';
import type { PeerId } from '../../src/channel/channel-target.js';
import { expectedPeers } from '../../src/nest/client/gather.js';
import { PeerLeftError, PeerUnavailableError } from '../../src/nest/ipc.errors.js';
import { HandlerDirectory } from '../../src/nest/shared/handler-directory.js';
import { type PendingRequest, PendingRequests } from '../../src/nest/shared/pending-requests.js';
import type { SharedChannel } from '../../src/nest/shared/shared-channel.js';
import { comparePeers } from '../../src/nest/shared/peer-id.js';
import { thrown } from '../helpers/thrown.js';

/** What the Nest layer reads of a federated channel: members with meta, sends, confirmations. */
class Membership extends EventEmitter {
  readonly name = 'fed';
  readonly host = 'A';
  readonly id = 1;
  readonly hubId = 1;
  readonly connected = true;
  _lastSeq = 0;
  readonly unconfirmed = new Set<number>();
  readonly sent: { target: PeerId | string; event: string; args: unknown[] }[] = [];
  private readonly members = new Map<PeerId, PeerDetails>();

  get peers(): PeerId[] {
    return [...this.members.keys()].sort(comparePeers);
  }

  peerInfo(id: PeerId): PeerDetails | undefined {
    return this.members.get(id);
  }

  /** `id` joins handling message routes `m`. */
  add(id: PeerId, m: string[], retiring = false): void {
    const host = typeof id === 'string' ? id.split('/')[0] : undefined;
    this.members.set(id, { id, pid: 1000, meta: { nest: { m, e: [] } }, retiring, host });
    this.emit('join', id);
  }

  remove(id: PeerId): void {
    this.members.delete(id);
    this.emit('leave', id);
  }

  setMeta(meta: unknown): void {
    const self = this.members.get(this.id);
    if (self !== undefined) this.members.set(this.id, { ...self, meta });
  }

  to(target: PeerId | string) {
    return {
      emit: (event: string, ...args: unknown[]) => {
        this.sent.push({ target, event, args });
        this._lastSeq++;
        return true;
      },
    };
  }

  _isUnconfirmed(seq: number): boolean {
    return this.unconfirmed.has(seq);
  }
}

let members: Membership;
let channel: Channel;
beforeEach(() => {
  members = new Membership();
  channel = members as unknown as Channel;
});
afterEach(() => {
  members.emit('close'); // stops the directory's timers
});

/** A request as the ledger holds it; failures are recorded. */
function request(target: PeerId, failures: Error[]): PendingRequest {
  return {
    target,
    pattern: 'sum',
    owner: members,
    seq: -1,
    onResponse: () => {},
    onFailure: (e) => failures.push(e),
  };
}

test('a request without a target takes turns among this host, and goes to other hosts only when no local peer is left', () => {
  const directory = new HandlerDirectory(channel, 1000);
  members.add(1, ['sum']);
  members.add(2, ['sum']);
  members.add('B/1', ['sum']);
  members.add('C/4', ['sum']);
  members.add('B/2', ['other']);
  expect([1, 2, 3, 4].map(() => directory.pickPeer('sum'))).toEqual([1, 2, 1, 2]);
  // Both local handlers refused it (shutting down, just left): other hosts' take turns.
  const tried = new Set<PeerId>([1, 2]);
  expect([1, 2, 3].map(() => directory.pickPeer('sum', tried))).toEqual(['B/1', 'C/4', 'B/1']);
  expect(directory.pickPeer('sum', new Set<PeerId>([1, 2, 'B/1', 'C/4']))).toBeUndefined();
  // With no local handler at all, every pick is remote.
  members.remove(1);
  members.remove(2);
  expect([1, 2, 3].map(() => directory.pickPeer('sum'))).toEqual(['C/4', 'B/1', 'C/4']);
  expect(directory.pickPeer('other')).toBe('B/2');
});

test('a gather expects every handler of every host in the channel order; host only this host; others all but this process', () => {
  const shared = {
    channel,
    directory: new HandlerDirectory(channel, 1000),
    requests: new PendingRequests(channel, 1000),
  } as unknown as SharedChannel;
  members.add(1, ['sum']);
  members.add('C/1', ['sum']);
  members.add(3, ['sum']);
  members.add('B/2', ['sum']);
  members.add('B/10', ['sum'], true); // shutting down: still owed a reply (its refusal)
  members.add('B/3', ['other']);
  members.add(2, []);
  expect(expectedPeers(shared, 'all', 'sum')).toEqual([1, 3, 'B/2', 'B/10', 'C/1']);
  expect(expectedPeers(shared, 'others', 'sum')).toEqual([3, 'B/2', 'B/10', 'C/1']);
  expect(expectedPeers(shared, 'host', 'sum')).toEqual([1, 3]);
  // A host dropped: its peers leave, and are no longer expected (nor "restarting").
  members.remove('B/2');
  members.remove('B/10');
  members.remove('B/3');
  expect(expectedPeers(shared, 'all', 'sum')).toEqual([1, 3, 'C/1']);
  // A local peer that left moments ago is expected back; a remote one is not.
  members.remove(3);
  expect(expectedPeers(shared, 'all', 'sum')).toEqual([1, 3, 'C/1']);
});

test("a remote peer's leave fails its requests, read or not; a local one's unconfirmed request waits for the hub's verdict", () => {
  const requests = new PendingRequests(channel, 1000);
  members.add('B/1', ['sum']);
  members.add(2, ['sum']);
  const failures: Error[] = [];
  const toB = request('B/1', failures);
  const toLocal = request(2, failures);
  requests.send('B/1', 'r1', { pattern: 'sum', data: [1] }, false, toB);
  requests.send(2, 'r2', { pattern: 'sum', data: [2] }, false, toLocal);
  expect(members.sent.map((s) => [s.target, s.args[0]])).toEqual([
    ['B/1', 'r1'],
    [2, 'r2'],
  ]);
  // Neither is confirmed yet (not in B's inbox, not read by 2).
  members.unconfirmed.add(toB.seq).add(toLocal.seq);
  members.remove('B/1');
  members.remove(2);
  expect(failures).toHaveLength(1);
  expect(failures[0]).toBeInstanceOf(PeerLeftError);
  expect((failures[0] as PeerLeftError).peer).toBe('B/1');
  expect(failures[0]!.message).toBe(
    "Peer B/1 left before answering 'sum'. The request may or may not have run there; retry if it is safe to.",
  );
});

test('a request to a remote peer not in the view, or shutting down, is refused before it is sent; never as restarting', () => {
  const requests = new PendingRequests(channel, 1000);
  members.add('B/1', ['sum'], true);
  const failures: Error[] = [];
  const unknown = thrown<PeerUnavailableError>(() =>
    requests.send('B/9', 'r1', { pattern: 'sum', data: [] }, false, request('B/9', failures)),
  );
  expect(unknown).toBeInstanceOf(PeerUnavailableError);
  expect([unknown.peer, unknown.retiring, unknown.restarting]).toEqual(['B/9', false, false]);
  const retiring = thrown<PeerUnavailableError>(() =>
    requests.send('B/1', 'r2', { pattern: 'sum', data: [] }, false, request('B/1', failures)),
  );
  expect([retiring.peer, retiring.retiring]).toEqual(['B/1', true]);
  expect(members.sent).toEqual([]);
  // A remote peer that left is unknown from then on: no restart is expected of it.
  members.add('B/2', ['sum']);
  members.remove('B/2');
  expect(requests.history.absent('B/2')).toEqual({ kind: 'unknown' });
  expect(requests.history.expectedAbsent('sum')).toEqual([]);
});
