import { deserialize, serialize } from 'node:v8';

/**
 * How a cluster message travels as channel event arguments. Plain data goes as it is, through
 * the channel's codec; data that holds binary (a Buffer, an ArrayBuffer, a typed array) goes as
 * a V8 structured clone in base64, because the default JSON codec would turn an ArrayBuffer or a
 * Uint8Array into a plain object and the clients would receive something else than was emitted.
 */
export type Payload = [plain: unknown] | [clone: string, binary: true];

/** Deeper nesting than this is not searched for binary (socket.io's own check has no limit). */
const MAX_DEPTH = 32;

/** Whether `value` holds a Buffer, an ArrayBuffer or a typed array anywhere inside. */
export function hasBinary(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (hasBinary(item, depth + 1)) return true;
    return false;
  }
  // toJSON wins over the fields when JSON encodes (a Date, a Mongo id): look at what it gives.
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return false;
  for (const key in value) {
    if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** The event arguments that carry `message`. */
export function encodePayload(message: unknown): Payload {
  return hasBinary(message) ? [serialize(message).toString('base64'), true] : [message];
}

/** The message `args` (as `encodePayload` made them) carry. */
export function decodePayload(args: unknown[]): unknown {
  if (args[1] === true && typeof args[0] === 'string') {
    return deserialize(Buffer.from(args[0], 'base64'));
  }
  return args[0];
}
