import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { enableIpcTracing } from 'nestjs-ipc-channel/tracing';
import { JsonLinesSpanProcessor } from './json-lines-span-processor.js';

/**
 * The OpenTelemetry SDK set up by hand for this process, every finished span appended to `file`
 * as one JSON line, then trace context carried across the channel's messages.
 */
export function traceToFile(file: string): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new JsonLinesSpanProcessor(file)] }),
  );
  enableIpcTracing();
}
