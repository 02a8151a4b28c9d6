/**
 * `nestjs-ipc-channel/tracing`: OpenTelemetry trace context across the Nest binding's messages.
 * The only entry point that loads `@opentelemetry/api` (an optional peer dependency).
 */
export { IPC_TRACER_NAME, type IpcTracingOptions, enableIpcTracing } from './enable-ipc-tracing.js';
export * from './attributes.js';
