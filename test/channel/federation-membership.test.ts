/**
 * Who is where across hosts: peers, hosts and peerInfo with '<host>/<id>' ids, and
 * 'join' / 'meta' / 'retiring' / 'leave' for peers of other hosts, from the bridge's hosts view;
 * and one leader for all hosts. Two hosts in this process share an in-memory store.
 */
import type { PeerId } from '../../src/index.js';
import { FederatedHosts } from '../helpers/federated-hosts.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'fed-members', closeTimeoutMs: 1000 });

test('peers lists this host ascending, then other hosts by host and id; hosts and peerInfo name the host', async () => {
  const hosts = new FederatedHosts(box);
  const a1 = await hosts.connected('A', { meta: { n: 'a1' } });
  const a2 = await hosts.connected('A');
  await hosts.connected('C', { meta: { n: 'c1' } });
  await hosts.connected('B');
  await hosts.connected('B');
  await until(() => a1.peers.length === 5, undefined, 'A to see B and C');
  expect(a1.peers).toEqual([1, 2, 'B/1', 'B/2', 'C/1']);
  expect(a1.hosts).toEqual(['A', 'B', 'C']);
  expect(a1.peerInfo('C/1')).toEqual({
    id: 'C/1',
    pid: process.pid,
    meta: { n: 'c1' },
    retiring: false,
    host: 'C',
  });
  expect(a2.peerInfo('A/1')).toEqual({
    id: 1,
    pid: process.pid,
    meta: { n: 'a1' },
    retiring: false,
    host: 'A',
  });
  expect(a2.peerMeta('C/1')).toEqual({ n: 'c1' });
  expect(a2.peerInfo('C/9')).toBeUndefined();
  expect(a2.peerInfo('D/1')).toBeUndefined();
});

test("a peer of another host joins, changes meta, retires and leaves: 'join', 'meta', 'retiring', 'leave' with its '<host>/<id>'", async () => {
  const hosts = new FederatedHosts(box);
  const a = await hosts.connected('A');
  const events: [string, PeerId, unknown?][] = [];
  for (const name of ['join', 'leave', 'retiring'] as const) {
    a.on(name, (id: PeerId) => events.push([name, id]));
  }
  a.on('meta', (id, meta) => events.push(['meta', id, meta]));

  const b1 = await hosts.connected('B');
  await until(() => a.peers.includes('B/1'), undefined, 'B/1 to be seen');
  const b2 = await hosts.connected('B', { meta: 'old' });
  await until(() => a.peers.includes('B/2'), undefined, 'B/2 to be seen');
  b2.setMeta('new');
  await until(() => a.peerMeta('B/2') === 'new', undefined, "B/2's new meta");
  await b2.retire();
  await until(() => a.peerInfo('B/2')?.retiring, undefined, 'B/2 to retire');
  await b2.close();
  await until(() => !a.peers.includes('B/2'), undefined, 'B/2 to leave');

  expect(events).toEqual([
    ['join', 'B/1'],
    ['join', 'B/2'],
    ['meta', 'B/2', 'new'],
    ['retiring', 'B/2'],
    ['leave', 'B/2'],
  ]);
  expect(a.peers).toEqual([1, 'B/1']);
  expect(b1.peers).toEqual([1, 'A/1']);
});

test("the view of other hosts outlives this host's hub: no 'leave' or 'join' for them when the hub moves, and messages keep crossing", async () => {
  const hosts = new FederatedHosts(box);
  const a1 = await hosts.connected('A');
  const a2 = await hosts.connected('A');
  const b = await hosts.connected('B');
  await until(() => a2.peers.includes('B/1'), undefined, 'A/2 to see B/1');
  const events: [string, PeerId][] = [];
  a2.on('join', (id) => events.push(['join', id]));
  a2.on('leave', (id) => events.push(['leave', id]));
  const got: unknown[] = [];
  a2.on('message', (sender, message) => got.push([sender, message]));

  await a1.close();
  await until(() => a2.isHub, undefined, 'A/2 to host the hub');
  expect(a2.peers).toEqual([2, 'B/1']);
  await b.to('A/2').sendConfirmed('after the move');
  await until(() => got.length === 1, undefined, 'the message through the new bridge');
  expect(got).toEqual([['B/1', 'after the move']]);
  await until(() => !b.peers.includes('A/1'), undefined, 'B to see A/1 leave');
  expect(events).toEqual([['leave', 1]]);
  expect(b.peers).toEqual([1, 'A/2']);
});

test('with federation one hub of all hosts leads, at the fencing epoch of its lease', async () => {
  const hosts = new FederatedHosts(box);
  const a = await hosts.connected('A');
  const b = await hosts.connected('B');
  await until(() => a.isLeader || b.isLeader, undefined, 'a leader');
  const leaders = [a, b].filter((ch) => ch.isLeader);
  expect(leaders).toHaveLength(1);
  expect(leaders[0]!.epoch).toBe(hosts.store.lease!.epoch);
});
