import {
  type Context,
  type Span,
  type SpanAttributes,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type TracerProvider,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import type {
  IpcContext,
  IpcMessageHooks,
  IpcMetadata,
  IpcOutgoingMessage,
  IpcReceiveScope,
  IpcSendScope,
} from '../nest/index.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_IPC_CHANNEL,
  ATTR_IPC_SENDER,
  ATTR_IPC_TARGET,
  ATTR_MESSAGING_CLIENT_ID,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  ERROR_TYPE_OTHER,
  MESSAGING_SYSTEM,
  OPERATION_TYPE_PROCESS,
  OPERATION_TYPE_SEND,
} from './attributes.js';

const PRODUCER = { kind: SpanKind.PRODUCER };
const CONSUMER = { kind: SpanKind.CONSUMER };

/** The Nest method behind each kind of outgoing message (messaging.operation.name). */
const OPERATION_NAME = { event: 'emit', request: 'send', gather: 'gather' } as const;

/** The API's no-op provider: the one a ProxyTracerProvider delegates to until an SDK registers. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether no span of `provider` can record: the API alone, no SDK. A message from no trace
 * then needs no span at all, not even a no-op one.
 */
function recordsNothing(provider: TracerProvider): boolean {
  const actual = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return actual === NOOP_PROVIDER;
}

/**
 * Message hooks that make a producer span for each message sent and a consumer span around
 * each handler, and carry the producer's context (and baggage) in the message's metadata.
 * `propagator` undefined: the global one, read per message (it may be set after this).
 */
export function tracingHooks(
  provider: TracerProvider,
  tracerName: string,
  propagator?: TextMapPropagator,
): IpcMessageHooks {
  const tracer = provider.getTracer(tracerName);
  const propagators = () => propagator ?? propagation;
  return {
    send(message: IpcOutgoingMessage): IpcSendScope | undefined {
      const parent = context.active();
      if (
        recordsNothing(provider) &&
        trace.getSpanContext(parent) === undefined &&
        propagation.getBaggage(parent) === undefined
      ) {
        return undefined;
      }
      const operation = OPERATION_NAME[message.kind];
      const span = tracer.startSpan(`${operation} ${message.pattern}`, PRODUCER, parent);
      // Nothing to record and nothing to pass on (no SDK, no incoming trace): the message goes
      // out as if tracing were off.
      if (
        !span.isRecording() &&
        !isSpanContextValid(span.spanContext()) &&
        propagation.getBaggage(parent) === undefined
      ) {
        return undefined;
      }
      if (span.isRecording()) span.setAttributes(sendAttributes(message, operation));
      const carrier: IpcMetadata = {};
      propagators().inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
      return new SendScope(span, parent, hasKeys(carrier) ? carrier : undefined);
    },
    receive(ctx: IpcContext): IpcReceiveScope | undefined {
      const metadata = ctx.getMetadata();
      if (recordsNothing(provider) && !hasKeys(metadata)) return undefined;
      const parent = propagators().extract(ROOT_CONTEXT, metadata, defaultTextMapGetter);
      const span = tracer.startSpan(
        `${OPERATION_TYPE_PROCESS} ${ctx.getPattern()}`,
        CONSUMER,
        parent,
      );
      // Nothing came with the message and nothing records: the handler runs as if untraced.
      if (!span.isRecording() && parent === ROOT_CONTEXT) return undefined;
      if (span.isRecording()) span.setAttributes(receiveAttributes(ctx));
      return new ReceiveScope(span, trace.setSpan(parent, span));
    },
  };
}

class SendScope implements IpcSendScope {
  constructor(
    private readonly span: Span,
    /** The context the message was sent from: responses are handed over in it. */
    private readonly parent: Context,
    readonly metadata: IpcMetadata | undefined,
  ) {}

  run<T>(fn: () => T): T {
    return context.with(this.parent, fn);
  }

  end(error?: unknown): void {
    endSpan(this.span, error);
  }
}

class ReceiveScope implements IpcReceiveScope {
  constructor(
    private readonly span: Span,
    private readonly active: Context,
  ) {}

  run<T>(fn: () => T): T {
    return context.with(this.active, fn);
  }

  end(error?: unknown): void {
    endSpan(this.span, error);
  }
}

function sendAttributes(message: IpcOutgoingMessage, operation: string): SpanAttributes {
  const attributes: SpanAttributes = {
    [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE_SEND,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_DESTINATION_NAME]: message.pattern,
    [ATTR_IPC_CHANNEL]: message.channel,
    [ATTR_IPC_TARGET]: String(message.target ?? 'any'),
  };
  if (message.self !== undefined) attributes[ATTR_MESSAGING_CLIENT_ID] = String(message.self);
  return attributes;
}

function receiveAttributes(ctx: IpcContext): SpanAttributes {
  const channel = ctx.getChannel();
  const attributes: SpanAttributes = {
    [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE_PROCESS,
    [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_TYPE_PROCESS,
    [ATTR_MESSAGING_DESTINATION_NAME]: ctx.getPattern(),
    [ATTR_IPC_CHANNEL]: channel.name,
    [ATTR_IPC_SENDER]: ctx.getSender(),
  };
  const id = ctx.getRequestId();
  if (id !== undefined) attributes[ATTR_MESSAGING_MESSAGE_ID] = id;
  if (channel.id !== undefined) attributes[ATTR_MESSAGING_CLIENT_ID] = String(channel.id);
  return attributes;
}

function endSpan(span: Span, error: unknown): void {
  if (error !== undefined && span.isRecording()) {
    const isError = error instanceof Error;
    span.setAttribute(ATTR_ERROR_TYPE, isError ? error.constructor.name : ERROR_TYPE_OTHER);
    span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
    if (isError) span.recordException(error);
  }
  span.end();
}

/** The message of an Error, or of a remote handler's `{ status, message }` error packet. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

function hasKeys(carrier: IpcMetadata): boolean {
  for (const _ in carrier) return true;
  return false;
}
