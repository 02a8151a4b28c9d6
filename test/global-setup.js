import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { testBuildDir } from './helpers/build-dir.js';

/**
 * Child processes run real compiled JavaScript, not ts-jest's in-memory modules: compile the
 * library and the test fixtures once, before any test spawns them.
 */
export default function globalSetup() {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  const out = testBuildDir();
  execFileSync(
    process.execPath,
    [
      tsc,
      '-p',
      'tsconfig.test-build.json',
      '--outDir',
      out,
      '--tsBuildInfoFile',
      `${out}/.tsbuildinfo`,
    ],
    { stdio: 'inherit' },
  );
}
