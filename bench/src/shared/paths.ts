import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled bench lives in node_modules/.cache, so the repository root is found by walking
 * up to the package.json that names this package rather than by a fixed number of '..'.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (
          (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nestjs-ipc-channel'
        )
          return dir;
      } catch {
        // not ours: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the nestjs-ipc-channel package root');
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
/** The compiled bench (this file is <out>/shared/paths.js). */
export const BENCH_OUT = dirname(dirname(fileURLToPath(import.meta.url)));
export const WORKER_MAIN = join(BENCH_OUT, 'worker', 'main.js');
export const REDIS_GUARD = join(BENCH_OUT, 'services', 'redis-guard.js');
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/**
 * The built library, the artifact users install (`npm run build`): its framework-free entry
 * (the package's './channel' export), so channel workers never load Nest.
 */
export const CHANNEL_ENTRY = join(REPO_ROOT, 'dist', 'channel', 'index.js');
/** The package's main entry (channel and Nest transport), for the Nest IPC rows. */
export const PACKAGE_ENTRY = join(REPO_ROOT, 'dist', 'index.js');
