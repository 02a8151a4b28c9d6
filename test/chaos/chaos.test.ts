import { formatReport } from './format-report.js';
import { runChaos } from './harness.js';

/**
 * The chaos run CI does: a fixed seed, 12 rounds in `npm test`, 24 beside busy processes in
 * `.ci/run`'s loaded step. `npm run test:chaos -- --rounds 200 --seed S` runs this same test with
 * other figures (through CHAOS_SEED, CHAOS_ROUNDS, CHAOS_PEERS).
 */
const seed = Number(process.env.CHAOS_SEED ?? 20260506);
const rounds = Number(process.env.CHAOS_ROUNDS ?? 12);
const peers = Number(process.env.CHAOS_PEERS ?? 5);

test(
  `chaos, seed ${seed}, ${rounds} rounds: nothing lost or duplicated, requests settle typed, one hub, stable ids`,
  async () => {
    const report = await runChaos({
      seed,
      rounds,
      peers,
      keepLogs: process.env.CHAOS_KEEP_LOGS === '1',
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    expect(report.violations).toEqual([]);
    expect(report.leftovers).toEqual([]);
  },
  120_000 + rounds * 20_000,
);
