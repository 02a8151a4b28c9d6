/**
 * Step 4 of the hosts demo (scripts/demo-hosts.mjs): `kill -9` of one host's hub worker, and so
 * of its bridge, while numbered ticks cross between the hosts through it: the demo's peer (on
 * the first host) sends them to the other host's workers (all of them when the demo's own host
 * loses its hub, the others of that host otherwise), each confirmed by a tock back. Every tick
 * must be confirmed once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { dim, eventually, say, step, table } from './demo-kit.mjs';

/**
 * Ticks to each target every 10 ms, each confirmed by a tock; counts what came back, and when
 * the first tock for a tick sent after the kill arrived.
 */
function startTicks(demo, label, targets) {
  const per = new Map(
    targets.map((t) => [
      t,
      { sent: 0, seen: new Set(), twice: 0, late: 0, max: -1, after: Infinity },
    ]),
  );
  let killedAt;
  let gapMs;
  const onTock = (sender, n) => {
    const t = per.get(label(sender));
    if (t === undefined) return;
    if (t.seen.has(n)) t.twice++;
    else t.seen.add(n);
    if (n < t.max) t.late++;
    t.max = Math.max(t.max, n);
    if (n >= t.after && gapMs === undefined) gapMs = Date.now() - killedAt;
  };
  demo.on('tock', onTock);
  const timer = setInterval(() => {
    for (const [target, t] of per)
      for (let i = 0; i < 5; i++) demo.to(target).emit('tick', t.sent++);
  }, 10);
  return {
    per,
    killed: () => {
      killedAt = Date.now();
      for (const t of per.values()) t.after = t.sent;
    },
    gapMs: () => gapMs,
    stop: () => clearInterval(timer),
    settled: () => [...per.values()].every((t) => t.seen.size === t.sent),
    close: () => demo.off('tock', onTock),
  };
}

export async function killHub({ demo, ask, everyWorker, label, mark, host, demoHost }) {
  step(`4) kill -9 of ${host}'s hub worker, under traffic between the hosts`);
  const stats = await ask('stats?', 'stats', everyWorker());
  const hub = [...stats].find(([, s]) => s.host === host && s.isHub);
  if (hub === undefined) {
    mark(false, `no worker of ${host} says it hosts the hub`);
    return false;
  }
  const [hubPeer, hubStats] = hub;
  const targets = [...stats]
    .filter(([p, s]) => p !== hubPeer && (host === demoHost ? s.host !== host : s.host === host))
    .map(([p]) => p)
    .sort();
  say(
    dim(
      `   The demo sends 500 numbered ticks/s to each of ${targets.join(', ')}; each answers every tick with a tock.`,
    ),
  );
  const ticks = startTicks(demo, label, targets);
  await sleep(1000);
  ticks.killed();
  process.kill(hubStats.pid, 'SIGKILL');
  say(
    `   kill -9 ${hubStats.pid} (${hubPeer}, ${host}'s hub and bridge${hubStats.isLeader ? ', the leader' : ''}) after ${[...ticks.per.values()].reduce((n, t) => n + t.sent, 0)} ticks`,
  );
  await sleep(2000);
  ticks.stop();
  await eventually(() => ticks.settled(), 'every tick to be confirmed', 30_000).catch(
    () => undefined,
  );
  ticks.close();
  const rows = [...ticks.per].map(([target, t]) => ({
    target,
    sent: t.sent,
    confirmed: t.seen.size,
    lost: t.sent - t.seen.size,
    twice: t.twice,
    late: t.late,
  }));
  table(rows, [
    ['target', 'worker'],
    ['sent', 'ticks sent'],
    ['confirmed', 'confirmed'],
    ['lost', 'lost'],
    ['twice', 'twice'],
    ['late', 'out of order'],
  ]);
  const clean = rows.every((r) => r.lost === 0 && r.twice === 0 && r.late === 0);
  say(
    `   the first tick sent after the kill was confirmed ${ticks.gapMs() ?? '-'} ms after it; PM2 restarts the killed worker`,
  );
  mark(
    clean,
    clean ? 'lost 0, twice 0, out of order 0' : 'something went missing or came twice (see above)',
  );
  const after = await eventually(async () => {
    const s = await ask('stats?', 'stats', everyWorker(), 5000);
    const h = [...s].find(([, x]) => x.host === host && x.isHub);
    const all = s.size === everyWorker().length;
    return h !== undefined && h[1].pid !== hubStats.pid && all ? h : undefined;
  }, `a new hub on ${host} and the killed worker back`).catch(() => undefined);
  mark(
    after !== undefined,
    after
      ? `${after[0]} (pid ${after[1].pid}) now hosts ${host}'s hub; all ${everyWorker().length} workers answer`
      : `no new hub on ${host}`,
  );
  return clean && after !== undefined;
}
