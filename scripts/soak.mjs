// npm run test:soak -- --minutes 3 [--failover-seconds 20]
// Runs the soak (test/chaos/soak.run.ts; not part of npm test) and prints its report.
import { option, runJest } from './run-jest.mjs';

const minutes = option('--minutes', '3');
const every = option('--failover-seconds', '20');
if (!/^\d+(\.\d+)?$/.test(minutes) || !/^\d+$/.test(every)) {
  console.error('usage: npm run test:soak -- --minutes 3 [--failover-seconds 20]');
  process.exit(2);
}
runJest(['--testMatch', '<rootDir>/test/chaos/soak.run.ts'], {
  SOAK_MINUTES: minutes,
  SOAK_FAILOVER_MS: String(Number(every) * 1000),
});
