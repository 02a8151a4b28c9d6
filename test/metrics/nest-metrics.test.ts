import { Proc } from '../helpers/processes.js';
import { PromText } from '../helpers/prom-text.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox();

interface Worker {
  proc: Proc;
  id: number;
  port: number;
}

/** Starts Nest workers and waits until each sees all of them on the channel. */
async function startWorkers(n: number, env: Record<string, string> = {}): Promise<Worker[]> {
  const channel = JSON.stringify({ name: 'metrics-nest', dir: box.dir });
  const procs = await Promise.all(
    Array.from({ length: n }, () =>
      Proc.start('nest-metrics-worker.js', { WORKER_OPTIONS: channel, ...env }),
    ),
  );
  const states = await until(
    async () => {
      const all = await Promise.all(
        procs.map((p) => p.call<{ id?: number; peers: number[]; port: number }>('state')),
      );
      return all.every((s) => s.id !== undefined && s.peers.length === n) ? all : undefined;
    },
    undefined,
    'every worker to join',
  );
  return procs.map((proc, i) => ({ proc, id: states![i]!.id!, port: states![i]!.port }));
}

async function get(port: number, path: string, method = 'GET'): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${path}`, { method });
}

describe('IpcMetricsModule in Nest apps', () => {
  it('serves the whole channel on GET /metrics of every worker', async () => {
    const workers = await startWorkers(3);
    for (const [i, w] of workers.entries()) await w.proc.call('record', { count: i + 1 });
    for (const w of workers) {
      const res = await get(w.port, '/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = new PromText(await res.text());
      expect(text.value('app_jobs_total')).toBe(6);
      expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual(
        Object.fromEntries(workers.map((x) => [String(x.id), 1])),
      );
      expect(Object.values(text.by('ipc_channel_hub', 'peer')).sort()).toEqual([0, 0, 1]);
    }
    const head = await get(workers[0]!.port, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // Other methods are not the module's: Nest answers them as for any unknown route.
    expect((await get(workers[0]!.port, '/metrics', 'POST')).status).toBe(404);
  });

  it("with path: false, serves nothing itself and ClusterMetrics is the app's to inject", async () => {
    const workers = await startWorkers(2, { METRICS_PATH: 'none' });
    await workers[0]!.proc.call('record', { count: 2 });
    await workers[1]!.proc.call('record', { count: 5 });
    expect((await get(workers[0]!.port, '/metrics')).status).toBe(404);
    const res = await get(workers[1]!.port, '/own/metrics');
    expect(res.status).toBe(200);
    const text = new PromText(await res.text());
    expect(text.value('app_jobs_total')).toBe(7);
    expect(Object.values(text.by('ipc_metrics_peer_up', 'peer'))).toEqual([1, 1]);
  });

  it('closing an app releases its share of the channel: it leaves, and the others collect the rest', async () => {
    const workers = await startWorkers(3);
    for (const w of workers) await w.proc.call('record', { count: 10 });
    await workers[2]!.proc.call('close');
    await until(
      async () => {
        const s = await workers[0]!.proc.call<{ peers: number[] }>('state');
        return s.peers.length === 2;
      },
      undefined,
      'the closed worker to leave',
    );
    const text = new PromText(await (await get(workers[0]!.port, '/metrics')).text());
    expect(text.value('app_jobs_total')).toBe(20);
    expect(Object.values(text.by('ipc_metrics_peer_up', 'peer'))).toEqual([1, 1]);
  });

  it('a scrape in the middle of an election waits for the new hub and counts every peer', async () => {
    const workers = await startWorkers(3);
    for (const w of workers) await w.proc.call('record', { count: 10 });
    const states = await Promise.all(workers.map((w) => w.proc.call<{ isHub: boolean }>('state')));
    const hub = workers[states.findIndex((s) => s.isHub)]!;
    // The hub hands over to the lowest id left; the other one rejoins it, and scrapes then.
    const [, scraper] = workers.filter((w) => w !== hub).sort((a, b) => a.id - b.id);
    await scraper!.proc.call('armScrape');
    await hub.proc.call('close');
    const scrape = await scraper!.proc.call<{ connected: boolean; text: string }>('armedScrape');
    expect(scrape.connected).toBe(false);
    const text = new PromText(scrape.text);
    expect(text.value('app_jobs_total')).toBe(20);
    const rest = workers.filter((w) => w !== hub).map((w) => [String(w.id), 1]);
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual(Object.fromEntries(rest));
  });
});
