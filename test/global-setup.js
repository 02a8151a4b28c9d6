import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Child processes run real compiled JavaScript, not ts-jest's in-memory modules: compile the
 * library and the test fixtures once, before any test spawns them.
 */
export default function globalSetup() {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.test-build.json'], { stdio: 'inherit' });
}
