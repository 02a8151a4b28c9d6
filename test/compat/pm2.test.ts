/**
 * ipchannel's README example under a real PM2 cluster (the project's pm2, a private PM2_HOME):
 * `pm2 start task.js -i 4`, with only the module name changed, in an ES module application and
 * in a CommonJS one. Then the hub's process SIGKILLed under traffic: PM2 restarts it, and the
 * survivors lose nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pm2 } from '../pm2/pm2.js';
import { until } from '../helpers/processes.js';
import {
  App,
  README_OUTPUT,
  buildDist,
  expectNothingLost,
  killHubUnderTraffic,
  lines,
} from './harness.js';

let pm2: Pm2 | undefined;
let app: App | undefined;

beforeAll(() => buildDist(), 180_000);

afterEach(async () => {
  await pm2?.destroy();
  app?.remove();
  pm2 = app = undefined;
}, 60_000);

/** What PM2 logged of instance `pm_id`'s stdout (and its stderr, which must stay empty). */
function output(pm: Pm2, name: string, pmId: number): { out: string[]; err: string[] } {
  const read = (kind: string) => {
    try {
      return lines(readFileSync(join(pm.home, 'logs', `${name}-${kind}-${pmId}.log`), 'utf8'));
    } catch {
      return [];
    }
  };
  return { out: read('out'), err: read('error') };
}

test.each([
  ['an ES module application', 'esm'],
  ['a CommonJS application', 'cjs'],
] as const)(
  'the README example prints what it should under PM2, in %s',
  async (_what, example) => {
    app = new App(example);
    pm2 = new Pm2({ NESTJS_IPC_DIR: app.ipcDir });
    const pm = pm2;
    const name = `compat-${example}`;
    // Peer 4 broadcasts once it has joined: three instances first, so that 2 and 3 are there
    // to hear it, as they are under node:cluster where ids follow the order of joining.
    await pm.run('start', app.file('task.js'), '-i', '3', '--name', name, '-s');
    await until(
      () => [0, 1, 2].every((i) => output(pm, name, i).out.includes('true')),
      30_000,
      'three instances connected',
    );
    await pm.run('scale', name, '4');
    const done = (id: number) => output(pm, name, id - 1).out.length >= README_OUTPUT[id]!.length;
    await until(() => [1, 2, 3, 4].every(done), 30_000, 'the example to print everything');
    await new Promise((r) => setTimeout(r, 500));
    // Under PM2, peer id = instance + 1, and each instance has its own log: exact, in order.
    for (const id of [1, 2, 3, 4]) {
      const { out, err } = output(pm, name, id - 1);
      expect({ id, out: out.slice(0, 3) }).toEqual({ id, out: ['undefined', 'false', 'true'] });
      expect({ id, rest: [...out.slice(3)].sort() }).toEqual({
        id,
        rest: README_OUTPUT[id]!.slice(3).sort(),
      });
      expect({ id, err }).toEqual({ id, err: [] });
    }
  },
  120_000,
);

test('nothing is lost when the hub is killed under traffic (PM2 restarts it under its id)', async () => {
  const COUNT = 3000;
  app = new App('traffic');
  pm2 = new Pm2({ NESTJS_IPC_DIR: app.ipcDir, NESTJS_IPC_DIRECT_LINKS: '0' });
  const name = 'compat-traffic';
  await pm2.run('start', app.file('worker.js'), '-i', '4', '--name', name, '-s');
  const result = await killHubUnderTraffic(`pm2:${name}`, app.ipcDir, COUNT);
  expectNothingLost(result, COUNT);
  // The killed instance came back under its id.
  await until(
    async () => {
      const list = await pm2!.list();
      const back = list.find((p) => Number(p.pm2_env.NODE_APP_INSTANCE) === result.killed - 1);
      return back?.pm2_env.status === 'online' && back.pm2_env.restart_time === 1;
    },
    30_000,
    'PM2 to restart the killed instance',
  );
}, 180_000);
