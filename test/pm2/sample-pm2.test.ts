/**
 * The sample app (sample/) as a real 4-worker PM2 cluster, started from its own ecosystem file
 * with the project's pm2 and a private PM2_HOME. One cluster serves the whole file; each test
 * leaves it with four healthy workers (peer ids 1..4 until the scale test, which runs last but one).
 */
import { readdirSync } from 'node:fs';
import { tempDir } from '../helpers/processes.js';
import { isAlive } from '../../src/channel/util/liveness.js';
import { type WorkerInfo, eventually, http, settledWorkers, workers } from './http.js';
import { Pm2 } from './pm2.js';
import { APP } from './sample-build.js';
import { killStarted } from './started.js';
import { Traffic, type TrafficReport } from './traffic.js';
import { type SampleCluster, startSampleCluster, stopSampleCluster } from './sample-cluster.js';

const IDS = [1, 2, 3, 4];
let pm2: Pm2;
let dir: ReturnType<typeof tempDir>;
let port: number;
let cluster: SampleCluster | undefined;

beforeAll(async () => {
  cluster = await startSampleCluster();
  ({ pm2, dir, port } = cluster);
}, 300_000);

afterAll(async () => {
  await killStarted();
  await stopSampleCluster(cluster);
}, 120_000);

/** Runs a test body; on failure, adds the workers' logs to the error. */
async function withLogs(body: () => Promise<void>, traffic?: () => Traffic | undefined) {
  try {
    await body();
  } catch (e) {
    const lastLines = traffic?.()?.output().trim().split('\n').slice(-2).join('\n') ?? '';
    const extra = `\n--- traffic\n${lastLines}\n${pm2.logs()}`;
    if (e instanceof Error) e.message += extra;
    throw e;
  }
}

/** The workers as GET /workers sees them; checks that peer id = PM2 instance + 1 for each. */
async function idsMatchInstances(): Promise<WorkerInfo[]> {
  const list = await settledWorkers(port, IDS);
  const instances = await pm2.instances();
  expect([...instances.keys()].sort()).toEqual([0, 1, 2, 3]);
  for (const w of list) {
    expect(w.instance).toBe(w.peer - 1);
    expect(w.pid).toBe(instances.get(w.peer - 1));
  }
  return list;
}

function trafficEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { NESTJS_IPC_DIR: dir.path, IPC_CHANNEL: `pm2:${APP}`, TRAFFIC_ID: '100', ...extra };
}

/** Nothing lost, nothing twice, every request answered: exact counts. */
function expectExact(summary: TrafficReport): void {
  const { events, requests } = summary;
  expect(events.sent).toBeGreaterThan(0);
  expect(events).toEqual({
    sent: events.sent,
    confirmed: events.sent,
    lost: 0,
    undeliverable: 0,
    duplicated: 0,
    misrouted: 0,
    outOfOrder: 0,
  });
  expect(requests.sent).toBeGreaterThan(0);
  expect({ ...requests, answeredBy: undefined }).toEqual({
    sent: requests.sent,
    answered: requests.sent,
    retried: requests.retried,
    wrong: 0,
    failed: 0,
    errors: {},
    answeredBy: undefined,
  });
  expect(summary.ok).toBe(true);
}

test('4 workers: peer ids 1..4 match the PM2 instances; a broadcast invalidation reaches all 4; a ping reaches the worker asked', async () => {
  await withLogs(async () => {
    const list = await idsMatchInstances();
    expect(list.filter((w) => w.hub)).toHaveLength(1);

    // Each worker has its own memory: store the key through every one of them.
    const holders = new Set<number>();
    for (let i = 0; i < 200 && holders.size < 4; i++) {
      const stored = await http(port, 'POST', '/cache/greeting', { value: 'hello' });
      expect(stored.status).toBe(201);
      holders.add(stored.body.worker as number);
    }
    expect([...holders].sort()).toEqual(IDS);
    expect((await workers(port)).map((w) => w.cacheKeys)).toEqual([1, 1, 1, 1]);

    const removed = await http(port, 'DELETE', '/cache/greeting');
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ key: 'greeting', confirmedBy: IDS, missing: [] });
    // Every worker dropped it, and got the invalidation exactly once.
    expect((await workers(port)).map((w) => [w.peer, w.cacheKeys, w.invalidations])).toEqual([
      [1, 0, 1],
      [2, 0, 1],
      [3, 0, 1],
      [4, 0, 1],
    ]);
    for (let i = 0; i < 4; i++) {
      expect((await http(port, 'GET', '/cache/greeting')).body).toMatchObject({ hit: false });
    }

    const instances = await pm2.instances();
    for (const id of IDS) {
      const ping = await http(port, 'GET', `/workers/${id}/ping`);
      expect(ping.status).toBe(200);
      expect(ping.body).toMatchObject({ to: id, pong: { peer: id, pid: instances.get(id - 1) } });
      expect(ping.body.pong.from).toBe(ping.body.from);
    }
    const nobody = await http(port, 'GET', '/workers/9/ping');
    expect(nobody.status).toBe(404);
  });
}, 120_000);

test('pm2 reload under a steady stream of events and requests: none lost, none twice, all answered; ids stay 1..4', async () => {
  let traffic: Traffic | undefined;
  await withLogs(
    async () => {
      const before = await pm2.instances();
      traffic = new Traffic(trafficEnv());
      await traffic.until(
        (r) => r.events.confirmed >= 400 && r.requests.answered >= 100,
        'traffic to flow',
      );
      await pm2.run('reload', APP, '-s');
      const after = await pm2.instances();
      for (const [instance, pid] of after) expect(pid).not.toBe(before.get(instance));
      // Keep the stream going until every replacement has confirmed events of its own.
      await traffic.until(
        (r) => IDS.every((id) => r.workers[id]?.pids.includes(after.get(id - 1)!)),
        'the new workers to confirm events',
      );
      const summary = await traffic.stop();
      expectExact(summary);
      // Each id was served by the old process, then the new one, which took over exactly where
      // the old one stopped.
      for (const id of IDS) {
        const { sent, ranges } = summary.workers[id]!;
        const [[oldPid, first, handedOver], [newPid, takenOver, last]] = ranges as [
          [number, number, number],
          [number, number, number],
        ];
        expect([oldPid, newPid]).toEqual([before.get(id - 1), after.get(id - 1)]);
        expect([first, takenOver, last]).toEqual([0, handedOver + 1, sent - 1]);
      }
      await idsMatchInstances();
    },
    () => traffic,
  );
}, 300_000);

interface WarmUp {
  by: number;
  pid: number;
  epoch: number;
  run: number;
  at: number;
}
interface LeaderView {
  worker: number;
  pid: number;
  isLeader: boolean;
  epoch: number;
  leader: number | null;
  warmUpsRun: number;
  warmUpsReceived: WarmUp[];
}

/** GET /leader from each of the 4 workers (PM2 hands each connection to the next one). */
async function leaderViews(): Promise<Map<number, LeaderView>> {
  const views = new Map<number, LeaderView>();
  await eventually(async () => {
    const reply = await http<LeaderView>(port, 'GET', '/leader');
    if (reply.status === 200) views.set(reply.body.worker, reply.body);
    return views.size === 4;
  }, 'GET /leader from every worker');
  return views;
}

/** One runner per epoch, and runs in time order never go back to an older epoch. */
function expectOneRunnerPerEpoch(warmUps: WarmUp[]): void {
  const byEpoch = new Map<number, Set<number>>();
  for (const w of warmUps) byEpoch.set(w.epoch, (byEpoch.get(w.epoch) ?? new Set()).add(w.pid));
  for (const [epoch, pids] of byEpoch) expect([epoch, pids.size]).toEqual([epoch, 1]);
  const inTime = [...warmUps].sort((a, b) => a.at - b.at || a.epoch - b.epoch);
  for (let i = 1; i < inTime.length; i++)
    expect(inTime[i]!.epoch).toBeGreaterThanOrEqual(inTime[i - 1]!.epoch);
}

test('the leader-only warm-up job runs on one worker; after pm2 reload exactly one new worker leads it, at a higher epoch', async () => {
  await withLogs(async () => {
    const before = await eventually(async () => {
      const views = await leaderViews();
      const leaders = [...views.values()].filter((v) => v.isLeader);
      return leaders.length === 1 && leaders[0]!.warmUpsRun > 0 ? views : undefined;
    }, 'one leader running warm-ups');
    const epoch = [...before.values()][0]!.epoch;
    for (const v of before.values()) expect(v.epoch).toBe(epoch);
    expectOneRunnerPerEpoch([...before.values()].flatMap((v) => v.warmUpsReceived));

    await pm2.run('reload', APP, '-s');
    await settledWorkers(port, IDS);
    const after = await eventually(async () => {
      const views = await leaderViews();
      const leaders = [...views.values()].filter((v) => v.isLeader);
      const fresh = [...views.values()].every((v) =>
        v.warmUpsReceived.some((w) => w.epoch === leaders[0]?.epoch),
      );
      return leaders.length === 1 && fresh ? views : undefined;
    }, 'one new leader whose warm-ups reach every worker');
    const leader = [...after.values()].find((v) => v.isLeader)!;
    expect(leader.epoch).toBeGreaterThan(epoch);
    for (const v of after.values()) {
      expect([v.worker, v.epoch, v.leader]).toEqual([v.worker, leader.epoch, leader.worker]);
    }
    // Every worker is a new process: what they received since is all from after the reload.
    expectOneRunnerPerEpoch([...after.values()].flatMap((v) => v.warmUpsReceived));
  });
}, 300_000);

test('pm2 restart of the hub worker alone: none lost, none twice, all answered; it gets its id back', async () => {
  let traffic: Traffic | undefined;
  await withLogs(
    async () => {
      const list = await idsMatchInstances();
      const hub = list.find((w) => w.hub)!;
      const pmId = (await pm2.list()).find((p) => p.pid === hub.pid)!.pm_id;
      traffic = new Traffic(trafficEnv());
      await traffic.until((r) => r.events.confirmed >= 400, 'traffic to flow');
      await pm2.run('restart', String(pmId), '-s');
      const replacement = await eventually(async () => {
        const pid = (await pm2.instances()).get(hub.peer - 1);
        return pid !== undefined && pid !== hub.pid ? pid : undefined;
      }, 'PM2 to restart the hub worker');
      await traffic.until(
        (r) => r.workers[hub.peer]?.pids.includes(replacement) === true,
        'the restarted worker to confirm events',
      );
      const summary = await traffic.stop();
      expectExact(summary);
      const { sent, ranges } = summary.workers[hub.peer]!;
      expect(ranges.map(([pid]) => pid)).toEqual([hub.pid, replacement]);
      expect(ranges[1]![1]).toBe(ranges[0]![2] + 1); // the new process went on where the old stopped
      expect(ranges[1]![2]).toBe(sent - 1);
      const now = await idsMatchInstances();
      expect(now.find((w) => w.peer === hub.peer)!.pid).toBe(replacement);
      expect(now.filter((w) => w.hub)).toHaveLength(1);
    },
    () => traffic,
  );
}, 300_000);

test("kill -9 of the hub worker's pid: traffic between the others loses nothing; PM2's replacement gets its id back and is served", async () => {
  let traffic: Traffic | undefined;
  await withLogs(
    async () => {
      const list = await idsMatchInstances();
      const hub = list.find((w) => w.hub)!;
      const others = IDS.filter((id) => id !== hub.peer);
      // Events and requests to the three other workers, all routed through the hub.
      traffic = new Traffic(trafficEnv({ TRAFFIC_TARGETS: others.join(',') }));
      const flowing = await traffic.until((r) => r.events.confirmed >= 400, 'traffic to flow');
      process.kill(hub.pid, 'SIGKILL');
      const replacement = await eventually(async () => {
        const pid = (await pm2.instances()).get(hub.peer - 1);
        return pid !== undefined && pid !== hub.pid ? pid : undefined;
      }, 'PM2 to restart the killed worker');
      await settledWorkers(port, IDS);
      await traffic.until(
        (r) => r.events.confirmed >= flowing.events.sent + 400,
        'traffic to go on through a new hub',
      );
      expectExact(await traffic.stop());

      // The replacement holds the old id and takes its share of a fresh stream to all four.
      traffic = new Traffic(trafficEnv());
      await traffic.until(
        (r) => IDS.every((id) => (r.workers[id]?.confirmed ?? 0) >= 100),
        'every worker to confirm events',
      );
      const summary = await traffic.stop();
      expectExact(summary);
      expect(summary.workers[hub.peer]!.pids).toEqual([replacement]);
      const now = await idsMatchInstances();
      expect(now.find((w) => w.peer === hub.peer)!.pid).toBe(replacement);
      expect(now.filter((w) => w.hub).length).toBeLessThanOrEqual(1);
    },
    () => traffic,
  );
}, 300_000);

/** The workers `ids`, once one of them reports hosting the hub (a handover may be under way). */
function settledWithOneHub(ids: number[]): Promise<WorkerInfo[]> {
  return eventually(
    async () => {
      const list = await settledWorkers(port, ids);
      return list.filter((w) => w.hub).length === 1 ? list : undefined;
    },
    `workers ${ids.join(',')} with one hub`,
  );
}

test('pm2 scale to 6: peers 5 and 6 join and are served, traffic to 1..4 loses nothing; back to 4: the ids PM2 removed are gone, the rest are served', async () => {
  let traffic: Traffic | undefined;
  const SCALED = [1, 2, 3, 4, 5, 6];
  await withLogs(
    async () => {
      await idsMatchInstances();
      traffic = new Traffic(trafficEnv({ TRAFFIC_TARGETS: IDS.join(',') }));
      const flowing = await traffic.until((r) => r.events.confirmed >= 400, 'traffic to flow');

      await pm2.run('scale', APP, '6', '-s');
      const grown = await settledWithOneHub(SCALED);
      const six = await pm2.instances();
      expect([...six.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
      for (const w of grown) expect([w.peer, w.pid]).toEqual([w.peer, six.get(w.peer - 1)]);
      // The invalidation reaches all six workers (the traffic tool, peer 100, is a peer too, and
      // handles no cache events); the newcomers answer requests sent to them by id.
      const everywhere = await http(port, 'DELETE', '/cache/scaled');
      expect(everywhere.body).toMatchObject({ confirmedBy: SCALED, missing: [100] });
      for (const id of [5, 6]) {
        const ping = await http(port, 'GET', `/workers/${id}/ping`);
        expect(ping.status).toBe(200);
        expect(ping.body).toMatchObject({ to: id, pong: { peer: id, pid: six.get(id - 1) } });
      }
      await traffic.until(
        (r) => r.events.confirmed >= flowing.events.sent + 400,
        'traffic to go on while the cluster grows',
      );
      expectExact(await traffic.stop());
      traffic = undefined;

      // PM2 chooses which two instances go (the lowest pm_ids, in the version tested): maybe the
      // hub's worker, which then hands the hub over.
      await pm2.run('scale', APP, '4', '-s');
      const four = await eventually(async () => {
        const now = await pm2.instances();
        const gone = [...six].filter(([instance]) => !now.has(instance));
        return now.size === 4 && gone.every(([, pid]) => !isAlive(pid)) ? now : undefined;
      }, 'two workers to be scaled down and exit');
      const kept = [...four.keys()].map((instance) => instance + 1).sort((a, b) => a - b);
      const removed = SCALED.filter((id) => !kept.includes(id));
      const left = await settledWithOneHub(kept);
      for (const w of left) expect([w.peer, w.pid]).toEqual([w.peer, four.get(w.peer - 1)]);
      for (const id of removed) {
        // The whole answer, so that a failure shows the error's text.
        expect(await http(port, 'GET', `/workers/${id}/ping`)).toMatchObject({ status: 404 });
      }
      const after = await http(port, 'DELETE', '/cache/scaled');
      expect(after.body).toMatchObject({ confirmedBy: kept, missing: [] });
      traffic = new Traffic(trafficEnv({ TRAFFIC_TARGETS: kept.join(',') }));
      await traffic.until(
        (r) => kept.every((id) => (r.workers[id]?.confirmed ?? 0) >= 100),
        'every remaining worker to confirm events',
      );
      expectExact(await traffic.stop());
      traffic = undefined;
    },
    () => traffic,
  );
}, 300_000);

test('pm2 kill stops every worker gracefully and leaves no socket behind', async () => {
  await withLogs(async () => {
    const pids = [...(await pm2.instances()).values()];
    expect(pids).toHaveLength(4);
    await pm2.run('kill', '-s');
    await eventually(async () => pids.every((pid) => !isAlive(pid)), 'the workers to exit');
    expect(readdirSync(dir.path)).toEqual([]);
  });
}, 120_000);
