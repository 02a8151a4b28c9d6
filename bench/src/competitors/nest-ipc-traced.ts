import type { Shape, Topology } from '../orchestrator/topology.js';
import type { TracingMode } from '../transports/tracing-setup.js';
import { oneHopTopology } from './channel.js';
import type { Competitor } from './competitor.js';

/** `topology` with tracing turned on in every one of its processes. */
function traced(topology: Topology, tracing: TracingMode): Topology {
  return {
    stages: topology.stages.map(
      (stage) => (ready) =>
        stage(ready).map((spec) => ({ ...spec, options: { ...spec.options, tracing } })),
    ),
  };
}

/**
 * The Nest IPC one-hop row with `enableIpcTracing()` on and the OpenTelemetry API alone (no SDK
 * registered): what tracing costs an application that installed it but exports nothing.
 * Measured next to `nest-ipc-1hop`, the same row with tracing off.
 */
export const nestIpcTracedApi: Competitor = {
  key: 'nest-ipc-traced-api',
  label: 'Nest IPC, tracing on, API only (one hop)',
  family: 'nest-ipc',
  topology: (shape: Shape) => traced(oneHopTopology(shape, 'nest-ipc'), 'api'),
};

/**
 * The same with the SDK registered (a BasicTracerProvider that samples everything, W3C
 * propagation, the AsyncLocalStorage context manager) and no exporter: every message makes
 * and ends two real spans and carries a traceparent.
 */
export const nestIpcTracedSdk: Competitor = {
  key: 'nest-ipc-traced-sdk',
  label: 'Nest IPC, tracing on, SDK without exporter (one hop)',
  family: 'nest-ipc',
  topology: (shape: Shape) => traced(oneHopTopology(shape, 'nest-ipc'), 'sdk'),
};
