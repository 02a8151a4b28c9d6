import { SpanStatusCode } from '@opentelemetry/api';
import type { SpanRecord } from '../fixtures/tracing-sdk.js';

/** The one span named `name` in `spans` (fails when there is none or several). */
export function only(spans: SpanRecord[], name: string): SpanRecord {
  const found = spans.filter((s) => s.name === name);
  if (found.length !== 1) {
    const names = spans.map((s) => s.name).join(', ');
    throw new Error(`expected one span '${name}', found ${found.length} among [${names}]`);
  }
  return found[0]!;
}

export const UNSET = { code: SpanStatusCode.UNSET };

/** A producer span's attributes, as enableIpcTracing() sets them. */
export function sendAttributes(
  operation: 'emit' | 'send' | 'gather',
  pattern: string,
  channel: string,
  target: string,
  self: number,
): Record<string, unknown> {
  return {
    'messaging.system.name': 'nestjs-ipc-channel',
    'messaging.system': 'nestjs-ipc-channel',
    'messaging.operation.type': 'send',
    'messaging.operation.name': operation,
    'messaging.destination.name': pattern,
    'messaging.client.id': String(self),
    'nestjs_ipc.channel': channel,
    'nestjs_ipc.target': target,
  };
}

/** A consumer span's attributes. */
export function processAttributes(
  pattern: string,
  channel: string,
  sender: number,
  self: number,
  requestId?: string,
): Record<string, unknown> {
  return {
    'messaging.system.name': 'nestjs-ipc-channel',
    'messaging.system': 'nestjs-ipc-channel',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': pattern,
    'messaging.client.id': String(self),
    'nestjs_ipc.channel': channel,
    'nestjs_ipc.sender': sender,
    ...(requestId === undefined ? {} : { 'messaging.message.id': requestId }),
  };
}
