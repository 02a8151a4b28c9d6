import { channelTopology } from '../competitors/channel.js';
import { DRIVER } from '../orchestrator/topology.js';
import { Trial, type TrialContext } from '../orchestrator/trial.js';
import type { Settings } from '../settings.js';
import { nowNs, sleep } from '../shared/clock.js';
import type { Metrics } from './scenario.js';

export const MEMORY_KEY = 'memory';

const MB = 1024 * 1024;

/**
 * The hub's memory while `memoryMessages` events are queued for a slow peer. The slow peer
 * stops reading altogether (its event loop is blocked, as in a long GC pause or a CPU-bound
 * handler) while the sender emits them all at once, ignoring backpressure. The hub samples
 * its own RSS every 10 ms; the peak is what is reported. When the peer reads again, every
 * message must arrive, and the time it takes is reported too.
 *
 * one hop: the hub is the sender. relayed: the hub only routes, from a non-hub sender.
 */
export async function memoryUnderBacklog(
  ctx: TrialContext,
  s: Settings,
  relayed: boolean,
): Promise<Metrics> {
  const hub = relayed ? 'hub' : DRIVER;
  const trial = await Trial.start(
    ctx,
    channelTopology('events', 1, relayed ? 'separate' : 'sender'),
  );
  try {
    const base = await trial.call<NodeJS.MemoryUsage>(hub, 'memory');
    const watching = relayed ? [hub, DRIVER] : [hub];
    await Promise.all(watching.map((name) => trial.call(name, 'watchRss')));
    const stallMs = s.memorySettleMs + 1000;
    await trial.call('recv-1', 'stall', { ms: stallMs });
    const stallEndsNs = nowNs() + (20 + stallMs) * 1e6;
    await sleep(40); // the stall begins 20 ms after its reply
    await trial.call(DRIVER, 'flood', { count: s.memoryMessages });
    await sleep(s.memorySettleMs);
    const [hubPeak, senderPeak] = await Promise.all(
      watching.map((name) => trial.call<{ peakRss: number }>(name, 'peakRss')),
    );
    const sender = await trial.call<{ pendingBytes?: number }>(DRIVER, 'state');
    const done = await trial.call<{ lastNs: number; received: number }>('recv-1', 'waitFor', {
      count: s.memoryMessages,
    });
    if (done.received !== s.memoryMessages) {
      throw new Error(`the slow peer got ${done.received} of ${s.memoryMessages} messages`);
    }
    return {
      hubRssBaseMb: base.rss / MB,
      hubRssPeakMb: hubPeak!.peakRss / MB,
      senderRssPeakMb: (senderPeak ?? hubPeak)!.peakRss / MB,
      senderQueuedMb: (sender.pendingBytes ?? NaN) / MB,
      catchUpMs: Math.max(0, (done.lastNs - stallEndsNs) / 1e6),
    };
  } catch (e) {
    throw trial.explain(e);
  } finally {
    await trial.close();
  }
}
