import { channelOneHop, channelRelayed, channelViaHub } from './channel.js';
import { channelMetricsOneHop } from './channel-metrics.js';
import type { Competitor } from './competitor.js';
import { channelCrossHost, channelFederatedLocal } from './federation.js';
import { nestIpcOneHop, nestIpcRelayed, nestIpcViaHub } from './nest-ipc.js';
import { nestIpcTracedApi, nestIpcTracedSdk } from './nest-ipc-traced.js';
import { childIpc, nestRedis, nestTcp, rawUds, rawUdsRelayed } from './references.js';

/** Every row of the table, in the order printed. Add a competitor here and it runs everywhere. */
export const COMPETITORS: Competitor[] = [
  channelOneHop,
  channelRelayed,
  nestIpcOneHop,
  nestIpcRelayed,
  channelViaHub,
  nestIpcViaHub,
  nestIpcTracedApi,
  nestIpcTracedSdk,
  rawUds,
  rawUdsRelayed,
  nestTcp,
  nestRedis,
  childIpc,
  channelMetricsOneHop,
  channelFederatedLocal,
  channelCrossHost,
];

/**
 * The order trials run in, within a run: each target's two sides next to each other (Nest TCP
 * between the two Nest IPC rows it is compared with, the raw socket between the two channel
 * rows, federation on next to the channel one hop, the channel across hosts next to Nest Redis),
 * so that a ratio compares measurements seconds apart. This machine's speed drifts by tens of
 * percent over tens of seconds; in table order Nest TCP ran about 20 s after Nest IPC.
 */
const MEASURED_FIRST = [
  'nest-ipc-traced-api',
  'nest-ipc-1hop',
  'nest-tcp',
  'nest-ipc-relayed',
  'channel-fed-local',
  'channel-1hop',
  'channel-metrics',
  'raw-uds',
  'channel-relayed',
  'channel-2hosts',
  'nest-redis',
];

for (const key of MEASURED_FIRST) {
  if (!COMPETITORS.some((c) => c.key === key))
    throw new Error(`MEASURED_FIRST: no competitor '${key}'`);
}

/**
 * `competitors` in measuring order for run `run` (from 1): every other run goes backwards, so
 * that neither side of a target is always the one measured first (3 runs to 2 in a full run).
 */
export function measuringOrder(competitors: Competitor[], run: number): Competitor[] {
  const rank = (c: Competitor) => {
    const i = MEASURED_FIRST.indexOf(c.key);
    return i === -1 ? MEASURED_FIRST.length + COMPETITORS.indexOf(c) : i;
  };
  const ordered = [...competitors].sort((a, b) => rank(a) - rank(b));
  return run % 2 === 0 ? ordered.reverse() : ordered;
}

export type { Competitor, RunEnv } from './competitor.js';
