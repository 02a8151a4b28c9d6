// npm run test:chaos -- --rounds 200 --seed S [--peers 5] [--keep-logs]
// Runs the chaos test (test/chaos/chaos.test.ts) with these figures and prints its report.
import { args, option, runJest } from './run-jest.mjs';

for (const a of args) {
  if (a.startsWith('--') && !['--rounds', '--seed', '--peers', '--keep-logs'].includes(a)) {
    console.error(
      `unknown option ${a}; usage: npm run test:chaos -- --rounds 200 --seed S [--peers 5] [--keep-logs]`,
    );
    process.exit(2);
  }
}
const seed = option('--seed', String(Math.floor(Math.random() * 2 ** 31)));
const rounds = option('--rounds', '50');
const peers = option('--peers', '5');
if (![seed, rounds, peers].every((v) => /^\d+$/.test(v))) {
  console.error('--seed, --rounds and --peers take whole numbers');
  process.exit(2);
}
console.log(`seed ${seed} (replay with: npm run test:chaos -- --rounds ${rounds} --seed ${seed})`);
runJest(['--runTestsByPath', 'test/chaos/chaos.test.ts'], {
  CHAOS_SEED: seed,
  CHAOS_ROUNDS: rounds,
  CHAOS_PEERS: peers,
  CHAOS_KEEP_LOGS: args.includes('--keep-logs') ? '1' : '0',
});
