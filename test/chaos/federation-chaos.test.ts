import { type FederationFault, runFederationChaos } from './federation-harness.js';

/**
 * The chaos run across two hosts CI does: one fixed seed, six rounds (each fault twice) of
 * kill -9 of either host's hub and Redis crashes under cross-host and local traffic.
 * FED_CHAOS_SEED and FED_CHAOS_ROUNDS run it with other figures, FED_CHAOS_FAULTS
 * (killHubA,killHubB,crashRedis) with only some faults.
 */
const seed = Number(process.env.FED_CHAOS_SEED ?? 20261207);
const rounds = Number(process.env.FED_CHAOS_ROUNDS ?? 6);
const faults = process.env.FED_CHAOS_FAULTS?.split(',') as FederationFault[] | undefined;

test(
  `federation chaos, seed ${seed}, ${rounds} rounds: two hosts, hub kills on both, Redis crashes; lost 0, duplicated 0, order per sender`,
  async () => {
    const report = await runFederationChaos({
      seed,
      rounds,
      ...(faults === undefined ? {} : { faults }),
      keepLogs: process.env.CHAOS_KEEP_LOGS === '1',
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const s = report.stats;
    process.stdout.write(
      [
        `faults: hub kill -9 on A ${report.faults.killHubA}, on B ${report.faults.killHubB}, Redis kill -9 ${report.faults.crashRedis} (${report.seconds} s)`,
        `messages: ${s.targeted} targeted + ${s.broadcasts} broadcasts (${s.broadcastDeliveriesChecked} deliveries checked); ${s.received} received`,
        `lost: ${s.lost}, duplicated: ${s.duplicated}, redelivered after a crash (allowed): ${s.redeliveredAfterCrash}`,
        ...(report.logDir ? [`logs: ${report.logDir}`] : []),
        ...report.violations.map((v) => `VIOLATION ${v}`),
      ].join('\n') + '\n',
    );
    expect(report.violations).toEqual([]);
    expect(s.lost).toBe(0);
    expect(s.duplicated).toBe(0);
    expect(report.faults.killHubA + report.faults.killHubB + report.faults.crashRedis).toBe(rounds);
  },
  120_000 + rounds * 20_000,
);
