#!/usr/bin/env node
/**
 * npm run demo [-- --keep | --stop | --port N | --hosts 2]
 *
 * Builds the library and the sample app, starts the sample as a 4-worker PM2 cluster (the
 * project's own pm2, a private PM2_HOME and a private socket directory: never the user's PM2 or
 * channels), walks through what the workers do over the channel, reloads the cluster under
 * traffic to show that nothing is lost, and stops everything.
 *
 *   --keep     leave the cluster running at the end and print how to call it and stop it
 *   --stop     stop a cluster left running by --keep
 *   --port N   HTTP port (default $PORT or 3000; a free one if that is taken)
 *   --hosts 2  the other demo: two PM2 "hosts" federated over a local Redis (demo-hosts.mjs)
 *
 * Ctrl-C at any point stops PM2 and removes everything the demo created.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Pm2,
  ROOT,
  bold,
  cyan,
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
import { socketIoScenario } from './demo-socket-io.mjs';
import { metricsScenario } from './demo-metrics.mjs';
import { reloadScenario } from './demo-reload.mjs';
import { choosePort, http } from './demo-http.mjs';

const SAMPLE = join(ROOT, 'sample');
const APP = 'cache-api';
const WORKERS = [1, 2, 3, 4];
const STATE_FILE = join('/tmp', `nestjs-ipc-demo-${process.getuid?.() ?? 'user'}.json`);

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const portArg = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : undefined;

// ---- HTTP -----------------------------------------------------------------------------------

/** GET /workers once all four workers are on the channel. */
function allWorkers(port) {
  return eventually(async () => {
    const { status, body } = await http(port, 'GET', '/workers');
    const peers = body.workers?.map((w) => w.peer);
    const complete = body.workers?.every((w) => typeof w.pid === 'number');
    return status === 200 && complete && peers.join() === WORKERS.join() ? body : undefined;
  }, 'the four workers to join the channel');
}

// ---- lifecycle ------------------------------------------------------------------------------

let pm2;
let ipcDir;
let traffic;
let stopping;
let interrupted = false;

/** Stops whatever the demo started; safe to call at any point, more than once. */
function stopAll() {
  stopping ??= (async () => {
    if (traffic && traffic.exitCode === null) traffic.kill('SIGKILL');
    await pm2?.destroy();
    if (ipcDir) rmSync(ipcDir, { recursive: true, force: true });
  })();
  return stopping;
}

function onSignal(signal) {
  if (interrupted) return;
  interrupted = true;
  say(`\n${signal}: stopping PM2 and removing the demo's files…`);
  stopAll().then(
    () => {
      say('Stopped. Nothing left behind.');
      process.exit(130);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

async function stopKept() {
  let state;
  try {
    state = JSON.parse(readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return false;
  }
  say(`Stopping the demo left running with --keep (PM2_HOME=${state.pm2Home})…`);
  await new Pm2(state.pm2Home, {}, APP).destroy();
  rmSync(state.ipcDir, { recursive: true, force: true });
  rmSync(STATE_FILE, { force: true });
  say('Stopped. Nothing left behind.');
  return true;
}

// ---- the demo -------------------------------------------------------------------------------

async function build() {
  const started = Date.now();
  process.stdout.write(`${bold('• Building')} the library and the sample app (Nest CLI)… `);
  await run(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: ROOT },
  );
  await run(process.execPath, [join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'), 'build'], {
    cwd: SAMPLE,
  });
  say(dim(seconds(Date.now() - started)));
}

async function startCluster(port) {
  pm2 = new Pm2(mkdtempSync('/tmp/pm2-demo-'), { PORT: String(port), NESTJS_IPC_DIR: ipcDir }, APP);
  const started = Date.now();
  process.stdout.write(
    `${bold('• Starting')} 4 workers: pm2 start sample/ecosystem.config.cjs ${dim(`(PM2_HOME=${pm2.home}, port ${port})`)}… `,
  );
  await pm2.run('start', join(SAMPLE, 'ecosystem.config.cjs'), '-s');
  const { workers } = await allWorkers(port);
  say(dim(seconds(Date.now() - started)));
  const hub = workers.find((w) => w.hub);
  say(
    `   Workers ${WORKERS.join(', ')} joined channel 'pm2:${APP}'${hub ? `; worker ${hub.peer} hosts the hub` : ''}.`,
  );
}

async function cacheScenario(port) {
  step('1) Each worker has its own memory');
  say(
    dim('   PM2 hands each HTTP connection to the next worker; POST stores in that worker only.'),
  );
  const holders = new Set();
  for (let i = 0; i < 40 && holders.size < WORKERS.length; i++) {
    const { body } = await http(port, 'POST', '/cache/greeting', { value: 'hello' });
    holders.add(body.worker);
    say(`   POST /cache/greeting {"value":"hello"}  → stored by ${cyan(`worker ${body.worker}`)}`);
  }
  for (let i = 0; i < 2; i++) {
    const { body } = await http(port, 'GET', '/cache/greeting');
    say(
      `   GET  /cache/greeting                    → ${cyan(`worker ${body.worker}`)}: ${body.hit ? `"${body.value}"` : 'miss'}`,
    );
  }

  step('2) DELETE broadcasts cache.invalidate to every worker');
  const { body: removed } = await http(port, 'DELETE', '/cache/greeting');
  const all = removed.confirmedBy.length === WORKERS.length && removed.missing.length === 0;
  say(
    `   DELETE /cache/greeting → ${cyan(`worker ${removed.worker}`)} emitted it; confirmed by workers ${removed.confirmedBy.join(', ')} ` +
      (all ? green(`(all ${WORKERS.length})`) : red(`(missing: ${removed.missing.join(', ')})`)),
  );
  const misses = [];
  for (let i = 0; i < WORKERS.length; i++) {
    const { body } = await http(port, 'GET', '/cache/greeting');
    misses.push(`worker ${body.worker}: ${body.hit ? red('still there') : 'miss'}`);
  }
  say(`   GET  /cache/greeting ×${WORKERS.length} → ${misses.join(', ')}`);
  return all;
}

async function statsScenario(port) {
  const { body } = await http(port, 'GET', '/workers');
  step(
    `3) GET /workers: worker ${body.answeredBy} gathers stats from every worker over the channel`,
  );
  table(
    body.workers.map((w) => ({
      ...w,
      hub: w.hub ? '✔' : '',
      uptime: `${w.uptimeSec} s`,
    })),
    [
      ['peer', 'peer'],
      ['pid', 'pid'],
      ['instance', 'PM2 instance'],
      ['hub', 'hub'],
      ['uptime', 'uptime'],
      ['rssMiB', 'RSS MiB'],
      ['heapUsedMiB', 'heap MiB'],
      ['httpRequests', 'HTTP requests'],
      ['ipcMessages', 'channel messages'],
      ['cacheKeys', 'cached keys'],
      ['invalidations', 'invalidations'],
    ],
  );

  step('4) GET /workers/3/ping: one request to one worker, by peer id');
  const { body: ping } = await http(port, 'GET', '/workers/3/ping');
  say(
    `   worker ${ping.from} → worker ${ping.to} (pid ${ping.pong.pid}): pong in ${ping.roundTripMs} ms`,
  );
}

/**
 * GET /leader from every worker (PM2 hands each connection to the next one), once exactly one
 * leads and each has received a warm-up from it.
 */
function leaderViews(port) {
  const views = new Map();
  return eventually(async () => {
    const { status, body } = await http(port, 'GET', '/leader');
    if (status === 200) views.set(body.worker, body);
    const all = [...views.values()];
    const leaders = all.filter((v) => v.isLeader);
    const heard = all.every((v) => v.warmUpsReceived.some((w) => w.epoch === leaders[0]?.epoch));
    return views.size === WORKERS.length && leaders.length === 1 && heard ? all : undefined;
  }, 'one leader whose warm-ups reach every worker');
}

async function leaderScenario(port, title, before) {
  step(title);
  const views = await leaderViews(port);
  const leader = views.find((v) => v.isLeader);
  say(
    `   worker ${cyan(String(leader.worker))} (pid ${leader.pid}) leads at epoch ${leader.epoch}` +
      (before ? ` (before: worker ${before.worker} at epoch ${before.epoch})` : '') +
      `: ${views.filter((v) => v.warmUpsRun > 0).length} worker(s) ran the warm-up so far`,
  );
  // Which process ran each warm-up a worker received: one per epoch, never two.
  const runners = new Map();
  for (const w of views.flatMap((v) => v.warmUpsReceived)) {
    runners.set(w.epoch, (runners.get(w.epoch) ?? new Set()).add(w.pid));
  }
  say(
    `   warm-ups received, by epoch: ${[...runners]
      .sort(([a], [b]) => a - b)
      .map(([epoch, pids]) => `epoch ${epoch} ran by pid ${[...pids].join(' and ')}`)
      .join(', ')}`,
  );
  const ok =
    views.every((v) => v.epoch === leader.epoch && v.leader === leader.worker) &&
    [...runners.values()].every((pids) => pids.size === 1) &&
    (before === undefined || leader.epoch > before.epoch);
  say(
    ok
      ? green('   ✔ One leader, one runner per epoch; every worker agrees.')
      : red('   ✘ The workers disagree (see above).'),
  );
  return { ok, leader };
}

async function main() {
  if (args.includes('--hosts')) {
    const { hostsDemo } = await import('./demo-hosts.mjs');
    return hostsDemo(Number(args[args.indexOf('--hosts') + 1]));
  }
  if (args.includes('--stop')) {
    if (!(await stopKept())) say('No demo left running with --keep was found.');
    return 0;
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);
  say(
    bold(
      'nestjs-ipc-channel demo: a NestJS app run by PM2 as 4 cluster workers that talk over the channel',
    ),
  );
  await stopKept();
  await build();
  const port = await choosePort(portArg ?? Number(process.env.PORT || 3000));
  ipcDir = mkdtempSync('/tmp/ipc-demo-');
  await startCluster(port);
  let ok = await cacheScenario(port);
  await statsScenario(port);
  ok =
    (await socketIoScenario(
      port,
      ROOT,
      { NESTJS_IPC_DIR: ipcDir, IPC_CHANNEL: `pm2:${APP}` },
      { step, say, table, green, red, dim, http },
    )) && ok;
  ok = (await metricsScenario(port, { step, say, dim, green, red })) && ok;
  const first = await leaderScenario(
    port,
    "5) GET /leader: a @LeaderOnly() warm-up job runs on one worker only (the hub's)",
  );
  ok =
    (await reloadScenario(port, {
      pm2,
      ipcDir,
      app: APP,
      workers: WORKERS,
      allWorkers,
      onTraffic: (child) => (traffic = child),
    })) &&
    first.ok &&
    ok;
  const second = await leaderScenario(
    port,
    '7) GET /leader after the reload: one new worker leads, at a higher epoch',
    first.leader,
  );
  ok = second.ok && ok;

  if (keep) {
    writeFileSync(STATE_FILE, JSON.stringify({ pm2Home: pm2.home, ipcDir, port }));
    const pm2Cmd = `PM2_HOME=${pm2.home} npx pm2`;
    step('The cluster is still running. Try:');
    say(`   curl -s localhost:${port}/workers`);
    say(
      `   curl -s -X POST localhost:${port}/cache/greeting -H 'content-type: application/json' -d '{"value":"hi"}'`,
    );
    say(`   curl -s localhost:${port}/cache/greeting`);
    say(`   curl -s -X DELETE localhost:${port}/cache/greeting`);
    say(`   curl -s localhost:${port}/workers/2/ping`);
    say(`   curl -s localhost:${port}/leader`);
    say(`   ${pm2Cmd} ls`);
    say(`   ${pm2Cmd} logs ${APP}`);
    say(`   ${pm2Cmd} reload ${APP}`);
    say(
      `   NESTJS_IPC_DIR=${ipcDir} IPC_CHANNEL=pm2:${APP} node sample/dist/traffic.js   ${dim('(Ctrl-C prints its summary)')}`,
    );
    step('Stop it with:');
    say(`   npm run demo -- --stop`);
    return ok ? 0 : 1;
  }

  process.stdout.write(`\n${bold('• Stopping')} PM2 (pm2 kill)… `);
  const pids = [...(await pm2.instances()).values()];
  await pm2.destroy();
  const sockets = readdirSync(ipcDir);
  await stopAll();
  const left = pids.filter(isAlive);
  const clean = left.length === 0 && sockets.length === 0;
  say(
    clean
      ? 'done: every worker left the channel and exited; no process or socket file is left.'
      : red(
          `left behind: processes ${left.join(', ') || 'none'}, files ${sockets.join(', ') || 'none'}`,
        ),
  );
  return ok && clean ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    if (interrupted) return; // onSignal is already stopping everything
    console.error(`\n${red('The demo failed:')} ${error.message ?? error}`);
    if (pm2) {
      try {
        const logs = join(pm2.home, 'logs');
        for (const f of readdirSync(logs)) {
          const text = readFileSync(join(logs, f), 'utf8').split('\n').slice(-30).join('\n');
          console.error(dim(`--- ${f}\n${text}`));
        }
      } catch {
        /* no logs */
      }
    }
    await stopAll().catch(() => undefined);
    process.exit(1);
  },
);
