/**
 * Gathers under a real PM2 cluster (the sample app, 4 workers, private PM2_HOME): the expected
 * set is every instance of the app, so a worker that is restarting during a gather shows up as
 * an IpcReply with an error (or with its successor's answer), never as a missing entry.
 */
import { http, settledWorkers } from './http.js';
import { Pm2 } from './pm2.js';
import { type SampleCluster, startSampleCluster, stopSampleCluster } from './sample-cluster.js';

const IDS = [1, 2, 3, 4];
let pm2: Pm2;
let port: number;
let cluster: SampleCluster | undefined;

beforeAll(async () => {
  cluster = await startSampleCluster();
  ({ pm2, port } = cluster);
}, 300_000);

afterAll(async () => {
  await stopSampleCluster(cluster);
}, 120_000);

interface Entry {
  peer: number;
  pid?: number;
  error?: string;
}

/** What GET /workers answered while a worker was restarting, once per answer. */
async function gatherDuring(victimPid: number): Promise<Entry[][]> {
  const answers: Entry[][] = [];
  process.kill(victimPid, 'SIGKILL');
  // PM2 restarts it within moments: gather until its successor answers.
  for (let i = 0; i < 200; i++) {
    const reply = await http<{ workers: Entry[] }>(port, 'GET', '/workers').catch(() => undefined);
    if (reply?.status !== 200) continue;
    answers.push(reply.body.workers);
    const victim = reply.body.workers.find((w) => w.peer === 3);
    if (typeof victim?.pid === 'number' && victim.pid !== victimPid) break;
  }
  return answers;
}

test('a worker restarting during a gather gives an IpcReply with a typed error: every instance is in every answer', async () => {
  const instances = await pm2.instances();
  const victimPid = instances.get(2)!; // peer 3
  const answers = await gatherDuring(victimPid);
  expect(answers.length).toBeGreaterThan(0);
  for (const workers of answers) {
    expect(workers.map((w) => w.peer)).toEqual(IDS);
    for (const w of workers) {
      if (w.peer !== 3) {
        expect(typeof w.pid).toBe('number');
        continue;
      }
      // Its successor's answer, or why it could not answer: never left out.
      if (w.error === undefined) expect(w.pid).not.toBe(victimPid);
      else
        expect(w.error).toMatch(
          /^(Peer 3 is restarting: |Peer 3 has not joined yet: it is one of the 4 instances of this PM2 app|Peer 3 left before answering 'stats')/,
        );
    }
  }
  const last = answers.at(-1)!.find((w) => w.peer === 3)!;
  expect(last.pid).not.toBe(victimPid);
  expect(answers.some((a) => a.find((w) => w.peer === 3)!.error !== undefined)).toBe(true);
  await settledWorkers(port, IDS);
});
