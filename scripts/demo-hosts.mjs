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
import { killHub } from './demo-hosts-kill.mjs';
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
  demo.on('error', (e) => say(dim(`   (the demo's channel: ${e.message})`)));
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

/** The workers in `stats` that do not yet list every worker of both hosts among their peers. */
function blind(stats) {
  const all = everyWorker().map(label);
  return [...stats]
    .filter(([peer, s]) => {
      const seen = new Set([
        peer,
        ...s.peers.map((p) => (typeof p === 'number' ? `${s.host}/${p}` : p)),
      ]);
      return !all.every((p) => seen.has(p));
    })
    .map(([peer]) => peer);
}

async function gather() {
  step('2) A gather: one request to every worker on both hosts, every answer collected');
  const expected = everyWorker();
  let got = await ask('stats?', 'stats', expected);
  const answered = expected.every((p) => got.has(label(p)));
  // Each host publishes its members with a heartbeat: give the views a few seconds to meet.
  if (answered && blind(got).length > 0) {
    got = await eventually(
      async () => {
        const again = await ask('stats?', 'stats', expected, 5000);
        return again.size === expected.length && blind(again).length === 0 ? again : undefined;
      },
      'every worker to see both hosts',
      10_000,
    ).catch(() => got);
  }
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
  mark(
    answered,
    answered
      ? `${got.size} of ${expected.length} answered`
      : `only ${got.size} of ${expected.length} answered`,
  );
  const missing = blind(got);
  mark(
    missing.length === 0,
    missing.length === 0
      ? 'every worker lists every worker of both hosts among its peers'
      : `not every worker of both hosts among the peers of ${missing.join(', ')}`,
  );
  return answered && missing.length === 0;
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
    // West's hub dies (east has the demo's own peer, which could win east's next election).
    const host = NAMES[1];
    ok = (await killHub({ demo, ask, everyWorker, label, mark, host, demoHost: NAMES[0] })) && ok;
    const next = await oneLeader('5) One leader across both hosts after the kill');
    if (next !== undefined && leader !== undefined) {
      // A leader that was killed hands over at a higher epoch; one that lives keeps its epoch.
      const moved = leader.host === host;
      const right = moved
        ? next.epoch > leader.epoch && next.pid !== leader.pid
        : next.epoch === leader.epoch;
      mark(
        right,
        moved
          ? `the leader was killed: epoch ${leader.epoch} -> ${next.epoch}`
          : `the leader lived on: epoch ${next.epoch} unchanged`,
      );
      ok = right && ok;
    }
    ok = next !== undefined && ok;

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
