import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PeerState, settled } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

/**
 * The verdict on a message that failed must be true: UndeliverableError only when no process
 * received it; DeliveryUncertainError when the process holding its target id may have read it
 * and went away before confirming it, and nobody else got it.
 */
const box = sandbox({ graceMs: 1000 });

interface Reported {
  name: string;
  code: string;
  target: number;
  reason: string;
  event: string;
  data: unknown;
}

/** The verdict a sender should report, as the fixture records it. */
function verdict(certain: boolean, target: number, event: string, data: unknown[]): Reported {
  return {
    name: certain ? 'UndeliverableError' : 'DeliveryUncertainError',
    code: certain ? 'ERR_IPC_UNDELIVERABLE' : 'ERR_IPC_DELIVERY_UNCERTAIN',
    target,
    reason: 'grace-expired',
    event,
    data,
  };
}

const errorsOf = async (p: Proc) =>
  (await p.call<{ errors: Reported[] }>('received')).errors.map(
    ({ name, code, target, reason, event, data }) => ({ name, code, target, reason, event, data }),
  );

/** Peers 1 (the hub), 2 (the sender) and 3 (the receiver that will die), joined in order. */
async function threePeers(): Promise<[Proc, Proc, Proc]> {
  const procs: Proc[] = [];
  for (const id of [1, 2, 3]) {
    const p = await Proc.start('peer.js', box.peerEnv({ id }));
    await p.call('connect');
    procs.push(p);
  }
  const states = await settled(procs);
  expect(states.map((s: PeerState) => [s.id, s.isHub])).toEqual([
    [1, true],
    [2, false],
    [3, false],
  ]);
  return procs as [Proc, Proc, Proc];
}

test('a message its receiver handled and died before confirming is reported as uncertain, never as undeliverable', async () => {
  const [, sender, receiver] = await threePeers();
  const handled = join(box.dir, 'handled');
  await sender.call('emit', { to: 3, event: 'handleAndDie', args: [handled] });
  // To an id nobody ever held: certainly not delivered, once its hold expires.
  await sender.call('emit', { to: 9, event: 'nobody', args: [1] });
  await until(() => receiver.exitCode !== undefined, 10_000, 'the receiver to die');
  expect(receiver.signal).toBe('SIGKILL');
  expect(readFileSync(handled, 'utf8')).toBe(String(receiver.pid));

  await until(async () => (await errorsOf(sender)).length === 2, 15_000, 'both verdicts');
  const errors = await errorsOf(sender);
  expect(errors).toContainEqual(verdict(false, 3, 'handleAndDie', [handled]));
  expect(errors).toContainEqual(verdict(true, 9, 'nobody', [1]));
});

test('the same when the receiver dies with the hub (the chaos run of issue 27): the new hub cannot know, the sender can', async () => {
  const [hub, sender, receiver] = await threePeers();
  const handled = join(box.dir, 'handled');
  await sender.call('emit', { to: 3, event: 'handleAndDie', args: [handled, hub.pid] });
  await until(
    () => receiver.exitCode !== undefined && hub.exitCode !== undefined,
    10_000,
    'the receiver and the hub to die',
  );
  expect(readFileSync(handled, 'utf8')).toBe(String(receiver.pid));
  // The sender hosts the next hub and holds the message for id 3 until graceMs pass.
  await until(async () => (await sender.call<PeerState>('state')).isHub, 10_000, 'a new hub');

  await until(async () => (await errorsOf(sender)).length === 1, 15_000, 'the verdict');
  expect(await errorsOf(sender)).toEqual([verdict(false, 3, 'handleAndDie', [handled, hub.pid])]);
});

test('the same when the hub hands over while the receiver, having read it, hangs and then dies', async () => {
  const [hub, sender, receiver] = await threePeers();
  const handled = join(box.dir, 'handled');
  await sender.call('emit', { to: 3, event: 'handleAndDie', args: [handled, 0, 3000] });
  await until(() => existsSync(handled), 10_000, 'the receiver to handle it');
  // A graceful close hands the hub over; the hung receiver cannot confirm what it read.
  await hub.call('close');
  await until(() => receiver.exitCode !== undefined, 15_000, 'the receiver to die');
  await until(async () => (await sender.call<PeerState>('state')).isHub, 10_000, 'a new hub');

  await until(async () => (await errorsOf(sender)).length === 1, 15_000, 'the verdict');
  expect(await errorsOf(sender)).toEqual([verdict(false, 3, 'handleAndDie', [handled, 0, 3000])]);
});

test('a message that reaches nobody before its hold expires is undeliverable, and its would-be receiver never gets it', async () => {
  const [, sender, receiver] = await threePeers();
  await receiver.call('close');
  await until(async () => !(await sender.call<PeerState>('state')).peers.includes(3), 10_000);
  const never = join(box.dir, 'never');
  await sender.call('emit', { to: 3, event: 'handleAndDie', args: [never] });
  await until(async () => (await errorsOf(sender)).length === 1, 15_000, 'the verdict');
  expect(await errorsOf(sender)).toEqual([verdict(true, 3, 'handleAndDie', [never])]);
  expect(existsSync(never)).toBe(false);
});
