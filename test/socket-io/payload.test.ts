import { Buffer } from 'node:buffer';
import { Server } from 'socket.io';
import { Channel, InvalidOptionError } from '../../src/index.js';
import { decodePayload, encodePayload, hasBinary } from '../../src/socket-io/cluster-payload.js';
import { createAdapter } from '../../src/socket-io/index.js';
import { thrown } from '../helpers/thrown.js';

test('binary is found wherever it sits, and nothing else counts as binary', () => {
  expect(hasBinary({ a: [1, { b: Buffer.from('x') }] })).toBe(true);
  expect(hasBinary([new ArrayBuffer(2)])).toBe(true);
  expect(hasBinary({ deep: { deeper: [Uint16Array.of(1)] } })).toBe(true);
  expect(hasBinary({ a: [1, 'two', null, { b: true }], d: new Date(0) })).toBe(false);
  expect(hasBinary('text')).toBe(false);
});

test('plain messages travel as they are; binary ones as a structured clone that comes back equal', () => {
  const plain = { type: 3, data: { packet: { data: ['ev', 1, 'two'] } } };
  expect(encodePayload(plain)).toEqual([plain]);
  expect(decodePayload(encodePayload(plain))).toBe(plain);

  const binary = { packet: ['ev', Buffer.from('buf'), Uint8Array.of(1, 2), new ArrayBuffer(3)] };
  const payload = encodePayload(binary);
  expect(payload).toEqual([expect.any(String), true]);
  // What the JSON codec makes of the arguments changes nothing.
  const decoded = decodePayload(JSON.parse(JSON.stringify(payload)) as unknown[]);
  expect(decoded).toEqual(binary);
  expect(Buffer.isBuffer((decoded as typeof binary).packet[1])).toBe(true);
});

test("socket.io's connectionStateRecovery is refused with a typed error that says what to do", () => {
  const channel = new Channel({ name: 'never-connected' });
  const error = thrown(
    () => new Server({ connectionStateRecovery: {}, adapter: createAdapter(channel) }),
  );
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error.message).toMatch(/Remove the connectionStateRecovery option\.$/);
});
