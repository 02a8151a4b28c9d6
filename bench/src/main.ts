/**
 * `npm run bench`: measures the channel core (and, once it exists, the Nest IPC transport)
 * against raw Unix sockets, Nest TCP, Nest Redis and child_process IPC in one run, prints a
 * table, and writes bench/results/latest.json and latest.svg. See bench/README.md.
 */
import { join } from 'node:path';
import { USAGE, UsageError, parseArgs } from './cli.js';
import { COMPETITORS, type RunEnv } from './competitors/index.js';
import { installCleanup, killAll, makeRunDir } from './orchestrator/cleanup.js';
import { ControlServer } from './orchestrator/control-server.js';
import { type RedisServer, startRedis } from './orchestrator/redis.js';
import { type Plan, runPlan } from './orchestrator/runner.js';
import { machineInfo } from './report/machine.js';
import type { BenchResults } from './report/results.js';
import { renderTable } from './report/table.js';
import { evaluateTargets } from './report/targets.js';
import { writeResults } from './report/write.js';
import { FAILOVER_KEY } from './scenarios/failover.js';
import { MEMORY_KEY } from './scenarios/memory.js';
import { SCENARIOS } from './scenarios/throughput.js';
import { FULL, OTHER_CPU_LIMIT } from './settings.js';
import { nowMs } from './shared/clock.js';

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const s = parsed;
  const started = nowMs();
  installCleanup();
  const root = makeRunDir();

  const scenarioKeys = [...SCENARIOS.map((x) => x.key), FAILOVER_KEY, MEMORY_KEY];
  const competitorKeys = COMPETITORS.map((c) => c.key);
  const unknown = s.only.filter((k) => !scenarioKeys.includes(k) && !competitorKeys.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(
      `--only: unknown ${unknown.join(', ')}; competitors: ${competitorKeys.join(', ')}; ` +
        `scenarios: ${scenarioKeys.join(', ')}`,
    );
  }
  const onlyCompetitors = competitorKeys.some((k) => s.only.includes(k));
  const onlyScenarios = scenarioKeys.some((k) => s.only.includes(k));
  const wantsCompetitor = (key: string) => !onlyCompetitors || s.only.includes(key);
  const wantsScenario = (key: string) => !onlyScenarios || s.only.includes(key);

  const statuses: BenchResults['competitors'] = [];
  const runnable = COMPETITORS.filter((c) => {
    if (!wantsCompetitor(c.key)) return false;
    if (c.fullOnly === true && s.mode === 'quick') {
      statuses.push({ key: c.key, label: c.label, status: 'skipped', note: 'full mode only' });
      return false;
    }
    const why = c.unavailable?.();
    if (why !== undefined) {
      statuses.push({ key: c.key, label: c.label, status: 'skipped', note: `skipped: ${why}` });
      return false;
    }
    statuses.push({ key: c.key, label: c.label, status: 'ran' });
    return true;
  });

  const notes: string[] = [];
  const env: RunEnv = {};
  let redis: RedisServer | undefined;
  const control = await ControlServer.start(join(root, 'ctl.sock'));
  try {
    if (runnable.some((c) => c.needsRedis === true)) {
      try {
        const server = await startRedis(root, s.redisFsync);
        redis = server;
        env.redisUrl = server.url;
        env.redisPort = server.port;
        env.flushRedis = () => server.flush();
        env.servicePids = server.pids;
        notes.push(
          `Redis for ${runnable
            .filter((c) => c.needsRedis === true)
            .map((c) => c.key)
            .join(', ')}: ${server.description}`,
        );
      } catch (e) {
        for (const c of runnable.filter((x) => x.needsRedis === true)) {
          const status = statuses.find((x) => x.key === c.key)!;
          status.status = 'skipped';
          status.note = `skipped: ${(e as Error).message}`;
          runnable.splice(runnable.indexOf(c), 1);
        }
      }
    }
    const channelRows = runnable.filter((c) => c.family === 'channel');
    const plan: Plan = {
      competitors: runnable,
      scenarios: SCENARIOS.filter((x) => wantsScenario(x.key)),
      failover: wantsScenario(FAILOVER_KEY) && (!onlyCompetitors || channelRows.length > 0),
      memory: wantsScenario(MEMORY_KEY)
        ? channelRows.filter((c) => c.key === 'channel-1hop' || c.key === 'channel-relayed')
        : [],
    };
    const collected = await runPlan(
      { control, root, execArgv: s.workerFlags, timeoutMs: s.timeoutMs, verbose: s.verbose },
      s,
      plan,
      env,
    );

    const disturbed = collected.records.filter(
      (x) => (x.metrics.otherCpu ?? 0) > OTHER_CPU_LIMIT,
    ).length;
    if (disturbed > 0) {
      notes.push(
        `${disturbed} measurement(s) ran while other processes used over ${OTHER_CPU_LIMIT} cores` +
          (s.retries > 0 ? ', even after retries: ' : ': ') +
          'they are left out of the medians where an undisturbed run exists (otherCpu in latest.json)',
      );
    }
    const results: BenchResults = {
      machine: machineInfo(),
      settings: {
        mode: s.mode,
        runs: s.runs,
        measureMs: s.measureMs,
        warmupMs: s.warmupMs,
        failoverKills: plan.failover ? s.failoverKills : 0,
        memoryMessages: s.memoryMessages,
        ...(redis === undefined ? {} : { redisFsync: s.redisFsync }),
      },
      competitors: statuses,
      ...collected,
      notes,
      durationS: (nowMs() - started) / 1000,
    };
    const targets = evaluateTargets(results);
    console.log('\n' + renderTable(results, targets));
    // Only a full run of everything, as the README describes it, replaces the published numbers.
    const published =
      s.only.length === 0 &&
      s.warmupMs === FULL.warmupMs &&
      s.measureMs === FULL.measureMs &&
      s.runs === FULL.runs &&
      s.redisFsync === 'everysec' &&
      s.workerFlags.length === 0;
    const base = s.mode === 'quick' ? 'quick' : published ? 'latest' : 'partial';
    const written = writeResults(results, targets, base);
    console.log(`\nwrote ${written.join(', ')}`);
    // Missed targets never fail the run (machines are noisy); a broken harness does.
    return collected.errors.length > 0 ? 1 : 0;
  } finally {
    await redis?.stop();
    await control.close();
    killAll();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(e.message);
      process.exit(2);
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
