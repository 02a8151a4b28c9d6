import type { Channel, ChannelOptions, Codec } from '../../src/index.js';
import { sandbox } from '../helpers/sandbox.js';

const box = sandbox({ name: 'codec' });

/** Two channels in this process: the first hosts the hub, the second talks to it over the socket. */
async function pair(options: ChannelOptions): Promise<[Channel, Channel]> {
  const a = box.channel(options);
  const b = box.channel(options);
  await a.connect();
  await b.connect();
  expect(a.isHub).toBe(true);
  return [a, b];
}

function next<T extends unknown[]>(ch: Channel, event: string): Promise<T> {
  return new Promise((resolve) => ch.once(event, (...args: unknown[]) => resolve(args as T)));
}

test('json: plain data and Buffers survive; undefined and null arguments keep their places', async () => {
  const [a, b] = await pair({});
  const got = next<[number, unknown, unknown, unknown, unknown]>(a, 'blob');
  b.to(1).emit('blob', { s: 'é', n: [1, 2.5], t: true }, Buffer.from([0, 1, 255]), undefined, null);
  const [sender, obj, buf, u, n] = await got;
  expect(sender).toBe(2);
  expect(obj).toEqual({ s: 'é', n: [1, 2.5], t: true });
  expect(Buffer.isBuffer(buf)).toBe(true);
  expect([...(buf as Buffer)]).toEqual([0, 1, 255]);
  expect(u).toBeNull(); // JSON turns undefined array members into null
  expect(n).toBeNull();
  const msg = next<[number, unknown]>(a, 'message');
  b.to(1).send(undefined);
  expect(await msg).toEqual([2, undefined]);
});

test('v8: Date, Map, Set, BigInt, RegExp, Buffer, typed arrays and cycles survive', async () => {
  const [a, b] = await pair({ codec: 'v8' });
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const value = {
    when: new Date(1_700_000_000_000),
    map: new Map<string, number>([['a', 1]]),
    set: new Set([1, 2]),
    big: 2n ** 70n,
    re: /x+/gi,
    buf: Buffer.from('hi'),
    f64: new Float64Array([1.5, -2]),
    u8: new Uint8Array([9]),
    cyclic,
  };
  const got = next<[number, typeof value]>(b, 'message');
  a.to(2).send(value);
  const [sender, v] = await got;
  expect(sender).toBe(1);
  expect(v.when).toEqual(value.when);
  expect(v.map).toEqual(value.map);
  expect(v.set).toEqual(value.set);
  expect(v.big).toBe(2n ** 70n);
  expect(v.re).toEqual(/x+/gi);
  expect(Buffer.isBuffer(v.buf)).toBe(true);
  expect(v.buf.toString()).toBe('hi');
  expect(v.f64).toEqual(new Float64Array([1.5, -2]));
  expect(v.u8).toEqual(new Uint8Array([9]));
  expect(v.cyclic.self).toBe(v.cyclic);
});

test('a custom codec is used on both ends and named in the handshake', async () => {
  const calls = { encode: 0, decode: 0 };
  const upper: Codec = {
    name: 'upper-json',
    encode: (v) => {
      calls.encode++;
      return JSON.stringify(v).toUpperCase();
    },
    decode: (bytes) => {
      calls.decode++;
      return JSON.parse(bytes.toString());
    },
  };
  const [a, b] = await pair({ codec: upper });
  const got = next<[number, string]>(a, 'message');
  b.to(1).send('quiet');
  expect(await got).toEqual([2, 'QUIET']);
  expect(calls).toEqual({ encode: 1, decode: 1 });
});
