/** HTTP calls to the sample app, and waiting until its workers answer as expected. */
import { request } from 'node:http';
import { sleep } from '../helpers/processes.js';

export interface Reply<T = any> {
  status: number;
  body: T;
}

/** One HTTP request on a fresh connection (so PM2's cluster hands it to the next worker). */
export function http<T = any>(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  return new Promise((resolveHttp, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: data ? { 'content-type': 'application/json' } : {},
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          try {
            resolveHttp({ status: res.statusCode!, body: JSON.parse(text) as T });
          } catch (e) {
            reject(new Error(`${method} ${path}: not JSON: ${text} (${String(e)})`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

export interface WorkerInfo {
  peer: number;
  pid: number;
  instance: number | null;
  hub: boolean;
  httpRequests: number;
  ipcMessages: number;
  cacheKeys: number;
  invalidations: number;
}

/** GET /workers: every worker's stats, gathered over the channel by whichever worker answers. */
export async function workers(port: number): Promise<WorkerInfo[]> {
  const reply = await http<{ workers: WorkerInfo[] }>(port, 'GET', '/workers');
  if (reply.status !== 200)
    throw new Error(`GET /workers: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.workers;
}

/** Polls until `check` returns a value (not undefined/false), retrying on errors. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** Waits until GET /workers lists exactly `ids` (ascending), one hub among them. */
export async function settledWorkers(port: number, ids: number[], timeoutMs = 60_000) {
  let seen: WorkerInfo[] | undefined;
  try {
    return await eventually(
      async () => {
        const list = (seen = await workers(port));
        const peers = list.map((w) => w.peer);
        const hubs = list.filter((w) => w.hub).length;
        const complete = list.every((w) => typeof w.pid === 'number');
        return complete && JSON.stringify(peers) === JSON.stringify(ids) && hubs <= 1
          ? list
          : undefined;
      },
      `workers ${ids.join(',')}`,
      timeoutMs,
    );
  } catch (e) {
    // What GET /workers last answered says which worker was missing or failing, and why.
    if (e instanceof Error && seen)
      e.message += `; GET /workers last listed ${JSON.stringify(seen)}`;
    throw e;
  }
}
