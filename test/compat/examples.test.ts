/**
 * ipchannel's README example, with only the module name changed, run as a user would run it:
 * four node:cluster workers, in an ES module application and in a CommonJS one, against the
 * built package (dist/) installed in the application's node_modules. Also the example ported to
 * the native API as docs/compat.md shows it, which must print the same.
 */
import { killStarted, start } from '../pm2/started.js';
import { until } from '../helpers/processes.js';
import { App, README_OUTPUT, buildDist, lines, sorted } from './harness.js';

const apps: App[] = [];

beforeAll(() => buildDist(), 180_000);

afterEach(async () => {
  await killStarted();
  for (const app of apps.splice(0)) app.remove();
});

const everything = Object.values(README_OUTPUT).flat();

test.each([
  ['an ES module application', 'esm'],
  ['a CommonJS application', 'cjs'],
  ['the port to the native API (docs/compat.md)', 'native'],
] as const)(
  'the README example prints what it should under node:cluster, in %s',
  async (_what, example) => {
    const app = new App(example);
    apps.push(app);
    const run = start(app.entry, { NESTJS_IPC_DIR: app.ipcDir });
    await until(
      () => lines(run.output()).length >= everything.length,
      30_000,
      `${everything.length} lines:\n${run.output()}`,
    );
    // Long enough for a duplicate or a stray warning to show.
    await new Promise((r) => setTimeout(r, 500));
    expect(sorted(lines(run.output()))).toEqual(sorted(everything));
  },
);

test('require() of the compat entry point gives its exports, and the process exits after disconnect()', async () => {
  const app = new App('require');
  apps.push(app);
  const run = start(app.file('check.cjs'), { NESTJS_IPC_DIR: app.ipcDir });
  expect(await run.exited).toBe(0);
  expect(JSON.parse(run.output())).toEqual({
    // __esModule: Node marks a required ES module with a default export so.
    exports: ['Channel', 'Message', 'MessageTarget', '__esModule', 'channel', 'default'],
    sameDefault: true,
    pids: [1, 2],
    fromChannel: true,
    connected: [false, false],
    got: [
      ['a', 2, { three: 3 }],
      ['greeting', 'hi'],
    ],
  });
});
