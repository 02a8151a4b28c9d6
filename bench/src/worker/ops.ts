import { sleep } from '../shared/clock.js';
import type { Endpoint } from '../transports/types.js';
import type { Op } from './control-client.js';
import { Ticker, flood, roundTrips, sendFor } from './drivers.js';
import type { Inbox } from './inbox.js';

/** Everything the orchestrator can ask of a worker, whatever its role. */
export function workerOps(ep: Endpoint, inbox: Inbox): Record<string, Op> {
  const ticker = new Ticker(ep);
  let peakRss = 0;
  let rssTimer: NodeJS.Timeout | undefined;
  return {
    sync: () => ep.sync(),
    state: () => ({ pid: process.pid, ...ep.state?.() }),

    roundTrips: (a) => roundTrips(ep, a.ms, a.inflight),
    send: (a) => sendFor(ep, a.ms),
    reset: () => inbox.reset(),
    waitFor: (a) => inbox.waitFor(a.count),
    received: () => ({ received: inbox.received }),

    tickStart: (a) => ticker.start(a.everyMs),
    tickStop: () => ticker.stop(),
    firstTickAfter: (a) => inbox.tickLog.firstSentAfter(a.sinceNs),
    tickReached: (a) => inbox.tickLog.reached(a.n),

    flood: (a) => flood(ep, a.count),
    // A peer that reads nothing for a while (a long GC pause, a CPU-bound handler): the reply
    // goes out first, then the event loop is blocked without burning CPU.
    stall: (a) => {
      setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, a.ms), 20);
    },
    memory: () => process.memoryUsage(),
    watchRss: () => {
      peakRss = process.memoryUsage.rss();
      rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10);
    },
    peakRss: () => {
      clearInterval(rssTimer);
      return {
        peakRss: Math.max(peakRss, process.memoryUsage.rss()),
        rss: process.memoryUsage.rss(),
      };
    },

    // Exit at once (a --cpu-prof profile is written on exit); nothing waits for a reply.
    exit: async () => {
      await sleep(0);
      process.exit(0);
    },
  };
}
