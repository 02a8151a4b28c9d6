import { channelTopology } from '../competitors/channel.js';
import { DRIVER } from '../orchestrator/topology.js';
import { Trial, type TrialContext } from '../orchestrator/trial.js';
import type { Settings } from '../settings.js';
import { nowNs, sleep } from '../shared/clock.js';
import type { Metrics } from './scenario.js';

export const FAILOVER_KEY = 'failover';

/**
 * One hub death. Two non-hub peers and a hub: the sender emits a timestamped tick every
 * `tickEveryMs` to the receiver; the hub is SIGKILLed; the gap is the time from the kill to
 * the arrival of the first tick sent after it (so it includes detecting the death, electing a
 * hub, rejoining and resending, plus up to one tick interval). Then the receiver's numbers are
 * checked: across the failover, none may be missing or repeated. Direct links are off: between
 * two non-hub peers they would carry the ticks straight through the hub's death (no gap at
 * all); what is measured is the path that needs a hub (broadcasts, and every frame on macOS,
 * Windows and the tcp transport).
 */
export async function oneFailover(ctx: TrialContext, s: Settings): Promise<Metrics> {
  const trial = await Trial.start(ctx, channelTopology('events', 1, 'separate', 'channel', false));
  try {
    await trial.call(DRIVER, 'tickStart', { everyMs: s.tickEveryMs });
    await sleep(s.failoverLeadMs);
    const killedNs = nowNs();
    trial.kill('hub', 'SIGKILL');
    const first = await trial.call<{ recvNs: number }>('recv-1', 'firstTickAfter', {
      sinceNs: killedNs,
    });
    await sleep(50);
    const { sent } = await trial.call<{ sent: number }>(DRIVER, 'tickStop');
    const check = await trial.call<{ missing: number; duplicated: number }>(
      'recv-1',
      'tickReached',
      { n: sent - 1 },
    );
    return {
      gapMs: (first.recvNs - killedNs) / 1e6,
      missing: check.missing,
      duplicated: check.duplicated,
    };
  } catch (e) {
    throw trial.explain(e);
  } finally {
    await trial.close();
  }
}
