import type { BenchResults } from './results.js';
import { ratio, type Side, type TargetResult } from './targets.js';

const MEASURES = [
  ['one-way', 'emit events/s'],
  ['rr-100', '100-in-flight req/s'],
] as const;

/**
 * Tracing on with nothing exported costs at most 5%: the traced row against the same row with
 * tracing off, measured next to each other in this run.
 */
export function tracingTargets(r: BenchResults): TargetResult[] {
  return MEASURES.map(([scenario, name]) => {
    const side = (competitor: string): Side => ({ competitor, scenario, metric: 'perSec' });
    return ratio(
      r,
      `Nest IPC ${name} with tracing on (API only) >= 0.95x off (one hop)`,
      side('nest-ipc-traced-api'),
      side('nest-ipc-1hop'),
      0.95,
    );
  });
}
