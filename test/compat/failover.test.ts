/**
 * The hub's process SIGKILLed under traffic, with ipchannel-style workers on the compat entry
 * point under node:cluster: the three survivors keep their ids and receive everything the
 * others sent, exactly once and in order. With direct links off every message crosses the hub
 * that dies; with them on, unicasts go peer to peer and broadcasts through the hub.
 */
import { killStarted, start } from '../pm2/started.js';
import { App, buildDist, expectNothingLost, killHubUnderTraffic } from './harness.js';

const COUNT = 3000;
const apps: App[] = [];

beforeAll(() => buildDist(), 180_000);

afterEach(async () => {
  await killStarted();
  for (const app of apps.splice(0)) app.remove();
});

test.each([
  ['through the hub only', '0'],
  ['with direct links', '1'],
])(
  'nothing is lost when the hub is killed under traffic (node:cluster, %s)',
  async (_what, directLinks) => {
    const app = new App('traffic');
    apps.push(app);
    const master = app.file('master.cjs');
    const run = start(master, {
      NESTJS_IPC_DIR: app.ipcDir,
      NESTJS_IPC_DIRECT_LINKS: directLinks,
    });
    try {
      const result = await killHubUnderTraffic(master, app.ipcDir, COUNT);
      expectNothingLost(result, COUNT);
    } catch (e) {
      if (e instanceof Error) e.message += `\n--- workers\n${run.output()}`;
      throw e;
    }
  },
  120_000,
);
