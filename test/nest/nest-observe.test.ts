/**
 * The binding under the real @nestjs/observe (see test/fixtures/nest-observed.ts): messages a
 * process sends to itself each start and end one trace of their own, and the package logs no
 * warning or error.
 */
import { Proc, killAll, tempDir } from '../helpers/processes.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

interface Outcome {
  started: string[];
  finished: string[];
  handled: string[];
  problems: string[];
}

test('self-sends, broadcasts with the sender, gathers and to(self) start and end one trace each', async () => {
  const env = { OBSERVED_OPTIONS: JSON.stringify({ name: 'observed', dir: dir.path }) };
  const self = await Proc.start('nest-observed.js', env); // peer 1
  const other = await Proc.start('nest-observed.js', env); // peer 2
  const out = await self.call<Outcome & { answer: number }>('run');
  const there = await other.call<Outcome>('report', { count: 2 });
  await self.call('close');
  await other.call('close');
  // The gather had two answers; to(self) and send() without a target (peer 1's turn) one each.
  expect(out.answer).toBe(4);
  expect([...out.handled].sort()).toEqual([
    'noted broadcast',
    'noted to-self',
    'ping any',
    'ping gather',
    'ping to-self',
  ]);
  expect([...there.handled].sort()).toEqual(['noted broadcast', 'ping gather']);
  expect(out.problems).toEqual([]);
  expect(there.problems).toEqual([]);
  expect([...out.finished].sort()).toEqual(['noted', 'noted', 'ping', 'ping', 'ping', 'start']);
  expect([...there.finished].sort()).toEqual(['noted', 'ping']);
  // 'start' came from outside a trace and got a new id; what it sent its own process got that
  // id with a number appended, one each.
  const [first, ...own] = out.started;
  expect(own).toHaveLength(5);
  expect(new Set(own).size).toBe(5);
  for (const id of own) expect(id).toMatch(new RegExp(`^${first}\\.[0-9a-z]+$`));
  // The other process adopts the sender's id, unless a handler of its own still holds it (the
  // event was still being handled when the request arrived): then it gets one derived from it.
  expect(there.started).toHaveLength(2);
  expect(there.started[0]).toBe(first);
  expect(there.started[1]).toMatch(new RegExp(`^${first}(\\.[0-9a-z]+)?$`));
});

test('in a hybrid app, the same messages sent from an HTTP handler each get one trace too', async () => {
  const options = { OBSERVED_OPTIONS: JSON.stringify({ name: 'observed', dir: dir.path }) };
  const self = await Proc.start('nest-observed.js', { ...options, OBSERVED_MODE: 'hybrid' });
  const other = await Proc.start('nest-observed.js', options);
  const out = await self.call<Outcome & { answer: number }>('run');
  const there = await other.call<Outcome>('report', { count: 2 });
  await self.call('close');
  await other.call('close');
  expect(out.answer).toBe(4);
  expect(out.handled).toHaveLength(5);
  expect(out.problems).toEqual([]);
  expect(there.problems).toEqual([]);
  // The HTTP request's trace, and one per message this process sent itself.
  expect(out.finished.filter((op) => op !== 'noted' && op !== 'ping')).toHaveLength(1);
  expect([...out.finished.filter((op) => op === 'noted' || op === 'ping')].sort()).toEqual([
    'noted',
    'noted',
    'ping',
    'ping',
    'ping',
  ]);
  expect(new Set(out.started).size).toBe(out.started.length);
  expect([...there.finished].sort()).toEqual(['noted', 'ping']);
});
