import { Confirmations } from '../../src/channel/peer/confirmations.js';
import { ChannelClosedError, UndeliverableError } from '../../src/index.js';

/** Where a promise stands, read after pending reactions have run. */
async function state(p: Promise<unknown>): Promise<string> {
  let s = 'pending';
  p.then(
    () => (s = 'resolved'),
    (e: Error) => (s = `rejected ${e.name}`),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return s;
}

const lost = (seq: number) => new UndeliverableError(2, 'grace-expired', 'message', seq);

test('nobody waits: inactive, and confirmations pass through without effect', () => {
  const c = new Confirmations();
  expect(c.active).toBe(false);
  c.confirmed(1);
  expect(c.failed(1, lost(1))).toBe(false);
  c.settled(5);
  expect(c.active).toBe(false);
});

test('a message watched twice settles both promises; the verdict goes to them only', async () => {
  const c = new Confirmations();
  const a = c.watch(3);
  const b = c.watch(3);
  const other = c.watch(4);
  expect(c.active).toBe(true);
  c.confirmed(3);
  expect(await state(a)).toBe('resolved');
  expect(await state(b)).toBe('resolved');
  expect(c.failed(4, lost(4))).toBe(true);
  expect(await state(other)).toBe('rejected UndeliverableError');
  expect(c.active).toBe(false);
});

test('allConfirmed waits for the oldest unconfirmed to pass its mark, and rejects with the first failure', async () => {
  const c = new Confirmations();
  expect(await state(c.watchAll(10, 11))).toBe('resolved');
  const clean = c.watchAll(5, 3);
  const failing = c.watchAll(8, 3);
  expect(c.failed(7, lost(7))).toBe(false); // no per-message waiter: reported as usual
  c.settled(6);
  expect(await state(clean)).toBe('resolved');
  expect(await state(failing)).toBe('pending');
  c.failed(8, lost(8));
  c.settled(9);
  const error = await failing.catch((e: UndeliverableError) => e);
  expect((error as UndeliverableError).data).toBe(7);
  expect(c.active).toBe(false);
});

test('abandon rejects everything still awaited, keeping a failure already known', async () => {
  const c = new Confirmations();
  const one = c.watch(1);
  const all = c.watchAll(2, 1);
  const known = c.watchAll(3, 1);
  c.failed(3, lost(3));
  c.abandon(new ChannelClosedError('confirm'));
  expect(await state(one)).toBe('rejected ChannelClosedError');
  expect(await state(all)).toBe('rejected ChannelClosedError');
  expect(await state(known)).toBe('rejected UndeliverableError');
  expect(c.active).toBe(false);
});
