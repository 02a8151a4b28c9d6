/**
 * IpcModule across real processes: two hybrid apps set up as the README says form one channel;
 * each logs one join line naming who hosts the hub; a gather reaches both.
 */
import { readdirSync } from 'node:fs';
import { Proc, killAll, tempDir } from '../helpers/processes.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

const joinLines = (p: Proc) =>
  p.events.filter((e) => e.ev === 'log' && e.context === 'IpcServer').map((e) => e.message);

test('two processes with IpcModule: one join line each, naming the hub; a gather reaches both; close leaves nothing', async () => {
  const env = { WORKER_OPTIONS: JSON.stringify({ name: 'mp', dir: dir.path, timeout: 5000 }) };
  const first = await Proc.start('ipc-module-worker.js', env);
  const second = await Proc.start('ipc-module-worker.js', env);
  expect(await first.call('id')).toBe(1);
  expect(await second.call('id')).toBe(2);
  expect(joinLines(first)).toEqual(["Joined channel 'mp' as peer 1; this process hosts the hub."]);
  expect(joinLines(second)).toEqual(["Joined channel 'mp' as peer 2; peer 1 hosts the hub."]);
  const replies = await second.call<{ peer: number; data: number }[]>('gather');
  expect(replies.sort((a, b) => a.peer - b.peer)).toEqual([
    { peer: 1, data: first.pid },
    { peer: 2, data: second.pid },
  ]);
  expect(first.events.filter((e) => e.ev === 'warn' || e.ev === 'error')).toEqual([]);
  expect(second.events.filter((e) => e.ev === 'warn' || e.ev === 'error')).toEqual([]);
  await second.call('close');
  await first.call('close');
  expect(readdirSync(dir.path)).toEqual([]);
});
