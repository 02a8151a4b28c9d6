/**
 * The demo's reload step (scripts/demo.mjs calls it): a traffic process joins the channel and
 * sends numbered events and requests to every worker while PM2 reloads them, then reports what
 * was lost, delivered twice or left unanswered.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, dim, eventually, green, red, say, seconds, step, table } from './demo-kit.mjs';

function startTraffic(ipcDir, app) {
  const child = spawn(process.execPath, [join(ROOT, 'sample/dist/traffic.js')], {
    cwd: ROOT,
    env: { ...process.env, NESTJS_IPC_DIR: ipcDir, IPC_CHANNEL: `pm2:${app}`, TRAFFIC_ID: '100' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.reports = [];
  child.errors = '';
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith('{')) child.reports.push(JSON.parse(line));
    }
  });
  child.stderr.on('data', (d) => (child.errors += d));
  child.latest = () => child.reports.filter((r) => r.type !== 'start').at(-1);
  child.closed = new Promise((r) => child.on('exit', r));
  return child;
}

/**
 * `pm2 reload` under traffic from a process outside PM2; `ctx` is the demo's cluster, and
 * `onTraffic` is told of that process so that the demo's Ctrl-C handler can stop it.
 */
export async function reloadScenario(port, ctx) {
  const { pm2, ipcDir, app: APP, workers: WORKERS, allWorkers, onTraffic } = ctx;
  step(`6) pm2 reload ${APP}, under traffic`);
  say(
    dim(`   A traffic process joins the channel as peer 100 and keeps sending numbered cache.invalidate
   events to each worker (each confirmed by a cache.invalidated event back) and ping requests.`),
  );
  const before = await pm2.instances();
  const traffic = startTraffic(ipcDir, APP);
  onTraffic(traffic);
  const flowing = (r) => r && r.events.confirmed >= 400 && r.requests.answered >= 100;
  await eventually(() => traffic.exitCode === null && flowing(traffic.latest()), 'traffic to flow');
  const progress = () => {
    const r = traffic.latest();
    return `   traffic: ${r.events.confirmed} events confirmed, ${r.requests.answered} requests answered`;
  };
  say(progress());
  const started = Date.now();
  await pm2.run('reload', APP, '-s');
  const reloadMs = Date.now() - started;
  const after = await pm2.instances();
  say(
    `   pm2 reload done in ${seconds(reloadMs)}: PM2 started a new process for each instance, then stopped the old one`,
  );
  await eventually(() => {
    const r = traffic.latest();
    return WORKERS.every((id) => r.workers[id]?.pids.includes(after.get(id - 1)));
  }, 'the new workers to confirm events');
  await sleep(500);
  say(progress());
  traffic.kill('SIGINT');
  await traffic.closed;
  const summary = traffic.reports.find((r) => r.type === 'summary');
  if (!summary) throw new Error(`The traffic process gave no summary:\n${traffic.errors}`);

  say();
  table(
    WORKERS.map((id) => {
      const w = summary.workers[id];
      return {
        id,
        pids: `${before.get(id - 1)} → ${after.get(id - 1)}`,
        handover: w.ranges[1] ? `#${w.ranges[1][1]}` : '-',
        sent: w.sent,
        confirmed: w.confirmed,
        lost: w.lost ? red(w.lost) : w.lost,
        undeliverable: w.undeliverable
          ? red(
              `${w.undeliverable} (${Object.entries(w.reasons)
                .map(([r, n]) => `${r}: ${n}`)
                .join(', ')})`,
            )
          : (w.undeliverable ?? 0),
        duplicated: w.duplicated ? red(w.duplicated) : w.duplicated,
      };
    }),
    [
      ['id', 'worker'],
      ['pids', 'pid: old → new'],
      ['handover', 'new one from event'],
      ['sent', 'events sent'],
      ['confirmed', 'confirmed'],
      ['lost', 'lost'],
      ['undeliverable', 'undeliverable (reported)'],
      ['duplicated', 'twice'],
    ],
  );
  const q = summary.requests;
  const retried = q.retried
    ? dim(` (${q.retried} sent again after PeerUnavailableError: their worker had just left)`)
    : '';
  say(
    `   requests: ${q.sent} sent, ${q.answered} answered` +
      (q.failed || q.wrong
        ? red(`, ${q.failed + q.wrong} failed ${JSON.stringify(q.errors)}`)
        : ', none failed') +
      retried,
  );
  const { workers } = await allWorkers(port);
  const stable = workers.every((w) => w.peer === w.instance + 1 && w.pid === after.get(w.instance));
  say(
    `   peer ids after the reload: ${workers.map((w) => w.peer).join(', ')} = PM2 instances + 1 ${stable ? green('✔') : red('✘')}`,
  );
  if (summary.events.undeliverable > 0)
    say(
      red(
        `   ${summary.events.undeliverable} event(s) could not be delivered; the channel told the traffic process why (the reasons above): not lost in silence.`,
      ),
    );
  if (summary.ok && stable)
    say(green('   ✔ Nothing lost, nothing delivered twice, every request answered.'));
  else say(red('   ✘ Something went missing: see the numbers above.'));
  return summary.ok && stable;
}
