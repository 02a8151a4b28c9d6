import { deserialize, serialize } from 'node:v8';
import { InvalidOptionError } from '../errors.js';

/**
 * Turns values into payload bytes and back. Every process of a channel must use the same codec;
 * the hub checks the codec `name` when a peer joins. The hub itself never calls a codec.
 */
export interface Codec {
  /** Identifies the codec in the handshake; peers with different names cannot join. */
  readonly name: string;
  /** Encodes a value. A string is written as UTF-8 (saves a copy for text codecs). */
  encode(value: unknown): Uint8Array | string;
  /** Decodes bytes produced by `encode`. The buffer is only valid during the call. */
  decode(bytes: Buffer): unknown;
}

/** The names accepted by the `codec` option, besides a custom Codec object. */
export type CodecName = 'json' | 'v8';

function reviveBuffers(_key: string, value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data);
  }
  return value;
}

/**
 * JSON, with Buffers restored on the way in (`Buffer#toJSON` gives `{type:'Buffer', data}`).
 * The reviver only runs when the text mentions a Buffer, because a reviver makes
 * `JSON.parse` several times slower. `undefined` travels as an empty payload.
 */
export const jsonCodec: Codec = {
  name: 'json',
  encode(value: unknown): string {
    return JSON.stringify(value) ?? '';
  },
  decode(bytes: Buffer): unknown {
    return decodeJsonAt(bytes, 0);
  },
};

/**
 * The JSON codec's decode of `buf` from `start` on: the channel reads payloads in place, without
 * a Buffer view per message.
 */
export function decodeJsonAt(buf: Buffer, start: number): unknown {
  if (start >= buf.length) return undefined;
  const text = buf.toString('utf8', start);
  return text.includes('"Buffer"') ? JSON.parse(text, reviveBuffers) : JSON.parse(text);
}

/**
 * V8 structured clone: Date, Map, Set, RegExp, BigInt, Buffer, typed arrays, cycles. About three
 * times slower than JSON for small objects on Node 20, so not the default.
 */
export const v8Codec: Codec = {
  name: 'v8',
  encode(value: unknown): Uint8Array {
    return serialize(value);
  },
  decode(bytes: Buffer): unknown {
    // Copy: deserialized typed arrays are views of their input, and the input is a view of a
    // socket read; a user keeping a 5-byte Buffer must not pin a 64 KiB chunk.
    return deserialize(Buffer.from(bytes));
  },
};

export function resolveCodec(codec: CodecName | Codec | undefined): Codec {
  if (codec === undefined || codec === 'json') return jsonCodec;
  if (codec === 'v8') return v8Codec;
  if (
    typeof codec === 'object' &&
    codec !== null &&
    typeof codec.encode === 'function' &&
    typeof codec.decode === 'function'
  ) {
    if (typeof codec.name !== 'string' || codec.name.length === 0) {
      throw new InvalidOptionError(
        "A custom codec needs a non-empty 'name' so the hub can check that every peer uses the same one.",
      );
    }
    return codec;
  }
  throw new InvalidOptionError(
    `Unknown codec ${JSON.stringify(codec)}: use 'json', 'v8', or an object { name, encode, decode }.`,
  );
}
