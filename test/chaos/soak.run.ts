import { formatReport } from './format-report.js';
import { runChaos } from './harness.js';

/**
 * The soak (not part of `npm test`): steady traffic among 5 peers and a hub failover (kill -9)
 * every 20 s, for SOAK_MINUTES. Run it with `npm run test:soak -- --minutes 3`. It passes when
 * the checker finds nothing lost, nothing is left in the channel's directory, and every process
 * that lived a minute or more kept its file descriptors and handles and did not grow its heap.
 */
const minutes = Number(process.env.SOAK_MINUTES ?? 3);
const everyMs = Number(process.env.SOAK_FAILOVER_MS ?? 20_000);
const rounds = Math.max(1, Math.floor((minutes * 60_000) / everyMs));

test(
  `soak: ${minutes} min, a hub failover every ${everyMs / 1000} s`,
  async () => {
    const report = await runChaos({
      seed: 1,
      rounds,
      soakFailoverEveryMs: everyMs,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(report.violations).toEqual([]);
    expect(report.leftovers).toEqual([]);
    for (const t of report.resources.filter((r) => r.seconds >= 60)) {
      // A leak grows with every failover and every message; noise does not outgrow these bounds
      // (the heap is measured after a full collection, so it is live memory only).
      expect({ pid: t.pid, fds: t.end.fds - t.start.fds <= 2 }).toEqual({ pid: t.pid, fds: true });
      expect({ pid: t.pid, handles: t.end.handles - t.start.handles <= 2 }).toEqual({
        pid: t.pid,
        handles: true,
      });
      expect({ pid: t.pid, heap: t.end.heapUsed < t.start.heapUsed * 1.2 + 8 * 1048576 }).toEqual({
        pid: t.pid,
        heap: true,
      });
    }
  },
  minutes * 60_000 + 180_000,
);
