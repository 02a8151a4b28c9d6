import { FAILOVER_KEY } from '../scenarios/failover.js';
import { type BenchResults, failoverSummary, medianOf, quietRuns } from './results.js';
import { federationTargets } from './federation-targets.js';
import { tracingTargets } from './tracing-targets.js';

export type TargetStatus = 'pass' | 'miss' | 'n/a';

export interface TargetResult {
  label: string;
  status: TargetStatus;
  detail: string;
}

export interface Side {
  competitor: string;
  scenario: string;
  metric: string;
}

/**
 * `ours / theirs >= factor` (or, for latency, `ours <= theirs * factor`), both medians from
 * this same run, so the machine's speed cancels out.
 */
export function ratio(
  r: BenchResults,
  label: string,
  ours: Side,
  theirs: Side,
  factor: number,
  lowerIsBetter = false,
): TargetResult {
  const a = medianOf(r, ours.competitor, ours.scenario, ours.metric);
  const b = medianOf(r, theirs.competitor, theirs.scenario, theirs.metric);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return { label, status: 'n/a', detail: 'not measured in this run' };
  }
  const x = a / b;
  const passes = (v: number) => (lowerIsBetter ? v <= factor : v >= factor);
  const unit = ours.metric === 'p50Us' ? ' µs' : '/s';
  const fmt = (v: number) => (unit === '/s' ? `${(v / 1000).toFixed(1)}k/s` : `${v.toFixed(0)} µs`);
  return {
    label,
    status: passes(x) ? 'pass' : 'miss',
    detail: `${x.toFixed(2)}x (${fmt(a)} vs ${fmt(b)})${spread(r, ours, theirs, passes)}`,
  };
}

/**
 * The ratio run by run, where both sides were measured undisturbed in the same run: the runs
 * alternate competitors, so run i of each side saw the same moment of the machine. A verdict
 * whose runs disagree is noise-bound, and the reader should see that.
 */
function spread(
  r: BenchResults,
  ours: Side,
  theirs: Side,
  passes: (ratio: number) => boolean,
): string {
  const theirsByRun = new Map(
    quietRuns(r, theirs.competitor, theirs.scenario).map((x) => [x.run, x.metrics[theirs.metric]]),
  );
  const ratios: number[] = [];
  for (const x of quietRuns(r, ours.competitor, ours.scenario)) {
    const a = x.metrics[ours.metric];
    const b = theirsByRun.get(x.run);
    if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
  }
  if (ratios.length < 2) return '';
  const passed = ratios.filter(passes).length;
  const lo = Math.min(...ratios).toFixed(2);
  const hi = Math.max(...ratios).toFixed(2);
  return `; run by run ${lo}-${hi}x, ${passed} of ${ratios.length} pass`;
}

const HOPS = [
  ['1hop', 'one hop'],
  ['relayed', 'relayed'],
] as const;

/** The targets, in its order. */
export function evaluateTargets(r: BenchResults): TargetResult[] {
  const out: TargetResult[] = [];
  const tcp = (scenario: string, metric: string): Side => ({
    competitor: 'nest-tcp',
    scenario,
    metric,
  });
  for (const [hop, name] of HOPS) {
    out.push(
      ratio(
        r,
        `Nest IPC emit events/s >= 3x Nest TCP emit (${name})`,
        { competitor: `nest-ipc-${hop}`, scenario: 'one-way', metric: 'perSec' },
        tcp('one-way', 'perSec'),
        3,
      ),
    );
  }
  for (const [hop, name] of HOPS) {
    out.push(
      ratio(
        r,
        `Nest IPC 100-in-flight req/s >= 2x Nest TCP (${name})`,
        { competitor: `nest-ipc-${hop}`, scenario: 'rr-100', metric: 'perSec' },
        tcp('rr-100', 'perSec'),
        2,
      ),
    );
  }
  for (const [hop, name] of HOPS) {
    out.push(
      ratio(
        r,
        `Nest IPC sequential p50 <= Nest TCP p50 (${name})`,
        { competitor: `nest-ipc-${hop}`, scenario: 'rr-seq', metric: 'p50Us' },
        tcp('rr-seq', 'p50Us'),
        1,
        true,
      ),
    );
  }
  for (const [hop, name] of HOPS) {
    out.push(
      ratio(
        r,
        `Channel one-way events/s >= 0.5x raw UDS (${name})`,
        { competitor: `channel-${hop}`, scenario: 'one-way', metric: 'perSec' },
        { competitor: 'raw-uds', scenario: 'one-way', metric: 'perSec' },
        0.5,
      ),
    );
  }
  out.push(...tracingTargets(r));
  out.push(
    ratio(
      r,
      'Channel one-way events/s with cluster metrics (scraped every second) >= 0.95x without',
      { competitor: 'channel-metrics', scenario: 'one-way', metric: 'perSec' },
      { competitor: 'channel-1hop', scenario: 'one-way', metric: 'perSec' },
      0.95,
    ),
  );
  out.push(...federationTargets(r));
  const f = failoverSummary(r, 'channel', FAILOVER_KEY);
  out.push(
    f.kills === 0
      ? { label: 'Failover gap p99 <= 100 ms', status: 'n/a', detail: 'not measured in this run' }
      : {
          label: 'Failover gap p99 <= 100 ms',
          status: f.p99Ms <= 100 ? 'pass' : 'miss',
          detail: `p99 ${f.p99Ms.toFixed(1)} ms over ${f.kills} kills`,
        },
  );
  return out;
}
