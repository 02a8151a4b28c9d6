import { type ChaosReport, type Fault, KILLS } from './harness.js';

/** A chaos run's report as the test prints it: what was done, what was checked, what failed. */
export function formatReport(r: ChaosReport): string {
  const s = r.stats;
  const failed = counts(s.requestsFailed);
  const nest = counts(s.nestVerdicts);
  return [
    `seed: ${r.seed}`,
    `rounds: ${r.rounds} (${r.seconds} s)`,
    `faults: hub kill -9 ${r.faults.killHub}, peer kill -9 ${r.faults.killPeer}, peer SIGSTOP ${r.faults.stopPeer}, hub SIGSTOP ${r.faults.stopHub}, reader hung past stallTimeoutMs ${r.faults.hangReader}, hub hung past heartbeatTimeoutMs ${r.faults.hangHub}, extra peers ${r.faults.addPeer}, quiet ${r.faults.none}`,
    `overlapping: hub killed twice in one failover ${r.faults.killHubTwice}, hub and peer killed together ${r.faults.killHubAndPeer}, hub killed while a peer is stopped ${r.faults.stopPeerKillHub}`,
    `kills: ${Object.entries(r.faults).reduce((sum, [f, count]) => sum + KILLS[f as Fault] * count, 0)}`,
    `messages: ${s.targeted} targeted + ${s.broadcasts} broadcasts (${s.broadcastDeliveriesChecked} deliveries checked, ${s.missedWhileCutOff} missed by hung readers while cut off) + ${s.requests} requests from senders alive at the end; ${s.received} received in all`,
    `requests: ${s.requestsAnswered} answered, failed typed: ${failed || 'none'}`,
    `lost: ${s.lost}, duplicated: ${s.duplicated}, redelivered after a crash (allowed): ${s.redeliveredAfterCrash}`,
    `verdicts on targeted messages: undeliverable ${s.reportedUndeliverable}, delivery uncertain ${s.reportedUncertain} (${s.uncertainHandled} of them handled by the process that died); on Nest frames: ${nest || 'none'}`,
    `incarnations killed (their sends checked for order and duplicates only): ${s.uncheckedSenders}`,
    ...r.resources.map((t) => {
      const mb = (b: number) => `${(b / 1048576).toFixed(1)} MB`;
      return `slot ${t.slot} pid ${t.pid} (${t.start.isHub ? 'hub' : 'peer'}): rss ${mb(t.start.rss)} -> ${mb(t.end.rss)}, heap ${mb(t.start.heapUsed)} -> ${mb(t.end.heapUsed)}, fds ${t.start.fds} -> ${t.end.fds}, handles ${t.start.handles} -> ${t.end.handles} (over ${t.seconds} s)`;
    }),
    ...(r.logDir ? [`logs: ${r.logDir}`] : []),
    ...r.violations.map((v) => `VIOLATION ${v}`),
    `verdict: ${r.violations.length === 0 ? 'PASS' : 'FAIL'}`,
  ].join('\n');
}

/** `{ A: 1, B: 2 }` as `A 1, B 2`. */
function counts(byCode: Record<string, number>): string {
  return Object.entries(byCode)
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
}
