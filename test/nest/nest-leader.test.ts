/**
 * @LeaderOnly() jobs in four real Nest processes: a 1-second @Interval runs once per tick in
 * the whole cluster, on the leader only, and moves to exactly one other worker when the leader
 * is killed. Counts have generous bounds: the machine may be loaded, timers only run late.
 */
import { type ChildEvent, Proc, killAll, sleep, tempDir, until } from '../helpers/processes.js';

interface State {
  id: number;
  pid: number;
  isLeader: boolean;
  epoch: number;
}
interface Run {
  job: 'below' | 'above';
  pid: number;
  epoch: number;
  isLeader: boolean;
  at: number;
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

const worker = (id: number) =>
  Proc.start('nest-leader-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'nest-leader', dir: dir.path, id }),
  });

const runs = (procs: Proc[], from: number, to = Infinity): Run[] =>
  procs
    .flatMap((p) => p.events.filter((e: ChildEvent) => e.ev === 'run') as unknown as Run[])
    .filter((r) => r.at >= from && r.at < to)
    .sort((a, b) => a.at - b.at);

async function leaderOf(procs: Proc[]): Promise<{ proc: Proc; state: State }> {
  const found = await until(
    async () => {
      const states = await Promise.all(procs.map((p) => p.call<State>('state')));
      const i = states.findIndex((s) => s.isLeader);
      return i < 0 ? undefined : { proc: procs[i]!, state: states[i]! };
    },
    15_000,
    'a leader',
  );
  return found!;
}

/** Each job ran only on `pid` at `epoch`, once per tick (runs of one job are a period apart). */
function expectOneRunner(list: Run[], pid: number, epoch: number, min: number, max: number) {
  for (const job of ['below', 'above'] as const) {
    const mine = list.filter((r) => r.job === job);
    expect(mine.length).toBeGreaterThanOrEqual(min);
    expect(mine.length).toBeLessThanOrEqual(max);
    expect(new Set(mine.map((r) => `${r.pid}@${r.epoch}`))).toEqual(new Set([`${pid}@${epoch}`]));
    expect(mine.every((r) => r.isLeader)).toBe(true);
    // Two runs for one tick would be close together; timers of one period only run late.
    for (let i = 1; i < mine.length; i++) {
      expect(mine[i]!.at - mine[i - 1]!.at).toBeGreaterThanOrEqual(500);
    }
  }
}

test('four workers: each @LeaderOnly() @Interval(1000) job runs ~10 times in 10 s, all on the leader; kill -9 the leader: it runs on exactly one other worker, at a higher epoch', async () => {
  const procs = await Promise.all([1, 2, 3, 4].map(worker));
  const first = await leaderOf(procs);
  expect(first.state.epoch).toBeGreaterThanOrEqual(1);

  const t0 = Date.now();
  await sleep(10_000);
  const t1 = Date.now();
  await sleep(300); // the last reports are on their way over fork IPC
  const steady = runs(procs, t0, t1);
  expectOneRunner(steady, first.state.pid, first.state.epoch, 5, 11);

  const others = procs.filter((p) => p !== first.proc);
  const killedAt = Date.now();
  await first.proc.kill('SIGKILL');
  const second = await leaderOf(others);
  expect(second.state.epoch).toBeGreaterThan(first.state.epoch);
  const t2 = Date.now();
  await sleep(5000);
  const t3 = Date.now();
  await sleep(300);

  // From the kill on, only the new leader ran the jobs, all at its epoch: at most one run per
  // second that passed (plus one), however long the failover took on a loaded machine.
  const seconds = Math.ceil((t3 - killedAt) / 1000);
  expectOneRunner(runs(others, killedAt), second.state.pid, second.state.epoch, 2, seconds + 1);
  const settled = runs(others, t2, t3);
  for (const job of ['below', 'above']) {
    const n = settled.filter((r) => r.job === job).length;
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(6);
  }

  // IpcLeadership.changes: only the new leader ever saw itself lead among the survivors.
  for (const p of others) {
    const led = p.events.filter((e) => e.ev === 'leadership' && e.isLeader);
    expect(led.map((e) => e.epoch)).toEqual(p === second.proc ? [second.state.epoch] : []);
  }
}, 90_000);

test('app.close() on the leader: it stops running the jobs before another worker starts them', async () => {
  const procs = await Promise.all([1, 2, 3].map(worker));
  const first = await leaderOf(procs);
  await sleep(2500);
  await first.proc.call('close');
  const closedAt = Date.now();
  const others = procs.filter((p) => p !== first.proc);
  const second = await leaderOf(others);
  expect(second.state.epoch).toBeGreaterThan(first.state.epoch);
  await sleep(2500);

  const all = runs(procs, 0);
  const lastOld = all.filter((r) => r.pid === first.state.pid).at(-1)!;
  const firstNew = all.find((r) => r.pid === second.state.pid)!;
  expect(lastOld.at).toBeLessThanOrEqual(closedAt);
  expect(firstNew.at).toBeGreaterThanOrEqual(lastOld.at);
  // Runs are one leader's after the other's: never interleaved, epochs in order.
  expect([...new Set(all.map((r) => `${r.pid}@${r.epoch}`))]).toEqual([
    `${first.state.pid}@${first.state.epoch}`,
    `${second.state.pid}@${second.state.epoch}`,
  ]);
  // The old leader reported stepping down.
  const changes = first.proc.events.filter((e) => e.ev === 'leadership');
  expect(changes.at(-1)).toMatchObject({ isLeader: false });
}, 60_000);
