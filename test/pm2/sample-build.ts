/** Where the repository and the sample app are, and building them only when their sources changed. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../../src/channel/util/liveness.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLE = join(ROOT, 'sample');
const NEST_BIN = join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
const TSC_BIN = join(ROOT, 'node_modules/typescript/bin/tsc');

/** The PM2 app name in sample/ecosystem.config.cjs, and so the channel name `pm2:cache-api`. */
export const APP = 'cache-api';

/** The newest modification time (ms) of `path` or of anything under it. */
export function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Builds the library (dist/, which the sample imports as 'nestjs-ipc-channel') and the sample
 * (with the Nest CLI), each only if its sources are newer than its output.
 */
export function buildSample(): void {
  withLock(join(tmpdir(), `nestjs-ipc-sample-build-${hash(ROOT)}.lock`), build);
}

function build(): void {
  const lib = join(ROOT, 'dist/index.js');
  if (newest(join(ROOT, 'src')) > mtime(lib)) {
    execFileSync(process.execPath, [TSC_BIN, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  }
  const app = join(SAMPLE, 'dist/main.js');
  const inputs = Math.max(
    newest(join(SAMPLE, 'src')),
    mtime(lib),
    mtime(join(SAMPLE, 'tsconfig.json')),
  );
  if (inputs > mtime(app)) {
    execFileSync(process.execPath, [NEST_BIN, 'build'], { cwd: SAMPLE, stdio: 'inherit' });
  }
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** Runs `fn` holding a lock file, so test files running in parallel build one at a time. */
function withLock(path: string, fn: () => void): void {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      let holder: number;
      try {
        holder = Number(readFileSync(path, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      // A holder that died (or a lock older than the deadline) is broken; '' is being written.
      if ((holder > 0 && !isAlive(holder)) || Date.now() > deadline) rmSync(path, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    fn();
  } finally {
    rmSync(path, { force: true });
  }
}
