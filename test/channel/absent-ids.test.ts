import { type IpcChannelError, UndeliverableError } from '../../src/index.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'absent', graceMs: 400 });

/** Peer 1 (the hub) and peer 2, joined; peer 1's errors are collected. */
async function pair() {
  const a = box.channel({ id: 1 });
  const errors: IpcChannelError[] = [];
  a.on('error', (e) => errors.push(e));
  await a.connect();
  const b = box.channel({ id: 2 });
  await b.connect();
  await until(() => a.peers.length === 2, 5000);
  return { a, b, errors };
}

test('a message refused for an id whose process just left says the peer is restarting', async () => {
  const { a, b, errors } = await pair();
  await b.close();
  await until(() => a.peers.length === 1, 5000);
  a.to(2, { hold: false }).send('x');
  await until(() => errors.length === 1, 5000);
  const [error] = errors as [UndeliverableError];
  expect(error).toBeInstanceOf(UndeliverableError);
  expect([error.target, error.reason]).toEqual([2, 'peer-absent']);
  expect(error.message).toMatch(
    /^A message to peer 2 was not delivered: peer 2 is restarting \(the process holding id 2 left \d+ ms ago, and none has taken the id back yet\)\. Retry shortly; without \{ hold: false \} a message waits graceMs for its id\.$/,
  );
});

test('a message refused for an id nobody ever held says to check the id', async () => {
  const { a, errors } = await pair();
  a.to(7, { hold: false }).send('x');
  await until(() => errors.length === 1, 5000);
  expect(errors[0]!.message).toBe(
    'A message to peer 7 was not delivered: no peer holds id 7, nor has any since this process joined. Check the id against peers.',
  );
});

test('a held message whose grace ran out says whether the id was held before', async () => {
  const { a, b, errors } = await pair();
  await b.close();
  await until(() => a.peers.length === 1, 5000);
  a.to(2).send('for the successor that never came');
  a.to(8).send('for an id nobody held');
  await until(() => errors.length === 2, 5000);
  const byTarget = new Map(errors.map((e) => [(e as UndeliverableError).target, e]));
  expect((byTarget.get(2) as UndeliverableError).reason).toBe('grace-expired');
  expect(byTarget.get(2)!.message).toBe(
    'A message to peer 2 was not delivered: the process holding id 2 left and no process took the id back within graceMs. Raise graceMs if its restarts take longer.',
  );
  expect(byTarget.get(8)!.message).toBe(
    'A message to peer 8 was not delivered: no process held id 8 within the grace period, nor at any time since this process joined. Check the id against peers.',
  );
});
