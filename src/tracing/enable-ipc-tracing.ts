import { type TextMapPropagator, type TracerProvider, trace } from '@opentelemetry/api';
import { registerIpcMessageHooks } from '../nest/index.js';
import { tracingHooks } from './message-spans.js';

/** The instrumentation scope name of the spans (the tracer's name). */
export const IPC_TRACER_NAME = 'nestjs-ipc-channel';

/** Options of enableIpcTracing(). */
export interface IpcTracingOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`). */
  tracerProvider?: TracerProvider;
  /**
   * How context is written into and read from a message's metadata. Default: the global
   * propagator (`propagation.setGlobalPropagator`; the Node SDK sets W3C trace context and
   * baggage).
   */
  propagator?: TextMapPropagator;
}

/**
 * Traces every message this process's IpcClients send and its IpcServer handles: a producer span
 * per emit, request or gather (a child of the active span), whose context and baggage travel in
 * the message's metadata; a consumer span around each handler, a child of the producer span.
 * Call it once, before the first message; returns the function that turns tracing off.
 *
 * ```ts
 * import { enableIpcTracing } from 'nestjs-ipc-channel/tracing';
 * const disableTracing = enableIpcTracing();
 * ```
 */
export function enableIpcTracing(options: IpcTracingOptions = {}): () => void {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  return registerIpcMessageHooks(tracingHooks(provider, IPC_TRACER_NAME, options.propagator));
}
