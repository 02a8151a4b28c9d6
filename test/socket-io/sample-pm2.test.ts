/**
 * The sample app as a real 4-worker PM2 cluster (its own ecosystem file, the project's pm2, a
 * private PM2_HOME), with real socket.io clients on the cluster's one port: PM2 hands each
 * connection to a worker, and the sample's IpcIoAdapter shares the room across them.
 */
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { until } from '../helpers/wait.js';
import { http, settledWorkers } from '../pm2/http.js';
import { Pm2 } from '../pm2/pm2.js';
import { APP, ROOT } from '../pm2/sample-build.js';
import { killStarted, start } from '../pm2/started.js';
import { type TestClient, closeClients, connectClient, untilEach } from './clients.js';
import {
  type SampleCluster,
  startSampleCluster,
  stopSampleCluster,
} from '../pm2/sample-cluster.js';

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
  closeClients();
  await killStarted();
  await stopSampleCluster(cluster);
}, 120_000);

/** A client in `lobby`, and the worker that holds it. */
interface Member {
  client: TestClient;
  worker: number;
}

/** Clients on fresh connections until every worker holds one (PM2 deals them out in turn). */
async function oneOnEachWorker(): Promise<Member[]> {
  const members: Member[] = [];
  for (let tries = 0; tries < 24 && new Set(members.map((m) => m.worker)).size < 4; tries++) {
    const client = await connectClient(port, `c${tries}`);
    const { worker } = (await client.socket.emitWithAck('join', 'lobby')) as { worker: number };
    if (members.some((m) => m.worker === worker)) client.socket.disconnect();
    else members.push({ client, worker });
  }
  return members.sort((a, b) => a.worker - b.worker);
}

async function lobby(): Promise<{ id: string; worker: number }[]> {
  const { status, body } = await http(port, 'GET', '/rooms/lobby');
  expect(status).toBe(200);
  return (body as { sockets: { id: string; worker: number }[] }).sockets;
}

/**
 * Waits until GET /rooms/lobby lists exactly `members`' sockets. Whichever worker answers must
 * first know every other server (a restarted one learns them from its first heartbeat's
 * answers), so one answer alone proves nothing.
 */
async function roomLists(members: Member[]): Promise<void> {
  const expected = JSON.stringify(
    members.map((m) => ({ id: m.client.socket.id, worker: m.worker })),
  );
  let last = '';
  await until(
    async () => (last = JSON.stringify(await lobby())) === expected,
    30_000,
    `the room to list ${expected}`,
  ).catch((e: Error) => {
    e.message += `; last listed ${last}`;
    throw e;
  });
}

const texts = (m: Member) => m.client.firsts('said').map((s) => (s as { text: string }).text);

test('one room across the PM2 workers: a client, HTTP and a run-once job reach every member once; a killed worker drops out', async () => {
  const members = await oneOnEachWorker();
  expect(members.map((m) => m.worker)).toEqual(IDS);
  await roomLists(members);

  // From a client on worker 2, then (same worker, so after it) a marker.
  await members[1]!.client.socket.emitWithAck('say', { room: 'lobby', text: 'from a client' });
  await members[1]!.client.socket.emitWithAck('say', { room: 'lobby', text: 'end 1' });
  await untilEach(
    members.map((m) => m.client),
    'said',
    2,
  );
  for (const m of members) expect(texts(m)).toEqual(['from a client', 'end 1']);

  // Over HTTP, through whichever worker PM2 picks.
  const posted = await http(port, 'POST', '/rooms/lobby', { text: 'from HTTP' });
  expect(posted.status).toBe(201);
  await untilEach(
    members.map((m) => m.client),
    'said',
    3,
  );

  // A run-once job (announce.js: room 'lobby', its default text): joins the channel, emits,
  // exits once the workers have read it.
  const job = start(join(ROOT, 'sample/dist/socket-io/announce.js'), {
    NESTJS_IPC_DIR: dir.path,
    IPC_CHANNEL: `pm2:${APP}`,
  });
  expect(await job.exited).toBe(0);
  await untilEach(
    members.map((m) => m.client),
    'said',
    4,
  );
  for (const m of members) {
    expect(texts(m)).toEqual(['from a client', 'end 1', 'from HTTP', 'hello from a run-once job']);
  }

  // kill -9 of worker 3: its client is cut off, and the room lists the others' sockets only.
  const instances = await pm2.instances();
  process.kill(instances.get(2)!, 'SIGKILL');
  await until(() => !members[2]!.client.socket.connected, 20_000, 'the client of worker 3 to drop');
  const survivors = members.filter((m) => m.worker !== 3);
  await roomLists(survivors);
  await survivors[0]!.client.socket.emitWithAck('say', { room: 'lobby', text: 'after the kill' });
  await untilEach(
    survivors.map((m) => m.client),
    'said',
    5,
  );
  for (const m of survivors) expect(texts(m).slice(4)).toEqual(['after the kill']);
  // PM2 restarts the worker, which takes its peer id back.
  await settledWorkers(port, IDS);
}, 120_000);
