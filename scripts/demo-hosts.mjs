/**
 * npm run demo -- --hosts 2
 *
 * Two "hosts" on this machine, each a PM2 cluster of 3 workers (scripts/demo-hosts-worker.mjs)
 * with its own PM2_HOME, socket directory and host name, federated over a private local Redis.
 * The demo joins host east as one more peer and checks, across the hosts: an invalidation
 * confirmed by every worker, a gather answered by every worker, one leader, and `kill -9` of
 * west's hub worker under cross-host traffic with nothing lost or delivered twice. It exits 0
 * only when every check holds, and stops PM2 and Redis and removes its files however it ends.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Pm2,
  ROOT,
  bold,
  dim,
  eventually,
  green,
  isAlive,
  red,
  run,
  say,
  seconds,
  step,
  table,
} from './demo-kit.mjs';
import { startRedis } from './demo-redis.mjs';

const APP = 'hosts-demo';
const NAMES = ['east', 'west'];
const WORKERS = [1, 2, 3];
/** The demo's own peer on the first host: far from the workers' PM2 ids. */
const DEMO_ID = 100;

let redis;
let demo;
const hosts = [];
let stopping;

/** Stops whatever the demo started; safe at any point, more than once. */
function stopAll() {
  stopping ??= (async () => {
    await demo?.close().catch(() => undefined);
    await Promise.all(hosts.map((h) => h.pm2.destroy().catch(() => undefined)));
    for (const h of hosts) rmSync(h.dir, { recursive: true, force: true });
    await redis?.stop();
  })();
  return stopping;
}

/** 'west/2' for a remote peer; a local number is named with the demo's own host. */
const label = (peer) => (typeof peer === 'number' ? `${NAMES[0]}/${peer}` : peer);
const mark = (ok, text) => say(ok ? green(`   ✔ ${text}`) : red(`   ✘ ${text}`));

/**
 * Emits `event` to every other peer on every host and collects each one's `reply` (the
 * workers answer the sender with the same ref): resolves with the replies by peer once every
 * peer in `expected` answered, or after `timeoutMs` with what came.
 */
function ask(event, reply, expected, timeoutMs = 15_000) {
  const ref = `${event}-${Date.now()}-${Math.random()}`;
  const got = new Map();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      demo.off(reply, listener);
      resolve(got);
    };
    const listener = (sender, r, data) => {
      if (r !== ref) return;
      got.set(label(sender), data);
      if (expected.every((p) => got.has(label(p)))) done();
    };
    const timer = setTimeout(done, timeoutMs);
    demo.on(reply, listener);
    demo.to('others').emit(event, ref);
  });
}

const everyWorker = () =>
  NAMES.flatMap((h, i) => WORKERS.map((id) => (i === 0 ? id : `${h}/${id}`)));

async function startHosts() {
  for (const name of NAMES) {
    const dir = mkdtempSync(`/tmp/ipc-demo-${name}-`);
    const env = { NESTJS_IPC_DIR: dir, DEMO_HOST: name, DEMO_REDIS: redis.url };
    const pm2 = new Pm2(mkdtempSync(`/tmp/pm2-demo-${name}-`), env, APP);
    hosts.push({ name, dir, pm2 });
    const app = {
      name: APP,
      script: join(ROOT, 'scripts/demo-hosts-worker.mjs'),
      exec_mode: 'cluster',
      instances: WORKERS.length,
      kill_timeout: 8000,
      treekill: false,
      merge_logs: true,
      pmx: false,
      vizion: false,
      env,
    };
    writeFileSync(join(pm2.home, 'demo.json'), JSON.stringify({ apps: [app] }));
  }
  const started = Date.now();
  process.stdout.write(
    `${bold('• Starting')} ${NAMES.length} hosts × ${WORKERS.length} workers under PM2 ${dim(`(${hosts.map((h) => `${h.name}: PM2_HOME=${h.pm2.home}`).join(', ')})`)}… `,
  );
  await Promise.all(hosts.map((h) => h.pm2.run('start', join(h.pm2.home, 'demo.json'), '-s')));
  const { Channel } = await import('../dist/channel/index.js');
  demo = new Channel({
    name: `pm2:${APP}`,
    id: DEMO_ID,
    dir: hosts[0].dir,
    federation: { redis: redis.url, host: NAMES[0] },
  });
  await demo.connect();
  await eventually(
    () => everyWorker().every((p) => demo.peers.includes(p)),
    'every worker of both hosts to be seen from east',
  );
  say(dim(seconds(Date.now() - started)));
  say(
    `   The demo joined host ${NAMES[0]} as peer ${DEMO_ID}; it sees hosts ${demo.hosts.join(', ')} and peers ${demo.peers.map(label).join(', ')}.`,
  );
}

async function invalidation() {
  step('1) An invalidation to every worker on every host, each confirming it');
  const expected = everyWorker();
  const got = await ask('invalidate', 'invalidated', expected);
  const missing = expected.map(label).filter((p) => !got.has(p));
  say(`   to('others').emit('invalidate') → confirmed by ${[...got.keys()].sort().join(', ')}`);
  mark(
    missing.length === 0,
    missing.length === 0
      ? `all ${expected.length} workers on both hosts confirmed`
      : `missing: ${missing.join(', ')}`,
  );
  return missing.length === 0;
}

async function gather() {
  step('2) A gather: one request to every worker on both hosts, every answer collected');
  const expected = everyWorker();
  const got = await ask('stats?', 'stats', expected);
  table(
    [...got]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([peer, s]) => ({
        peer,
        pid: s.pid,
        hub: s.isHub ? '✔' : '',
        leader: s.isLeader ? `✔ epoch ${s.epoch}` : '',
        hosts: s.hosts.join(' '),
        peers: s.peers.length,
        invalidations: s.invalidations,
      })),
    [
      ['peer', 'peer'],
      ['pid', 'pid'],
      ['hub', 'hub of its host'],
      ['leader', 'leader'],
      ['hosts', 'hosts seen'],
      ['peers', 'peers seen'],
      ['invalidations', 'invalidations'],
    ],
  );
  const ok = expected.every((p) => got.has(label(p)));
  mark(
    ok,
    ok
      ? `${got.size} of ${expected.length} answered`
      : `only ${got.size} of ${expected.length} answered`,
  );
  return ok;
}

/** Exactly one worker leads across both hosts (asked until it holds, up to 20 s). */
async function oneLeader(title) {
  step(title);
  let last = new Map();
  const leader = await eventually(
    async () => {
      last = await ask('stats?', 'stats', everyWorker(), 5000);
      const leaders = [...last].filter(([, s]) => s.isLeader);
      const all = last.size === everyWorker().length;
      return leaders.length === 1 && !demo.isLeader && all ? leaders[0] : undefined;
    },
    'exactly one leader across the hosts',
    20_000,
  ).catch(() => undefined);
  if (leader === undefined) {
    const leaders = [...last].filter(([, s]) => s.isLeader).map(([p]) => p);
    mark(false, `leaders: ${leaders.join(', ') || 'none'} (of ${last.size} workers answering)`);
    return undefined;
  }
  const [peer, s] = leader;
  mark(
    true,
    `${peer} (pid ${s.pid}, the hub of ${s.host}) leads at epoch ${s.epoch}; the other ${last.size - 1} workers follow`,
  );
  return { peer, ...s };
}

/** Ticks to each target every 10 ms, each confirmed by a tock; counts what came back. */
function startTicks(targets) {
  const per = new Map(
    targets.map((t) => [t, { sent: 0, seen: new Set(), twice: 0, late: 0, max: -1 }]),
  );
  let firstAfter;
  let killedAt;
  const onTock = (sender, n) => {
    const t = per.get(label(sender));
    if (t === undefined) return;
    if (t.seen.has(n)) t.twice++;
    else t.seen.add(n);
    if (n < t.max) t.late++;
    t.max = Math.max(t.max, n);
    if (killedAt !== undefined && firstAfter === undefined) firstAfter = Date.now() - killedAt;
  };
  demo.on('tock', onTock);
  const timer = setInterval(() => {
    for (const [target, t] of per)
      for (let i = 0; i < 5; i++) demo.to(target).emit('tick', t.sent++);
  }, 10);
  return {
    per,
    killed: () => (killedAt = Date.now()),
    firstAfter: () => firstAfter,
    stop: () => clearInterval(timer),
    settled: () => [...per.values()].every((t) => t.seen.size === t.sent),
    close: () => demo.off('tock', onTock),
  };
}

async function killHub() {
  const west = NAMES[1];
  step(`4) kill -9 of ${west}'s hub worker, under traffic from ${NAMES[0]} to ${west} and back`);
  const stats = await ask('stats?', 'stats', everyWorker());
  const hub = [...stats].find(([, s]) => s.host === west && s.isHub);
  if (hub === undefined) {
    mark(false, `no worker of ${west} says it hosts the hub`);
    return false;
  }
  const [hubPeer, hubStats] = hub;
  const targets = [...stats].filter(([p, s]) => s.host === west && p !== hubPeer).map(([p]) => p);
  say(
    dim(
      `   The demo sends 500 numbered ticks/s to each of ${targets.join(', ')}; each answers every tick with a tock.`,
    ),
  );
  const ticks = startTicks(targets);
  await sleep(1000);
  ticks.killed();
  process.kill(hubStats.pid, 'SIGKILL');
  say(
    `   kill -9 ${hubStats.pid} (${hubPeer}, ${west}'s hub and bridge) after ${[...ticks.per.values()].reduce((n, t) => n + t.sent, 0)} ticks`,
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
    `   first tock after the kill: ${ticks.firstAfter() ?? '-'} ms; PM2 restarts the killed worker`,
  );
  mark(
    clean,
    clean ? 'lost 0, twice 0, out of order 0' : 'something went missing or came twice (see above)',
  );
  const after = await eventually(async () => {
    const s = await ask('stats?', 'stats', everyWorker(), 5000);
    const h = [...s].find(([, x]) => x.host === west && x.isHub);
    const all = s.size === everyWorker().length;
    return h !== undefined && h[1].pid !== hubStats.pid && all ? h : undefined;
  }, `a new hub on ${west} and the killed worker back`).catch(() => undefined);
  mark(
    after !== undefined,
    after
      ? `${after[0]} (pid ${after[1].pid}) now hosts ${west}'s hub; all ${everyWorker().length} workers answer`
      : `no new hub on ${west}`,
  );
  return clean && after !== undefined;
}

export async function hostsDemo(count) {
  if (count !== NAMES.length) {
    say(`--hosts takes ${NAMES.length} (the demo simulates hosts ${NAMES.join(' and ')}).`);
    return 2;
  }
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      say(`\n${signal}: stopping PM2 and Redis, removing the demo's files…`);
      stopAll().finally(() => process.exit(130));
    });
  }
  say(
    bold(
      `nestjs-ipc-channel hosts demo: ${NAMES.length} PM2 clusters on "hosts" ${NAMES.join(' and ')}, federated over Redis`,
    ),
  );
  try {
    process.stdout.write(`${bold('• Building')} the library… `);
    const built = Date.now();
    await run(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT },
    );
    say(dim(seconds(Date.now() - built)));
    redis = await startRedis();
    say(`${bold('• Redis:')} ${redis.description}`);
    await startHosts();
    let ok = await invalidation();
    ok = (await gather()) && ok;
    const leader = await oneLeader(
      '3) One leader across both hosts (a lease in Redis with a fencing epoch)',
    );
    ok = leader !== undefined && ok;
    ok = (await killHub()) && ok;
    const next = await oneLeader('5) Still one leader across both hosts');
    ok = next !== undefined && (leader === undefined || next.epoch >= leader.epoch) && ok;

    process.stdout.write(`\n${bold('• Stopping')} PM2 on both hosts and Redis… `);
    const pids = [...(await Promise.all(hosts.map((h) => h.pm2.instances())))].flatMap((m) => [
      ...m.values(),
    ]);
    await stopAll();
    const left = [...pids, redis.pid].filter(isAlive);
    say(
      left.length === 0
        ? 'done: no worker, Redis or file left behind.'
        : red(`left behind: processes ${left.join(', ')}`),
    );
    ok = ok && left.length === 0;
    say(ok ? green(bold('\nEvery check held.')) : red(bold('\nSome check failed (✘ above).')));
    return ok ? 0 : 1;
  } catch (error) {
    if (interrupted) return 130;
    say(`\n${red('The hosts demo failed:')} ${error.message ?? error}`);
    printLogs();
    await stopAll().catch(() => undefined);
    return 1;
  }
}

/** The tail of each host's PM2 logs: where a worker's failure to start shows. */
function printLogs() {
  for (const h of hosts) {
    const logs = join(h.pm2.home, 'logs');
    try {
      for (const f of readdirSync(logs)) {
        const text = readFileSync(join(logs, f), 'utf8').split('\n').slice(-20).join('\n');
        if (text.trim() !== '') say(dim(`--- ${h.name}: ${f}\n${text}`));
      }
    } catch {
      /* no logs */
    }
  }
}
