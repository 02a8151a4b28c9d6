/**
 * The demo's metrics step (scripts/demo.mjs calls it): GET /metrics on several workers, each
 * answering with the whole cluster's metrics, gathered over the channel.
 */
import { request } from 'node:http';

/** GET /metrics on a fresh connection, so PM2 hands each to the next worker. */
function scrape(port) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 30_000 },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The samples named `name` in Prometheus text, as `[labels text, value]`. */
function samples(text, name) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m !== null && m[1] === name) out.push([m[2] ?? '', Number(m[3])]);
  }
  return out;
}

const sum = (rows) => rows.reduce((total, [, value]) => total + value, 0);
const peerOf = (labels) => /peer="(\d+)"/.exec(labels)?.[1];

/**
 * Scrapes /metrics `times` times and shows what each answer holds; true when every answer
 * listed every worker as up.
 */
export async function metricsScenario(port, { step, say, dim, green, red }, workers = 4) {
  step('4b) GET /metrics: any worker answers with the whole cluster, gathered over the channel');
  let ok = true;
  for (let i = 1; i <= workers; i++) {
    const { status, text } = await scrape(port);
    if (status !== 200) {
      say(red(`   GET /metrics: ${status} ${text.trim()}`));
      ok = false;
      continue;
    }
    const up = samples(text, 'ipc_metrics_peer_up');
    const upIds = up.filter(([, v]) => v === 1).map(([labels]) => peerOf(labels));
    const hub = samples(text, 'ipc_channel_hub').find(([, v]) => v === 1);
    const requests = sum(samples(text, 'sample_http_requests_total'));
    const sent = sum(samples(text, 'ipc_channel_messages_sent_total'));
    const complete = up.length === workers && upIds.length === workers;
    ok &&= complete;
    say(
      `   scrape ${i}: workers up ${(complete ? green : red)(upIds.join(','))}` +
        `  hub ${hub === undefined ? '?' : peerOf(hub[0])}` +
        `  HTTP requests (cluster) ${requests}  channel messages sent (cluster) ${sent}`,
    );
  }
  say(
    dim(
      '   each scrape is one worker: it asks the others over the channel and sums as prom-client does',
    ),
  );
  return ok;
}
