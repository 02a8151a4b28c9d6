import { appendFileSync } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** One finished span, as a line of the trace file. */
export interface SpanLine {
  pid: number;
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
}

/**
 * Appends each finished span to a file as a JSON line. Every worker of the cluster may write to
 * the same file: each line goes out in one append, and `pid` says which worker it came from.
 * The write is synchronous, so a worker that is killed loses no span it has finished.
 */
export class JsonLinesSpanProcessor implements SpanProcessor {
  constructor(private readonly file: string) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const { traceId, spanId } = span.spanContext();
    const line: SpanLine = {
      pid: process.pid,
      name: span.name,
      kind: SpanKind[span.kind],
      traceId,
      spanId,
      parentSpanId: span.parentSpanContext?.spanId ?? null,
      attributes: { ...span.attributes },
      status: { ...span.status },
    };
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
