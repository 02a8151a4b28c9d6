/**
 * The same sample app without PM2: under plain node:cluster (sample/dist/cluster.js), and as
 * three processes started by hand with one channel name. Either way they form one channel.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { isAlive } from '../../src/channel/util/liveness.js';
import { eventually, http, settledWorkers } from './http.js';
import { freePort } from './pm2.js';
import { SAMPLE, buildSample } from './sample-build.js';
import { type Spawned, killStarted, start } from './started.js';

let dir: ReturnType<typeof tempDir>;

beforeAll(() => buildSample(), 300_000);
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killStarted();
  dir.remove();
});

async function withOutput(procs: Spawned[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof Error)
      e.message += `\n${procs.map((p) => p.output().slice(-4000)).join('\n---\n')}`;
    throw e;
  }
}

/**
 * Stores a key through every worker (through the given ports in turn), deletes it once, and
 * checks that every worker confirmed.
 */
async function invalidateEverywhere(ports: number[], ids: number[]): Promise<void> {
  const holders = new Set<number>();
  for (let i = 0; i < 200 && holders.size < ids.length; i++) {
    const port = ports[i % ports.length]!;
    holders.add((await http(port, 'POST', '/cache/k', { value: i })).body.worker as number);
  }
  expect([...holders].sort()).toEqual(ids);
  const removed = await http(ports[0]!, 'DELETE', '/cache/k');
  expect(removed.body).toMatchObject({ confirmedBy: ids, missing: [] });
}

test('node:cluster: 3 workers sharing one port form one channel (one hub, distinct ids, gather returns all)', async () => {
  const port = await freePort();
  const primary = start(join(SAMPLE, 'dist/cluster.js'), {
    WORKERS: '3',
    PORT: String(port),
    NESTJS_IPC_DIR: dir.path,
  });
  await withOutput([primary], async () => {
    const list = await settledWorkers(port, [1, 2, 3]);
    expect(list.filter((w) => w.hub)).toHaveLength(1);
    expect(new Set(list.map((w) => w.pid)).size).toBe(3);
    expect(list.map((w) => w.instance)).toEqual([null, null, null]);
    // Whichever worker answers, its gather sees all three.
    const answeredBy = new Set<number>();
    for (let i = 0; i < 30 && answeredBy.size < 3; i++) {
      const reply = await http(port, 'GET', '/workers');
      expect(reply.body.workers.map((w: { pid: number }) => w.pid)).toEqual(list.map((w) => w.pid));
      answeredBy.add(reply.body.answeredBy as number);
    }
    expect([...answeredBy].sort()).toEqual([1, 2, 3]);
    await invalidateEverywhere([port], [1, 2, 3]);

    primary.child.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
    await eventually(async () => list.every((w) => !isAlive(w.pid)), 'the workers to exit');
    expect(readdirSync(dir.path)).toEqual([]);
  });
}, 180_000);

test('3 processes started by hand with one channel name form one channel, whichever is asked', async () => {
  const ports = [await freePort(), await freePort(), await freePort()];
  // Started in the same moment: they race for the hub.
  const procs = ports.map((port) =>
    start(join(SAMPLE, 'dist/main.js'), {
      PORT: String(port),
      NESTJS_IPC_DIR: dir.path,
      IPC_CHANNEL: 'by-hand',
    }),
  );
  await withOutput(procs, async () => {
    const views = await Promise.all(ports.map((port) => settledWorkers(port, [1, 2, 3])));
    for (const view of views) {
      expect(view.map((w) => [w.peer, w.pid])).toEqual(views[0]!.map((w) => [w.peer, w.pid]));
    }
    expect(views[0]!.filter((w) => w.hub)).toHaveLength(1);
    expect(views[0]!.map((w) => w.pid).sort()).toEqual(procs.map((p) => p.child.pid).sort());

    // Each process answers on its own port, with its own peer id, and reaches the others by id.
    const idOf = new Map(views[0]!.map((w) => [w.pid, w.peer]));
    for (const [i, port] of ports.entries()) {
      const me = idOf.get(procs[i]!.child.pid!)!;
      for (const id of [1, 2, 3]) {
        const ping = await http(port, 'GET', `/workers/${id}/ping`);
        expect(ping.body).toMatchObject({ from: me, to: id, pong: { peer: id, from: me } });
      }
    }
    await invalidateEverywhere(ports, [1, 2, 3]);

    // Nest's shutdown hooks close the app, then re-raise the signal.
    for (const p of procs) p.child.kill('SIGINT');
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual(['SIGINT', 'SIGINT', 'SIGINT']);
    expect(readdirSync(dir.path)).toEqual([]);
  });
}, 180_000);
