/**
 * Addressing across hosts: peers of other hosts as '<host>/<id>', senders as they are seen,
 * 'host' / 'all' / 'others', confirmation once stored, dedup of inbox entries read twice, and
 * typed errors for bad targets. Two hosts in this process share an in-memory store.
 */
import { once } from 'node:events';
import { type Channel, InvalidTargetError, type PeerId } from '../../src/index.js';
import { FederatedHosts } from '../helpers/federated-hosts.js';
import { sandbox } from '../helpers/sandbox.js';
import { thrown } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'fed-addr', closeTimeoutMs: 1000 });

/** Collects `event` as it reaches `ch`: (sender, first argument). */
function collect(ch: Channel, event: string): [PeerId, unknown][] {
  const got: [PeerId, unknown][] = [];
  ch.on(event, (sender: PeerId, value: unknown) => got.push([sender, value]));
  return got;
}

test('a message to a peer on another host arrives from "<host>/<id>", and the answer to that sender comes back', async () => {
  const hosts = new FederatedHosts(box);
  const a = await hosts.connected('A');
  const b = await hosts.connected('B');
  expect([a.host, b.host]).toEqual(['A', 'B']);

  const atB = once(b, 'message');
  await a.to('B/1').sendConfirmed({ hello: 'from A' });
  expect(hosts.store.appended.map((e) => e.host)).toEqual(['B']);
  expect(await atB).toEqual(['A/1', { hello: 'from A' }]);

  const atA = once(a, 'message');
  b.to('A/1').send('hi back');
  expect(await atA).toEqual(['B/1', 'hi back']);
});

test('with a binary secret on every host, what crosses is sealed with it and arrives', async () => {
  const hosts = new FederatedHosts(box);
  const secret = Buffer.from([0, 255, 1, 254]);
  const a = await hosts.connected('A', { secret });
  const b = await hosts.connected('B', { secret });
  const atB = once(b, 'message');
  await a.to('B/1').sendConfirmed('sealed');
  expect(await atB).toEqual(['A/1', 'sealed']);
});

test("'<own host>/<id>' is the local peer: it never goes to the store", async () => {
  const hosts = new FederatedHosts(box);
  const a1 = await hosts.connected('A');
  const a2 = await hosts.connected('A');
  expect(a1.to('A/2')).toBe(a1.to('A/2'));
  const got = once(a2, 'message');
  await a1.to('A/2').sendConfirmed('local');
  expect(await got).toEqual([1, 'local']);
  expect(hosts.store.appended).toEqual([]);
});

test("'host' reaches this host's peers only; 'all' and 'others' reach every host", async () => {
  const hosts = new FederatedHosts(box);
  const a1 = await hosts.connected('A');
  const a2 = await hosts.connected('A');
  const b = await hosts.connected('B');
  const [at1, at2, atB] = [collect(a1, 'tick'), collect(a2, 'tick'), collect(b, 'tick')];
  // A broadcast crosses to the hosts its bridge knows of.
  await until(() => a1.hosts.length === 2, undefined, 'A to know of B');

  await a1.to('host').emitConfirmed('tick', 'host');
  await a1.to('others').emitConfirmed('tick', 'others');
  await a1.to('all').emitConfirmed('tick', 'all');
  await until(() => atB.length === 2, undefined, "B to read 'others' and 'all'");
  await until(() => at1.length === 2 && at2.length === 3, undefined, 'host A to read all');

  expect(at1).toEqual([
    [1, 'host'],
    [1, 'all'],
  ]);
  expect(at2).toEqual([
    [1, 'host'],
    [1, 'others'],
    [1, 'all'],
  ]);
  // What crossed: 'others' and 'all', nothing of 'host'.
  expect(atB).toEqual([
    ['A/1', 'others'],
    ['A/1', 'all'],
  ]);
});

test('an inbox entry read twice (a bridge took over before acknowledging it) is delivered once', async () => {
  const hosts = new FederatedHosts(box);
  const a = await hosts.connected('A');
  const b = await hosts.connected('B');
  const got = collect(b, 'message');
  await a.to('B/1').sendConfirmed('first');
  await until(() => got.length === 1, undefined, 'the first message');
  const [entry] = hosts.store.appended;
  hosts.store.push('B', entry!.batch);
  await a.to('B/1').sendConfirmed('second');
  await until(() => got.length === 2, undefined, 'the second message');
  expect(got).toEqual([
    ['A/1', 'first'],
    ['A/1', 'second'],
  ]);
});

test('a message to a host not known (yet) is stored in its inbox and confirmed: that host may be starting', async () => {
  const hosts = new FederatedHosts(box);
  const a = await hosts.connected('A');
  await a.to('Z/4').sendConfirmed('for later');
  expect(hosts.store.appended.map((e) => e.host)).toEqual(['Z']);
  expect(hosts.store.unacked('Z')).toBe(1);
  expect(a.to('Z/4', { hold: false })).toBe(a.to('Z/4', { hold: false }));
  expect(a.to('Z/4', { hold: false })).not.toBe(a.to('Z/4'));
});

test('malformed targets throw InvalidTargetError; another host without federation is refused the same way', async () => {
  const hosts = new FederatedHosts(box);
  const a = hosts.channel('A');
  for (const target of [
    'b',
    'x/0',
    'x/y',
    '/3',
    'x/65533',
    'x/1/2',
    'x/01',
    `${'h'.repeat(65)}/1`,
  ]) {
    const err = thrown<InvalidTargetError>(() => a.to(target as never));
    expect(err).toBeInstanceOf(InvalidTargetError);
    expect(err.message).toContain("'<host>/<id>'");
  }
  const plain = box.channel();
  const err = thrown<InvalidTargetError>(() => plain.to('B/1'));
  expect(err).toBeInstanceOf(InvalidTargetError);
  expect(err.message).toContain("needs the 'federation' option");
  expect(plain.host).toBeUndefined();
  expect(plain.hosts).toEqual([]);
});
