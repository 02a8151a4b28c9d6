// npm run test:chaos -- --rounds 200 --seed S [--peers 5] [--keep-logs]
// Runs the chaos test (test/chaos/chaos.test.ts) with these figures and prints its report.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const value = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
for (const a of args) {
  if (a.startsWith('--') && !['--rounds', '--seed', '--peers', '--keep-logs'].includes(a)) {
    console.error(
      `unknown option ${a}; usage: npm run test:chaos -- --rounds 200 --seed S [--peers 5] [--keep-logs]`,
    );
    process.exit(2);
  }
}
const seed = value('--seed', String(Math.floor(Math.random() * 2 ** 31)));
const rounds = value('--rounds', '50');
const peers = value('--peers', '5');
if (![seed, rounds, peers].every((v) => /^\d+$/.test(v))) {
  console.error('--seed, --rounds and --peers take whole numbers');
  process.exit(2);
}
console.log(`seed ${seed} (replay with: npm run test:chaos -- --rounds ${rounds} --seed ${seed})`);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    join(root, 'node_modules/jest/bin/jest.js'),
    '--runTestsByPath',
    'test/chaos/chaos.test.ts',
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      CHAOS_SEED: seed,
      CHAOS_ROUNDS: rounds,
      CHAOS_PEERS: peers,
      CHAOS_KEEP_LOGS: args.includes('--keep-logs') ? '1' : '0',
    },
  },
);
process.exit(result.status ?? 1);
