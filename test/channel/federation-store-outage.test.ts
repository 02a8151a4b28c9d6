/**
 * While the federation store is down, frames for other hosts wait at the bridge without holding
 * their sender's window: the hub reports them held, so the sender's same-host traffic goes on;
 * they are bounded by the sender's maxQueueBytes, and reach the other hosts once the store is
 * back, each once and in order.
 */
import { type Channel, type PeerId, QueueFullError } from '../../src/index.js';
import { FederatedHosts } from '../helpers/federated-hosts.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'fed-outage', closeTimeoutMs: 1000 });

/** Collects `event` as it reaches `ch`: (sender, first argument). */
function collect(ch: Channel, event: string): [PeerId, unknown][] {
  const got: [PeerId, unknown][] = [];
  ch.on(event, (sender: PeerId, value: unknown) => got.push([sender, value]));
  return got;
}

/** Host A with its hub's process (a1) and a second process (a2, over the socket); host B. */
async function twoHosts(a2Options = {}) {
  const hosts = new FederatedHosts(box);
  const a1 = await hosts.connected('A');
  const a2 = await hosts.connected('A', a2Options);
  const b = await hosts.connected('B');
  await until(() => a2.hosts.length === 2, undefined, 'A to know of B');
  return { store: hosts.store, a1, a2, b };
}

/** More than a sender's window (8192 frames) of broadcasts to every host. */
const BROADCASTS = 9000;
const LOCAL = 100;

test('with the store down, broadcasts past the window wait as held while same-host messages are delivered; all cross once it is back', async () => {
  const { store, a1, a2, b } = await twoHosts();
  const [ticksAtB, ticksAtA1, localAtA1] = [
    collect(b, 'tick'),
    collect(a1, 'tick'),
    collect(a1, 'local'),
  ];
  store.down = true;

  for (const i of range(0, BROADCASTS)) a2.to('all').emit('tick', i);
  for (const i of range(0, LOCAL)) a2.to(1).emit('local', i);

  // Every one is delivered on this host while the store is still down.
  await until(() => localAtA1.length === LOCAL, undefined, 'the same-host messages');
  await until(() => ticksAtA1.length === BROADCASTS, undefined, 'the broadcasts on host A');
  await until(() => a2.stats().heldMessages === BROADCASTS, undefined, 'the broadcasts held');
  // The same-host ones are acked (their acks may trail their delivery); none of the others is.
  await until(() => a2.stats().unconfirmedMessages === BROADCASTS, undefined, 'local acks');
  expect(store.down).toBe(true);
  expect(localAtA1).toEqual(range(0, LOCAL).map((i) => [2, i]));
  expect(ticksAtB).toEqual([]);

  store.down = false;
  await until(() => ticksAtB.length >= BROADCASTS, undefined, 'the broadcasts on host B');
  await until(() => a2.stats().unconfirmedMessages === 0, undefined, 'the broadcasts acked');
  expect(ticksAtB).toEqual(range(0, BROADCASTS).map((i) => ['A/2', i]));
  expect(a2.stats().heldMessages).toBe(0);
});

test('with the store down, a sender past maxQueueBytes gets QueueFullError, and everything it accepted crosses once it is back', async () => {
  const { store, a1, a2, b } = await twoHosts({ highWaterMark: 16_384, maxQueueBytes: 65_536 });
  const [ticksAtB, ticksAtA1] = [collect(b, 'tick'), collect(a1, 'tick')];
  store.down = true;

  let accepted = 0;
  let refusal: unknown;
  let belowHighWater = 0;
  for (;;) {
    try {
      if (a2.to('all').emit('tick', accepted)) belowHighWater++;
      accepted++;
    } catch (e) {
      refusal = e;
      break;
    }
  }
  expect(refusal).toBeInstanceOf(QueueFullError);
  expect(belowHighWater).toBeLessThan(accepted);
  // Full is full for this sender, whatever the target: the limit bounds its memory.
  expect(() => a2.to(1).emit('tick', -1)).toThrow(QueueFullError);

  await until(() => ticksAtA1.length === accepted, undefined, 'the broadcasts on host A');
  await until(() => a2.stats().heldMessages === accepted, undefined, 'the broadcasts held');
  expect(ticksAtB).toEqual([]);

  store.down = false;
  await until(() => ticksAtB.length >= accepted, undefined, 'the broadcasts on host B');
  await until(() => a2.stats().unconfirmedMessages === 0, undefined, 'the broadcasts acked');
  expect(ticksAtB).toEqual(range(0, accepted).map((i) => ['A/2', i]));
  expect(ticksAtA1).toEqual(range(0, accepted).map((i) => [2, i]));
  // Drained: it accepts again.
  expect(a2.to(1).emit('tick', accepted)).toBe(true);
  await until(() => a2.stats().unconfirmedMessages === 0, undefined, 'the last one acked');
  expect(ticksAtA1.at(-1)).toEqual([2, accepted]);
});
