import type { BenchResults } from './results.js';
import { ratio, type Side, type TargetResult } from './targets.js';

const side = (competitor: string, scenario: string, metric: string): Side => ({
  competitor,
  scenario,
  metric,
});

/**
 * Federation's targets: across two hosts through Redis, the channel carries at least what Nest's
 * Redis transport does on the same Redis, with a sequential p50 at most 1.5x its (the channel
 * also stores every message durably; Nest Redis's PUBLISH keeps nothing); and turning
 * federation on costs same-host traffic at most 10%.
 */
export function federationTargets(r: BenchResults): TargetResult[] {
  const cross = 'channel-2hosts';
  return [
    ratio(
      r,
      'Channel across 2 hosts one-way events/s >= 1x Nest Redis',
      side(cross, 'one-way', 'perSec'),
      side('nest-redis', 'one-way', 'perSec'),
      1,
    ),
    ratio(
      r,
      'Channel across 2 hosts 100-in-flight req/s >= 1x Nest Redis',
      side(cross, 'rr-100', 'perSec'),
      side('nest-redis', 'rr-100', 'perSec'),
      1,
    ),
    ratio(
      r,
      'Channel across 2 hosts sequential p50 <= 1.5x Nest Redis',
      side(cross, 'rr-seq', 'p50Us'),
      side('nest-redis', 'rr-seq', 'p50Us'),
      1.5,
      true,
    ),
    ratio(
      r,
      'Channel one-way events/s with federation on >= 0.9x off (same host)',
      side('channel-fed-local', 'one-way', 'perSec'),
      side('channel-1hop', 'one-way', 'perSec'),
      0.9,
    ),
    ratio(
      r,
      'Channel 100-in-flight req/s with federation on >= 0.9x off (same host)',
      side('channel-fed-local', 'rr-100', 'perSec'),
      side('channel-1hop', 'rr-100', 'perSec'),
      0.9,
    ),
  ];
}
