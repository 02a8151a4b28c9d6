import { type Competitor, type RunEnv, measuringOrder } from '../competitors/index.js';
import type { RunError, RunRecord } from '../report/results.js';
import { FAILOVER_KEY, oneFailover } from '../scenarios/failover.js';
import { MEMORY_KEY, memoryUnderBacklog } from '../scenarios/memory.js';
import type { Metrics, Scenario } from '../scenarios/scenario.js';
import { OTHER_CPU_LIMIT, type Settings } from '../settings.js';
import { nowMs, sleep } from '../shared/clock.js';
import { CpuWatch, type OtherCpu } from './cpu-watch.js';
import { Trial, type TrialContext } from './trial.js';

export interface Plan {
  competitors: Competitor[];
  scenarios: Scenario[];
  failover: boolean;
  memory: Competitor[];
}

export interface Collected {
  records: RunRecord[];
  errors: RunError[];
}

function progress(line: string): void {
  process.stderr.write(line + '\n');
}

/**
 * Runs the plan. Runs are the outer loop and competitors the inner one, so that a slow drift
 * of the machine (another job, thermal throttling) spreads over every competitor alike rather
 * than landing on whichever ran last; within a run, the two sides of each target run back to
 * back (see measuringOrder). A failed trial is recorded and the bench goes on.
 */
export async function runPlan(
  ctx: TrialContext,
  s: Settings,
  plan: Plan,
  env: RunEnv,
): Promise<Collected> {
  const out: Collected = { records: [], errors: [] };
  const budget = new RetryBudget(s.retries);
  const attempt = async (
    competitor: string,
    scenario: string,
    run: number,
    measure: () => Promise<Metrics>,
  ) => {
    const started = nowMs();
    const tag = `[${scenario} ${run}] ${competitor}`;
    try {
      const metrics = await measure();
      out.records.push({ competitor, scenario, run, metrics });
      progress(
        `${tag.padEnd(40)} ${summary(metrics)}  (${((nowMs() - started) / 1000).toFixed(1)} s)`,
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      out.errors.push({ competitor, scenario, run, message });
      progress(`${tag.padEnd(40)} FAILED: ${message}`);
    }
  };

  for (let run = 1; run <= s.runs; run++) {
    const competitors = measuringOrder(plan.competitors, run);
    for (const scenario of plan.scenarios) {
      for (const c of competitors) {
        if (c.scenarios !== undefined && !c.scenarios.includes(scenario.key)) continue;
        await attempt(c.key, scenario.key, run, () =>
          measureQuietly(ctx, s, c, scenario, env, budget),
        );
      }
    }
    for (const c of plan.memory) {
      await attempt(c.key, MEMORY_KEY, run, () =>
        memoryUnderBacklog(ctx, s, c.key === 'channel-relayed'),
      );
    }
  }
  if (plan.failover) {
    for (let kill = 1; kill <= s.failoverKills; kill++) {
      await attempt('channel', FAILOVER_KEY, kill, () => oneFailover(ctx, s));
    }
  }
  return out;
}

/** Gives up retrying once the machine looks busy for good (see Settings.retries). */
class RetryBudget {
  private streak = 0;
  private exhausted = false;

  constructor(private readonly retries: number) {}

  get allowed(): number {
    return this.exhausted ? 0 : this.retries;
  }

  settled(disturbed: boolean): void {
    this.streak = disturbed ? this.streak + 1 : 0;
    if (this.streak >= 3 && !this.exhausted && this.retries > 0) {
      this.exhausted = true;
      progress(
        '  (three measurements in a row stayed disturbed: not measuring again from here on)',
      );
    }
  }
}

/**
 * One trial of a scenario; measured again (up to s.retries times) when other processes took
 * more than OTHER_CPU_LIMIT of the CPU meanwhile. The result keeps `otherCpu`, so a number
 * that was disturbed on every attempt says so in latest.json.
 */
async function measureQuietly(
  ctx: TrialContext,
  s: Settings,
  c: Competitor,
  scenario: Scenario,
  env: RunEnv,
  budget: RetryBudget,
): Promise<Metrics> {
  for (let attempt = 0; ; attempt++) {
    const trial = await Trial.start(ctx, c.topology(scenario.shape, env));
    let metrics: Metrics;
    let other: OtherCpu;
    try {
      const watch = CpuWatch.start();
      metrics = await scenario.measure(trial, s);
      other = watch.stop([process.pid, ...trial.pids(), ...(env.servicePids ?? [])]);
      metrics.otherCpu = other.cores;
    } catch (e) {
      throw trial.explain(e);
    } finally {
      await trial.close();
      if (c.needsRedis === true) await env.flushRedis?.();
    }
    const disturbed = metrics.otherCpu > OTHER_CPU_LIMIT;
    if (!disturbed || attempt >= budget.allowed) {
      budget.settled(disturbed);
      return metrics;
    }
    progress(
      `  (${c.key} / ${scenario.key}: other processes used ${other.cores.toFixed(2)} cores meanwhile (${other.top}); measuring again)`,
    );
    await sleep(1000);
  }
}

function summary(m: Metrics): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${v >= 1000 ? Math.round(v) : Number(v.toPrecision(4))}`)
    .join(' ');
}
