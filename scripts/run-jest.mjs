// What scripts/chaos.mjs and scripts/soak.mjs share: reading `--flag value` options, and running
// one Jest file in ESM mode with extra environment variables, exiting with its status.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const args = process.argv.slice(2);

/** The value after `flag` on the command line, or `fallback`. */
export function option(flag, fallback) {
  const i = args.indexOf(flag);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}

/** Runs Jest with `selection` (its arguments choosing the file) and `env`; exits with its status. */
export function runJest(selection, env) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const result = spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--no-warnings=ExperimentalWarning',
      join(root, 'node_modules/jest/bin/jest.js'),
      ...selection,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } },
  );
  process.exit(result.status ?? 1);
}
