import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { settledWorkers } from './http.js';
import { Pm2, freePort } from './pm2.js';
import { SAMPLE, buildSample } from './sample-build.js';

/** The peer ids of the sample's four PM2 workers. */
export const SAMPLE_IDS = [1, 2, 3, 4];

/** A running sample cluster: its PM2 (private PM2_HOME), socket directory and HTTP port. */
export interface SampleCluster {
  readonly pm2: Pm2;
  readonly dir: ReturnType<typeof tempDir>;
  readonly port: number;
}

/**
 * Builds the sample and starts it from its own ecosystem file as a real 4-worker PM2 cluster on
 * a free port and a fresh socket directory; resolves once every worker has joined. `env` goes
 * to the workers too.
 */
export async function startSampleCluster(env: Record<string, string> = {}): Promise<SampleCluster> {
  buildSample();
  const dir = tempDir();
  const port = await freePort();
  const pm2 = new Pm2({ PORT: String(port), NESTJS_IPC_DIR: dir.path, ...env });
  try {
    await pm2.run('start', join(SAMPLE, 'ecosystem.config.cjs'), '-s');
    await settledWorkers(port, SAMPLE_IDS);
  } catch (e) {
    if (e instanceof Error) e.message += `\n${pm2.logs()}`;
    // The caller gets no cluster to stop: stop what was started here.
    await stopSampleCluster({ pm2, dir, port });
    throw e;
  }
  return { pm2, dir, port };
}

/** Stops the cluster's PM2 and removes its directory. */
export async function stopSampleCluster(cluster: SampleCluster | undefined): Promise<void> {
  await cluster?.pm2.destroy();
  cluster?.dir.remove();
}
