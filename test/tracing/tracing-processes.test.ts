import { SpanKind } from '@opentelemetry/api';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import type { IpcReply } from '../../src/index.js';
import { enableIpcTracing } from '../../src/tracing/index.js';
import { handledEvents, startTracedApp, type TracedApp } from '../fixtures/traced-app.js';
import {
  type HandlerView,
  type SpanRecord,
  inCallerSpan,
  startTracingSdk,
} from '../fixtures/tracing-sdk.js';
import { Proc, tempDir, until } from '../helpers/processes.js';
import { UNSET, only, processAttributes, sendAttributes } from './span-tree.js';

/*
 * This process (peer 1) and a worker process (peer 2), each with the real SDK exporting to
 * memory; the worker hands its finished spans over fork IPC.
 */
const sdk = startTracingSdk();
const disableTracing = enableIpcTracing();
const dir = tempDir();
let app: TracedApp;
let worker: Proc;

beforeAll(async () => {
  app = await startTracedApp('traced-mp', dir.path, 1);
  const options = { name: 'traced-mp', dir: dir.path, id: 2 };
  worker = await Proc.start('traced-worker.js', { TRACED_OPTIONS: JSON.stringify(options) });
  // A gather reaches the peers whose handlers this process has heard of: wait for the worker's.
  await until(
    async () =>
      (await lastValueFrom(app.client.to('all').send('traced.request', 0).pipe(toArray())))
        .length === 2,
    20_000,
    "the worker's handlers",
  );
});
beforeEach(async () => {
  sdk.reset();
  handledEvents.length = 0;
  await worker.call('reset');
});
afterAll(async () => {
  await worker.call('close');
  await worker.kill();
  await app.app.close();
  disableTracing();
  await sdk.shutdown();
  dir.remove();
});

test("an event to another process: its handler's span is a child of the sender's producer span, with the sender's baggage", async () => {
  const caller = await inCallerSpan('caller', 'acme', () =>
    firstValueFrom(app.client.to(2).emit('traced.event', 1), { defaultValue: undefined }),
  );
  const seen = await until(async () => {
    const events = await worker.call<HandlerView[]>('events');
    return events.length > 0 && events;
  });
  const producer = only(sdk.spans(), 'emit traced.event');
  const consumer = only(await worker.call<SpanRecord[]>('spans'), 'process traced.event');
  expect(producer).toEqual({
    name: 'emit traced.event',
    kind: SpanKind.PRODUCER,
    traceId: caller.traceId,
    spanId: producer.spanId,
    parentSpanId: caller.spanId,
    attributes: sendAttributes('emit', 'traced.event', 'traced-mp', '2', 1),
    status: UNSET,
  });
  expect(consumer).toEqual({
    name: 'process traced.event',
    kind: SpanKind.CONSUMER,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    parentSpanId: producer.spanId,
    attributes: processAttributes('traced.event', 'traced-mp', 1, 2),
    status: UNSET,
  });
  expect(seen).toEqual([
    {
      pid: worker.pid,
      pattern: 'traced.event',
      sender: 1,
      requestId: undefined,
      traceId: caller.traceId,
      spanId: consumer.spanId,
      tenant: 'acme',
      metadataKeys: ['baggage', 'traceparent'],
    },
  ]);
});

test("a request to another process, both ways: the responder's span is a child of the requester's", async () => {
  const caller = await inCallerSpan('caller', 'acme', () =>
    firstValueFrom(app.client.to(2).send<HandlerView>('traced.request', 1)),
  );
  const producer = only(sdk.spans(), 'send traced.request');
  const consumer = only(await worker.call<SpanRecord[]>('spans'), 'process traced.request');
  expect(caller.result).toEqual({
    pid: worker.pid,
    pattern: 'traced.request',
    sender: 1,
    requestId: caller.result.requestId,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    tenant: 'acme',
    metadataKeys: ['baggage', 'traceparent'],
  });
  expect([producer.traceId, producer.parentSpanId]).toEqual([caller.traceId, caller.spanId]);
  expect(producer.attributes).toEqual(
    sendAttributes('send', 'traced.request', 'traced-mp', '2', 1),
  );
  expect(consumer).toEqual({
    name: 'process traced.request',
    kind: SpanKind.CONSUMER,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    parentSpanId: producer.spanId,
    attributes: processAttributes('traced.request', 'traced-mp', 1, 2, caller.result.requestId),
    status: UNSET,
  });

  // The worker asks this process, from a span of its own.
  const asked = await worker.call<{ result: HandlerView; traceId: string; spanId: string }>(
    'request',
    { target: 1, tenant: 'globex' },
  );
  const workerSpans = await worker.call<SpanRecord[]>('spans');
  const workerProducer = only(workerSpans, 'send traced.request');
  const here = only(sdk.spans(), 'process traced.request');
  expect(workerProducer.parentSpanId).toBe(asked.spanId);
  expect(workerProducer.attributes).toEqual(
    sendAttributes('send', 'traced.request', 'traced-mp', '1', 2),
  );
  expect(here).toEqual({
    name: 'process traced.request',
    kind: SpanKind.CONSUMER,
    traceId: asked.traceId,
    spanId: here.spanId,
    parentSpanId: workerProducer.spanId,
    attributes: processAttributes('traced.request', 'traced-mp', 2, 1, asked.result.requestId),
    status: UNSET,
  });
  expect(asked.result).toEqual({
    pid: process.pid,
    pattern: 'traced.request',
    sender: 2,
    requestId: asked.result.requestId,
    traceId: asked.traceId,
    spanId: here.spanId,
    tenant: 'globex',
    metadataKeys: ['baggage', 'traceparent'],
  });
});

test('a gather across processes: one producer span, one consumer span per responding peer', async () => {
  const caller = await inCallerSpan('caller', 'acme', () =>
    lastValueFrom(
      app.client.to('all').send<IpcReply<HandlerView>>('traced.request', 1).pipe(toArray()),
    ),
  );
  const replies = caller.result as unknown as IpcReply<HandlerView>[];
  const spans = sdk.spans();
  const producer = only(spans, 'gather traced.request');
  const local = only(spans, 'process traced.request');
  const remote = only(await worker.call<SpanRecord[]>('spans'), 'process traced.request');
  expect(spans.filter((s) => s.kind === SpanKind.PRODUCER)).toEqual([producer]);
  expect(producer.attributes).toEqual(
    sendAttributes('gather', 'traced.request', 'traced-mp', 'all', 1),
  );
  expect(producer.parentSpanId).toBe(caller.spanId);
  expect([local.parentSpanId, remote.parentSpanId]).toEqual([producer.spanId, producer.spanId]);
  expect([local.traceId, remote.traceId]).toEqual([caller.traceId, caller.traceId]);
  expect(
    replies
      .map((r) => [r.peer, r.data?.pid, r.data?.spanId, r.data?.tenant])
      .sort((a, b) => Number(a[0]) - Number(b[0])),
  ).toEqual([
    [1, process.pid, local.spanId, 'acme'],
    [2, worker.pid, remote.spanId, 'acme'],
  ]);
});
