/**
 * Nest apps in their own processes (test/fixtures/nest-worker.ts) on one channel in a fresh
 * temp dir per test, for the multi-process Nest suites. Every worker is killed after each test.
 */
import { Proc, RemoteError, killAll } from './processes.js';
import { type TempDir, tempDir } from './temp-dir.js';
import { until } from './wait.js';

/** What a worker's `state` command answers. */
export interface WorkerState {
  id: number;
  peers: number[];
  pid: number;
  httpPort: number;
}

/** What a worker's handlers have seen (its `seen` command). */
export interface Seen {
  events: { key: unknown; sender: number; pattern: string; metadata: Record<string, string> }[];
  counted: number[];
  streamEmitted: number;
  streamFinalized: number;
  guarded: number;
  echoed: number;
}

export interface NestWorkers {
  /** This test's socket directory. */
  readonly dir: TempDir;
  /** The workers `cluster()` started, by peer id (a test may add its own). */
  readonly w: Map<number, Proc>;
  /** Starts a worker with `env` and channel `options` (name and dir are set). */
  worker(env?: Record<string, string>, options?: Record<string, unknown>): Promise<Proc>;
  /** Three Nest apps: 1 (hub), 2 (its 'stats' throws), 3 (also handles 'extra'). */
  cluster(options?: Record<string, unknown>): Promise<void>;
}

/** Sets up a temp dir before each test of the calling file and kills its workers after. */
export function nestWorkers(): NestWorkers {
  let dir: TempDir | undefined;
  const w = new Map<number, Proc>();
  const worker = (env: Record<string, string> = {}, options: Record<string, unknown> = {}) =>
    Proc.start('nest-worker.js', {
      WORKER_OPTIONS: JSON.stringify({ name: 'nest', dir: dir!.path, ...options }),
      ...env,
    });
  beforeEach(() => {
    dir = tempDir();
    w.clear();
  });
  afterEach(async () => {
    await killAll();
    dir!.remove();
  });
  return {
    get dir() {
      return dir!;
    },
    w,
    worker,
    async cluster(options = {}) {
      // 1 first, so that it hosts the hub; the ids are explicit, so 2 and 3 may start together.
      const a = await worker({}, { id: 1, ...options });
      const [b, c] = await Promise.all([
        worker({ WORKER_FAIL_STATS: '1' }, { id: 2, ...options }),
        worker({ WORKER_ROLE: 'extra' }, { id: 3, ...options }),
      ]);
      w.set(1, a).set(2, b).set(3, c);
      await until(async () => (await c.call<WorkerState>('state')).peers.length === 3, 10_000);
      await until(async () => (await a.call<WorkerState>('state')).peers.length === 3, 10_000);
    },
  };
}

/** What `p` rejected with: a remote error's payload, or the error itself. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e instanceof RemoteError ? e.payload : e;
  }
  throw new Error('expected a rejection');
}
