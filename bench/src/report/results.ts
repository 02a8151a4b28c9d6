import type { MachineInfo } from './machine.js';
import type { Metrics } from '../scenarios/scenario.js';
import { OTHER_CPU_LIMIT } from '../settings.js';
import { median, percentile } from '../shared/stats.js';

/** One measurement: a competitor, a scenario, one run (or one kill, for failover). */
export interface RunRecord {
  competitor: string;
  scenario: string;
  run: number;
  metrics: Metrics;
}

export interface RunError {
  competitor: string;
  scenario: string;
  run: number;
  message: string;
}

/** Everything a bench run produced; written as-is to latest.json. */
export interface BenchResults {
  machine: MachineInfo;
  settings: {
    mode: string;
    runs: number;
    measureMs: number;
    warmupMs: number;
    failoverKills: number;
    memoryMessages: number;
    /** appendfsync of the bench's redis-server, when one ran. */
    redisFsync?: string;
  };
  competitors: {
    key: string;
    label: string;
    status: 'ran' | 'skipped';
    note?: string;
  }[];
  records: RunRecord[];
  errors: RunError[];
  notes: string[];
  durationS: number;
}

/**
 * Median over runs of one metric, NaN when nothing was measured. Runs that other processes
 * disturbed (see settings.OTHER_CPU_LIMIT) are left out, unless every run was disturbed.
 */
export function medianOf(
  r: BenchResults,
  competitor: string,
  scenario: string,
  metric: string,
): number {
  return median(quietRuns(r, competitor, scenario).map((x) => x.metrics[metric] ?? NaN));
}

/** The runs medianOf uses: the undisturbed ones, or every run when none was undisturbed. */
export function quietRuns(r: BenchResults, competitor: string, scenario: string): RunRecord[] {
  const runs = r.records.filter((x) => x.competitor === competitor && x.scenario === scenario);
  const quiet = runs.filter((x) => (x.metrics.otherCpu ?? 0) <= OTHER_CPU_LIMIT);
  return quiet.length > 0 ? quiet : runs;
}

export function runsOf(r: BenchResults, competitor: string, scenario: string): number {
  return r.records.filter((x) => x.competitor === competitor && x.scenario === scenario).length;
}

/** Failover gaps are pooled over every kill (each kill is one sample). */
export function failoverSummary(r: BenchResults, competitor: string, scenario: string) {
  const kills = r.records.filter((x) => x.competitor === competitor && x.scenario === scenario);
  const gaps = kills.map((k) => k.metrics.gapMs!);
  return {
    kills: kills.length,
    p50Ms: gaps.length ? percentile(gaps, 50) : NaN,
    p99Ms: gaps.length ? percentile(gaps, 99) : NaN,
    maxMs: gaps.length ? Math.max(...gaps) : NaN,
    missing: kills.reduce((sum, k) => sum + (k.metrics.missing ?? 0), 0),
    duplicated: kills.reduce((sum, k) => sum + (k.metrics.duplicated ?? 0), 0),
  };
}
