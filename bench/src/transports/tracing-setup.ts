import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../shared/paths.js';

/** How a traced row sets OpenTelemetry up: the API alone, or the SDK with no exporter. */
export type TracingMode = 'api' | 'sdk';

/** The built tracing entry (the package's './tracing' export). */
const TRACING_ENTRY = join(REPO_ROOT, 'dist', 'tracing', 'index.js');

/**
 * Turns IPC tracing on in this worker before its app starts. Loaded only by the traced rows,
 * so no other row imports OpenTelemetry.
 */
export async function setUpTracing(mode: TracingMode): Promise<void> {
  if (mode === 'sdk') {
    const { context, propagation, trace } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } =
      await import('@opentelemetry/core');
    const { BasicTracerProvider } = await import('@opentelemetry/sdk-trace-base');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    );
    trace.setGlobalTracerProvider(new BasicTracerProvider());
  }
  const lib = (await import(pathToFileURL(TRACING_ENTRY).href)) as {
    enableIpcTracing?: () => () => void;
  };
  if (typeof lib.enableIpcTracing !== 'function') {
    throw new Error(`${TRACING_ENTRY} does not export enableIpcTracing: run 'npm run build'`);
  }
  lib.enableIpcTracing();
}
