// npm run test:soak -- --minutes 3 [--failover-seconds 20]
// Runs the soak (test/chaos/soak.run.ts; not part of npm test) and prints its report.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const value = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const minutes = value('--minutes', '3');
const every = value('--failover-seconds', '20');
if (!/^\d+(\.\d+)?$/.test(minutes) || !/^\d+$/.test(every)) {
  console.error('usage: npm run test:soak -- --minutes 3 [--failover-seconds 20]');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    '--no-warnings=ExperimentalWarning',
    join(root, 'node_modules/jest/bin/jest.js'),
    '--testMatch',
    '<rootDir>/test/chaos/soak.run.ts',
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SOAK_MINUTES: minutes, SOAK_FAILOVER_MS: String(Number(every) * 1000) },
  },
);
process.exit(result.status ?? 1);
