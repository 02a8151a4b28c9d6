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
  answer: number;
  started: string[];
  finished: string[];
  handled: string[];
  problems: string[];
}

test('self-sends, broadcasts with the sender, gathers and to(self) start and end one trace each', async () => {
  const proc = await Proc.start('nest-observed.js', {
    OBSERVED_OPTIONS: JSON.stringify({ name: 'observed', dir: dir.path }),
  });
  const out = await proc.call<Outcome>('run');
  await proc.call('close');
  expect(out.answer).toBe(3);
  expect([...out.handled].sort()).toEqual([
    'noted broadcast',
    'noted to-self',
    'ping any',
    'ping gather',
    'ping to-self',
  ]);
  expect(out.problems).toEqual([]);
  expect([...out.finished].sort()).toEqual(['noted', 'noted', 'ping', 'ping', 'ping', 'start']);
  // 'start' came from outside a trace and got a new id; what it sent itself got that id with a
  // number appended, one each.
  const [first, ...own] = out.started;
  expect(own).toHaveLength(5);
  expect(new Set(own).size).toBe(5);
  for (const id of own) expect(id).toMatch(new RegExp(`^${first}\\.[0-9a-z]+$`));
});
