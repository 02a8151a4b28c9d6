import { Proc } from '../helpers/processes.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

/** A socket.io server process of the channel (fixtures/io-worker.ts). */
export interface IoWorker {
  readonly proc: Proc;
  /** Its peer id. */
  readonly id: number;
  /** Its HTTP port. */
  readonly port: number;
}

export const IO_WORKER = '../socket-io/fixtures/io-worker.js';

/**
 * Starts `count` socket.io servers one after the other (the first hosts the hub), with peer
 * ids 1..count, and waits until each counts all of them (socket.io-adapter's `serverCount`).
 */
export async function startWorkers(
  box: Sandbox,
  count: number,
  adapterOptions: Record<string, unknown> = {},
): Promise<IoWorker[]> {
  const workers: IoWorker[] = [];
  for (let i = 0; i < count; i++) {
    const proc = await Proc.start(IO_WORKER, {
      ...box.peerEnv({ id: i + 1 }),
      ADAPTER_OPTIONS: JSON.stringify(adapterOptions),
    });
    const { id, port } = await proc.call<{ id: number; port: number }>('start');
    workers.push({ proc, id, port });
  }
  await serversCounted(workers, count);
  return workers;
}

/** Waits until each of `workers` counts `count` servers in the cluster. */
export async function serversCounted(workers: IoWorker[], count: number): Promise<void> {
  await until(
    async () => {
      const states = await Promise.all(
        workers.map((w) => w.proc.call<{ servers: number }>('state')),
      );
      return states.every((s) => s.servers === count);
    },
    undefined,
    `every server to count ${count} servers`,
  );
}
