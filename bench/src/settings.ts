/**
 * Other processes may use this much CPU (in cores) during a measurement before it counts as
 * disturbed: measured again, and left out of the medians when undisturbed runs exist.
 */
export const OTHER_CPU_LIMIT = 0.2;

/** How much to measure. Full mode is what the README quotes; quick mode proves the harness works. */
export interface Settings {
  mode: 'full' | 'quick';
  /** Independent repetitions of every throughput/latency trial; the table shows medians. */
  runs: number;
  /** Traffic before measuring, in every fresh trial: JIT, socket buffers, Nest's caches. */
  warmupMs: number;
  /** How long each sender or client runs while measured. */
  measureMs: number;
  failoverKills: number;
  /** Tick spacing for the failover gap: bounds its resolution. */
  tickEveryMs: number;
  /** Ticks flow this long before the hub is killed. */
  failoverLeadMs: number;
  memoryMessages: number;
  /** How long the queued messages sit before the hub's RSS is read. */
  memorySettleMs: number;
  /**
   * Measurements redone when other processes took over OTHER_CPU_LIMIT of the CPU meanwhile
   * (see orchestrator/cpu-watch.ts). None in quick mode, which must stay under a minute.
   * After three measurements in a row stayed disturbed, the machine is busy for good and the
   * bench stops retrying, so a full run stays near thirteen minutes.
   */
  retries: number;
  /** Any single step (start, sync, a call) that takes longer fails the trial. */
  timeoutMs: number;
  /** Competitor or scenario keys to run (all when empty). */
  only: string[];
  /**
   * How the bench's redis-server fsyncs its append-only file: 'always' (every write, what the
   * federation's guarantee across a Redis crash needs) or 'everysec'.
   */
  redisFsync: 'always' | 'everysec';
  /** Extra node flags for every worker (--cpu-prof). */
  workerFlags: string[];
  verbose: boolean;
}

export const FULL: Omit<Settings, 'only' | 'workerFlags' | 'verbose' | 'redisFsync'> = {
  mode: 'full',
  runs: 5,
  // Long enough for the request paths of Nest IPC and Nest TCP to reach their steady rates: with
  // 100 requests in flight, Nest TCP is at its rate from the first 250 ms of a fresh start and
  // Nest IPC only after about 1 s, once V8 has optimized it (docs/benchmarks.md, Method). A
  // shorter warm-up measures the JIT's tier-up as much as the transport.
  warmupMs: 1500,
  measureMs: 1000,
  failoverKills: 20,
  tickEveryMs: 1,
  failoverLeadMs: 200,
  memoryMessages: 100_000,
  memorySettleMs: 1000,
  retries: 2,
  timeoutMs: 60_000,
};

export const QUICK: typeof FULL = {
  ...FULL,
  mode: 'quick',
  runs: 1,
  warmupMs: 100,
  measureMs: 250,
  failoverKills: 3,
  failoverLeadMs: 100,
  memorySettleMs: 400,
  retries: 0,
  timeoutMs: 30_000,
};
