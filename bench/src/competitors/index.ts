import { channelOneHop, channelRelayed, channelViaHub } from './channel.js';
import type { Competitor } from './competitor.js';
import { nestIpcOneHop, nestIpcRelayed, nestIpcViaHub } from './nest-ipc.js';
import { childIpc, nestRedis, nestTcp, rawUds, rawUdsRelayed } from './references.js';

/** Every row of the table, in the order printed. Add a competitor here and it runs everywhere. */
export const COMPETITORS: Competitor[] = [
  channelOneHop,
  channelRelayed,
  nestIpcOneHop,
  nestIpcRelayed,
  channelViaHub,
  nestIpcViaHub,
  rawUds,
  rawUdsRelayed,
  nestTcp,
  nestRedis,
  childIpc,
];

export type { Competitor, RunEnv } from './competitor.js';
