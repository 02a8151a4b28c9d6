/**
 * The sample app as a real 4-worker PM2 cluster (private PM2_HOME): GET /metrics on whichever
 * worker PM2 hands the connection to returns the whole cluster's metrics.
 */
import { request } from 'node:http';
import { PromText } from '../helpers/prom-text.js';
import { http } from '../pm2/http.js';
import { Pm2 } from '../pm2/pm2.js';
import {
  type SampleCluster,
  startSampleCluster,
  stopSampleCluster,
} from '../pm2/sample-cluster.js';

let pm2: Pm2;
let port: number;
let cluster: SampleCluster | undefined;

beforeAll(async () => {
  cluster = await startSampleCluster();
  ({ pm2, port } = cluster);
}, 300_000);

afterAll(async () => {
  await stopSampleCluster(cluster);
}, 120_000);

/** GET /metrics on a fresh connection, so PM2 hands it to the next worker. */
function scrape(): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: res.headers['content-type'], text }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

it('every worker serves the cluster: requests summed over the workers that took them', async () => {
  for (let i = 0; i < 20; i++) {
    expect((await http(port, 'GET', `/cache/metrics-${i}`)).status).toBe(200);
  }
  const workers = await pm2.instances();
  expect(workers.size).toBe(4);
  // Eight scrapes on fresh connections: PM2 spreads them over the workers.
  for (let i = 0; i < 8; i++) {
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = new PromText(res.text);
    expect(text.value('sample_http_requests_total', { method: 'GET', route: '/cache/:key' })).toBe(
      20,
    );
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual({ '1': 1, '2': 1, '3': 1, '4': 1 });
    expect(Object.values(text.by('ipc_channel_hub', 'peer')).reduce((a, b) => a + b)).toBe(1);
    expect(Object.keys(text.by('ipc_channel_connected', 'peer')).sort()).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
    expect(text.family('nodejs_heap_size_total_bytes').type).toBe('gauge');
  }
}, 120_000);
