/**
 * The sample app as a real 4-worker PM2 cluster (private PM2_HOME) with SAMPLE_TRACE_FILE set:
 * every worker sets up the real OpenTelemetry SDK and enableIpcTracing(), and appends its
 * finished spans to the one file. A message's handler span, in whichever worker ran it, is a child
 * of the sender's producer span in another.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/processes.js';
import { until } from '../helpers/wait.js';
import type { SpanLine } from '../../sample/src/tracing/json-lines-span-processor.js';
import { http } from '../pm2/http.js';
import { APP } from '../pm2/sample-build.js';
import { Pm2 } from '../pm2/pm2.js';
import { processAttributes, sendAttributes } from './span-tree.js';
import {
  type SampleCluster,
  startSampleCluster,
  stopSampleCluster,
} from '../pm2/sample-cluster.js';

const IDS = [1, 2, 3, 4];
const CHANNEL = `pm2:${APP}`;
const UNSET = { code: 0 };
let pm2: Pm2;
let traces: ReturnType<typeof tempDir>;
let traceFile: string;
let port: number;
let cluster: SampleCluster | undefined;
/** Peer id → the pid of the PM2 worker that holds it (peer id = NODE_APP_INSTANCE + 1). */
let pids: Map<number, number>;

beforeAll(async () => {
  traces = tempDir();
  traceFile = join(traces.path, 'spans.jsonl');
  cluster = await startSampleCluster({ SAMPLE_TRACE_FILE: traceFile });
  ({ pm2, port } = cluster);
  pids = new Map([...(await pm2.instances())].map(([instance, pid]) => [instance + 1, pid]));
}, 300_000);

afterAll(async () => {
  await stopSampleCluster(cluster);
  traces?.remove();
}, 120_000);

/** Every span the workers have finished so far, in the order they were written. */
function spans(): SpanLine[] {
  if (!existsSync(traceFile)) return [];
  return readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as SpanLine);
}

/** The spans of one trace, once there are `count` of them (more would fail the caller's check). */
async function trace(traceId: string, count: number): Promise<SpanLine[]> {
  let found: SpanLine[] = [];
  await until(
    () => {
      found = spans().filter((s) => s.traceId === traceId);
      return found.length >= count;
    },
    30_000,
    `${count} spans in trace ${traceId}`,
  );
  return found;
}

/** The one span among `list` named `name` whose peer (`messaging.client.id`) is `peer`. */
function one(list: SpanLine[], name: string, peer: number): SpanLine {
  const found = list.filter(
    (s) => s.name === name && s.attributes['messaging.client.id'] === String(peer),
  );
  expect(found.map((s) => `${s.name} @${peer}`)).toEqual([`${name} @${peer}`]);
  return found[0]!;
}

test('every worker traces: each of the four pids writes spans to the file', async () => {
  expect([...pids.keys()].sort()).toEqual(IDS);
  // Waiting for the workers gathered `stats` from each, so every worker ran a handler; its span
  // ends once the handler has answered, so it may land just after the gather completed.
  const workerPids = JSON.stringify([...pids.values()].sort((a, b) => a - b));
  const writers = () =>
    JSON.stringify([...new Set(spans().map((s) => s.pid))].sort((a, b) => a - b));
  await until(() => writers() === workerPids, 30_000, `spans from pids ${workerPids}`);
  expect(writers()).toBe(workerPids);
});

test("a request from one worker to another: the handler's consumer span there is a child of the producer span here", async () => {
  // PM2 deals connections out in turn, so of two calls in a row at most one lands on worker 2.
  let reply = await http(port, 'GET', '/workers/2/ping');
  if (reply.body.from === 2) reply = await http(port, 'GET', '/workers/2/ping');
  expect(reply.status).toBe(200);
  const from = reply.body.from as number;
  expect(from).not.toBe(2);
  expect(reply.body.pong).toMatchObject({ peer: 2, pid: pids.get(2), from });

  // The producer span ends as the request completes, before the HTTP reply is written.
  const producer = one(spans(), 'send ping', from);
  const spansOfTrace = await trace(producer.traceId, 2);
  const consumer = one(spansOfTrace, 'process ping', 2);
  expect(spansOfTrace).toHaveLength(2);
  expect(producer).toEqual({
    pid: pids.get(from),
    name: 'send ping',
    kind: 'PRODUCER',
    traceId: producer.traceId,
    spanId: producer.spanId,
    parentSpanId: null,
    attributes: sendAttributes('send', 'ping', CHANNEL, '2', from),
    status: UNSET,
  });
  const requestId = consumer.attributes['messaging.message.id'];
  expect(typeof requestId).toBe('string');
  expect(consumer).toEqual({
    pid: pids.get(2),
    name: 'process ping',
    kind: 'CONSUMER',
    traceId: producer.traceId,
    spanId: consumer.spanId,
    parentSpanId: producer.spanId,
    attributes: processAttributes('ping', CHANNEL, from, 2, requestId as string),
    status: UNSET,
  });
  expect(consumer.spanId).not.toBe(producer.spanId);
}, 60_000);

test('a gather from one worker: one consumer span per worker, each a child of the gather span', async () => {
  const before = spans().length;
  const reply = await http(port, 'GET', '/workers');
  expect(reply.status).toBe(200);
  const origin = reply.body.answeredBy as number;
  const gathers = spans()
    .slice(before)
    .filter((s) => s.name === 'gather stats');
  expect(gathers).toHaveLength(1);
  const producer = one(gathers, 'gather stats', origin);
  expect(producer).toMatchObject({
    pid: pids.get(origin),
    kind: 'PRODUCER',
    parentSpanId: null,
    attributes: sendAttributes('gather', 'stats', CHANNEL, 'all', origin),
    status: UNSET,
  });

  const spansOfTrace = await trace(producer.traceId, 1 + IDS.length);
  expect(spansOfTrace).toHaveLength(1 + IDS.length);
  for (const peer of IDS) {
    const consumer = one(spansOfTrace, 'process stats', peer);
    expect(consumer).toMatchObject({
      pid: pids.get(peer),
      kind: 'CONSUMER',
      parentSpanId: producer.spanId,
      attributes: processAttributes(
        'stats',
        CHANNEL,
        origin,
        peer,
        consumer.attributes['messaging.message.id'] as string,
      ),
      status: UNSET,
    });
  }
}, 60_000);

test('a broadcast: one consumer span per worker under the emit, and each confirmation traced back to the sender', async () => {
  const before = spans().length;
  const reply = await http(port, 'DELETE', '/cache/traced-key');
  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({ confirmedBy: IDS, missing: [] });
  const origin = reply.body.worker as number;

  const emits = spans()
    .slice(before)
    .filter((s) => s.name === 'emit cache.invalidate');
  expect(emits).toHaveLength(1);
  const producer = one(emits, 'emit cache.invalidate', origin);
  expect(producer).toEqual({
    pid: pids.get(origin),
    name: 'emit cache.invalidate',
    kind: 'PRODUCER',
    traceId: producer.traceId,
    spanId: producer.spanId,
    parentSpanId: null,
    attributes: sendAttributes('emit', 'cache.invalidate', CHANNEL, 'all', origin),
    status: UNSET,
  });

  // The emit, its handler on each of the 4 workers (the sender's own included), each handler's
  // confirmation back to the sender, and the sender's handler of each confirmation.
  const expected = 1 + 3 * IDS.length;
  const spansOfTrace = await trace(producer.traceId, expected);
  expect(spansOfTrace).toHaveLength(expected);
  const counts: Record<string, number> = {};
  for (const s of spansOfTrace) counts[s.name] = (counts[s.name] ?? 0) + 1;
  expect(counts).toEqual({
    'emit cache.invalidate': 1,
    'process cache.invalidate': 4,
    'emit cache.invalidated': 4,
    'process cache.invalidated': 4,
  });

  for (const peer of IDS) {
    const handled = one(spansOfTrace, 'process cache.invalidate', peer);
    expect(handled).toEqual({
      pid: pids.get(peer),
      name: 'process cache.invalidate',
      kind: 'CONSUMER',
      traceId: producer.traceId,
      spanId: handled.spanId,
      parentSpanId: producer.spanId,
      attributes: processAttributes('cache.invalidate', CHANNEL, origin, peer),
      status: UNSET,
    });
    const ack = one(spansOfTrace, 'emit cache.invalidated', peer);
    expect(ack).toEqual({
      pid: pids.get(peer),
      name: 'emit cache.invalidated',
      kind: 'PRODUCER',
      traceId: producer.traceId,
      spanId: ack.spanId,
      parentSpanId: handled.spanId,
      attributes: sendAttributes('emit', 'cache.invalidated', CHANNEL, String(origin), peer),
      status: UNSET,
    });
    const confirmed = spansOfTrace.filter(
      (s) => s.name === 'process cache.invalidated' && s.parentSpanId === ack.spanId,
    );
    expect(confirmed).toEqual([
      {
        pid: pids.get(origin),
        name: 'process cache.invalidated',
        kind: 'CONSUMER',
        traceId: producer.traceId,
        spanId: confirmed[0]?.spanId,
        parentSpanId: ack.spanId,
        attributes: processAttributes('cache.invalidated', CHANNEL, peer, origin),
        status: UNSET,
      },
    ]);
  }
  expect(new Set(spansOfTrace.map((s) => s.spanId)).size).toBe(expected);
}, 60_000);
