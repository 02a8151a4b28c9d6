import { ProxyTracerProvider, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  InvalidOptionError,
  IpcClient,
  type IpcReply,
  RequestTimeoutError,
  registerIpcMessageHooks,
} from '../../src/index.js';
import * as tracing from '../../src/tracing/index.js';
import { handledEvents, startTracedApp, type TracedApp } from '../fixtures/traced-app.js';
import { type HandlerView, inCallerSpan, startTracingSdk } from '../fixtures/tracing-sdk.js';
import { tempDir, until } from '../helpers/processes.js';
import { UNSET, only, processAttributes, sendAttributes } from './span-tree.js';

const sdk = startTracingSdk();
let disableTracing = tracing.enableIpcTracing();
let dir: ReturnType<typeof tempDir>;
let app: TracedApp | undefined;

beforeEach(() => {
  dir = tempDir();
  sdk.reset();
  handledEvents.length = 0;
});
afterEach(async () => {
  await app?.app.close();
  app = undefined;
  dir.remove();
});
afterAll(async () => {
  disableTracing();
  await sdk.shutdown();
});

test("an event's handler runs in a consumer span whose parent is the emit's producer span, with the sender's baggage", async () => {
  app = await startTracedApp('traced', dir.path, 1);
  const caller = await inCallerSpan('caller', 'acme', async () => {
    await firstValueFrom(app!.client.emit('traced.event', 1), { defaultValue: undefined });
  });
  await until(() => handledEvents.length === 1);
  const spans = sdk.spans();
  const producer = only(spans, 'emit traced.event');
  const consumer = only(spans, 'process traced.event');
  expect(spans).toHaveLength(3);
  expect(producer).toEqual({
    name: 'emit traced.event',
    kind: SpanKind.PRODUCER,
    traceId: caller.traceId,
    spanId: producer.spanId,
    parentSpanId: caller.spanId,
    attributes: sendAttributes('emit', 'traced.event', 'traced', 'all', 1),
    status: UNSET,
  });
  expect(consumer).toEqual({
    name: 'process traced.event',
    kind: SpanKind.CONSUMER,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    parentSpanId: producer.spanId,
    attributes: processAttributes('traced.event', 'traced', 1, 1),
    status: UNSET,
  });
  expect(handledEvents).toEqual([
    {
      pid: process.pid,
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

test("a request's handler runs in a consumer span under the producer span, which lasts until the response; the response reaches the subscriber in the caller's context", async () => {
  app = await startTracedApp('traced', dir.path, 1);
  let seenBySubscriber: string | undefined;
  const caller = await inCallerSpan('caller', 'acme', () => {
    return new Promise<HandlerView>((resolve, reject) => {
      // Not awaited: the subscriber's callback runs from the channel's read, not a continuation.
      app!.client.send<HandlerView>('traced.request', 1).subscribe({
        next: (value) => {
          seenBySubscriber = trace.getActiveSpan()?.spanContext().spanId;
          resolve(value);
        },
        error: reject,
      });
    });
  });
  const spans = sdk.spans();
  const producer = only(spans, 'send traced.request');
  const consumer = only(spans, 'process traced.request');
  const handler = caller.result;
  expect(seenBySubscriber).toBe(caller.spanId);
  expect(handler).toEqual({
    pid: process.pid,
    pattern: 'traced.request',
    sender: 1,
    requestId: handler.requestId,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    tenant: 'acme',
    metadataKeys: ['baggage', 'traceparent'],
  });
  expect(typeof handler.requestId).toBe('string');
  expect(producer).toEqual({
    name: 'send traced.request',
    kind: SpanKind.PRODUCER,
    traceId: caller.traceId,
    spanId: producer.spanId,
    parentSpanId: caller.spanId,
    attributes: sendAttributes('send', 'traced.request', 'traced', 'any', 1),
    status: UNSET,
  });
  expect(consumer).toEqual({
    name: 'process traced.request',
    kind: SpanKind.CONSUMER,
    traceId: caller.traceId,
    spanId: consumer.spanId,
    parentSpanId: producer.spanId,
    attributes: processAttributes('traced.request', 'traced', 1, 1, handler.requestId),
    status: UNSET,
  });
  // The handler's span ended before the requester's: the response came from inside it.
  expect(spans.map((s) => s.name)).toEqual([
    'process traced.request',
    'send traced.request',
    'caller',
  ]);
});

test("a gather is one producer span; a failed request marks both spans as errors, a failed event its handler's", async () => {
  app = await startTracedApp('traced', dir.path, 1);
  const caller = await inCallerSpan('caller', 'acme', () =>
    lastValueFrom(app!.client.to('all').send('traced.request', 1).pipe(toArray())),
  );
  const replies = caller.result as IpcReply<HandlerView>[];
  const producer = only(sdk.spans(), 'gather traced.request');
  const consumer = only(sdk.spans(), 'process traced.request');
  expect(replies.map((r) => [r.peer, r.data?.spanId])).toEqual([[1, consumer.spanId]]);
  expect(producer.attributes).toEqual(
    sendAttributes('gather', 'traced.request', 'traced', 'all', 1),
  );
  expect([producer.parentSpanId, consumer.parentSpanId]).toEqual([caller.spanId, producer.spanId]);

  sdk.reset();
  const failed = await inCallerSpan('caller', 'acme', () =>
    firstValueFrom(app!.client.to(1).send('traced.fails', 1)).then(
      () => 'answered',
      (e: unknown) => e,
    ),
  );
  expect(failed.result).toEqual({ status: 'error', message: 'the handler refused' });
  const sent = only(sdk.spans(), 'send traced.fails');
  const handled = only(sdk.spans(), 'process traced.fails');
  expect(sent.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the handler refused' });
  expect(sent.attributes['error.type']).toBe('_OTHER');
  expect(sent.attributes['nestjs_ipc.target']).toBe('1');
  expect(handled.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the handler refused' });
  expect(handled.attributes['error.type']).toBe('_OTHER');
  expect(handled.parentSpanId).toBe(sent.spanId);

  sdk.reset();
  await inCallerSpan('caller', 'acme', () =>
    firstValueFrom(app!.client.to(1).emit('traced.event-fails', 1), { defaultValue: undefined }),
  );
  await until(() => sdk.spans().some((s) => s.name === 'process traced.event-fails'));
  const eventHandled = only(sdk.spans(), 'process traced.event-fails');
  expect(only(sdk.spans(), 'emit traced.event-fails').status).toEqual(UNSET);
  // What Nest's exception filter made of the TypeError.
  expect(eventHandled.status).toEqual({
    code: SpanStatusCode.ERROR,
    message: 'Internal server error',
  });
  expect(eventHandled.attributes['error.type']).toBe('_OTHER');
});

test('a request that times out ends its span with the timeout; one unsubscribed from ends it without error', async () => {
  app = await startTracedApp('traced', dir.path, 1);
  const impatient = new IpcClient({ name: 'traced', dir: dir.path, id: 1, timeout: 50 });
  try {
    const caller = await inCallerSpan('caller', 'acme', () =>
      firstValueFrom(impatient.send('traced.never', 1)).then(
        () => 'answered',
        (e: unknown) => e,
      ),
    );
    expect(caller.result).toBeInstanceOf(RequestTimeoutError);
    const sent = only(sdk.spans(), 'send traced.never');
    expect(sent.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: (caller.result as Error).message,
    });
    expect(sent.attributes['error.type']).toBe('RequestTimeoutError');
    expect(sent.parentSpanId).toBe(caller.spanId);
  } finally {
    await impatient.close();
  }

  sdk.reset();
  const sub = app.client.send('traced.never', 2).subscribe(); // sent at once: the client has joined
  expect(sdk.spans()).toEqual([]);
  sub.unsubscribe();
  expect(only(sdk.spans(), 'send traced.never').status).toEqual(UNSET);
});

test('a message sent outside any trace starts one; with no SDK nothing travels and no span is made', async () => {
  app = await startTracedApp('traced', dir.path, 1);
  const root = await context.with(context.active(), () =>
    firstValueFrom(app!.client.send<HandlerView>('traced.request', 1)),
  );
  const producer = only(sdk.spans(), 'send traced.request');
  expect(producer.parentSpanId).toBeUndefined();
  expect(root.traceId).toBe(producer.traceId);
  expect(root.tenant).toBeUndefined();
  expect(root.metadataKeys).toEqual(['traceparent']);

  // The API alone (a provider with no SDK behind it): messages carry no metadata at all.
  disableTracing();
  disableTracing = tracing.enableIpcTracing({ tracerProvider: new ProxyTracerProvider() });
  try {
    sdk.reset();
    const untraced = await firstValueFrom(app.client.send<HandlerView>('traced.request', 1));
    await firstValueFrom(app.client.emit('traced.event', 2), { defaultValue: undefined });
    await until(() => handledEvents.length === 1);
    expect(untraced.metadataKeys).toEqual([]);
    expect(untraced.spanId).toBeUndefined();
    expect(handledEvents[0]!.metadataKeys).toEqual([]);
    expect(sdk.spans()).toEqual([]);
  } finally {
    disableTracing();
    disableTracing = tracing.enableIpcTracing();
  }
});

test('one set of message hooks at a time: a second registration fails with a typed error', () => {
  expect(() => registerIpcMessageHooks({})).toThrow(InvalidOptionError);
  expect(() => tracing.enableIpcTracing()).toThrow(
    /already registered in this process: call the function the first registerIpcMessageHooks\(\) returned/,
  );
});

test('the attribute names are those of the installed semantic conventions', () => {
  expect([
    tracing.ATTR_MESSAGING_SYSTEM_NAME,
    tracing.ATTR_MESSAGING_SYSTEM,
    tracing.ATTR_MESSAGING_OPERATION_TYPE,
    tracing.ATTR_MESSAGING_OPERATION_NAME,
    tracing.ATTR_MESSAGING_DESTINATION_NAME,
    tracing.ATTR_MESSAGING_MESSAGE_ID,
    tracing.ATTR_MESSAGING_CLIENT_ID,
    tracing.ATTR_ERROR_TYPE,
    tracing.OPERATION_TYPE_SEND,
    tracing.OPERATION_TYPE_PROCESS,
    tracing.ERROR_TYPE_OTHER,
  ]).toEqual([
    semconv.ATTR_MESSAGING_SYSTEM_NAME,
    semconv.ATTR_MESSAGING_SYSTEM,
    semconv.ATTR_MESSAGING_OPERATION_TYPE,
    semconv.ATTR_MESSAGING_OPERATION_NAME,
    semconv.ATTR_MESSAGING_DESTINATION_NAME,
    semconv.ATTR_MESSAGING_MESSAGE_ID,
    semconv.ATTR_MESSAGING_CLIENT_ID,
    semconv.ATTR_ERROR_TYPE,
    semconv.MESSAGING_OPERATION_TYPE_VALUE_SEND,
    semconv.MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
    semconv.ERROR_TYPE_VALUE_OTHER,
  ]);
});
