import { FrameTooLargeError, MalformedFrameError } from '../../src/channel/errors.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import { FrameType, HEADER_SIZE, readSeq, writeHeader } from '../../src/channel/wire/frame.js';

function frame(seq: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const f = Buffer.alloc(HEADER_SIZE + body.length);
  writeHeader(f, FrameType.Message, 0, 2, 0, 7, seq);
  body.copy(f, HEADER_SIZE);
  return f;
}

/** A small deterministic PRNG, so a failing chunking can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('a frame split at every possible byte position decodes to the same bytes', () => {
  const f = frame(42, 'hello, frames');
  for (let cut = 1; cut < f.length; cut++) {
    const d = new FrameDecoder(1024);
    expect(d.push(f.subarray(0, cut))).toEqual([]);
    expect(d.bufferedBytes).toBe(cut);
    const out = d.push(f.subarray(cut));
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(f)).toBe(true);
    expect(d.bufferedBytes).toBe(0);
    expect(d.error).toBeUndefined();
  }
});

test('one byte at a time works, including the 4-byte length prefix', () => {
  const frames = [frame(1, ''), frame(2, 'x'), frame(3, Buffer.alloc(300, 7))];
  const stream = Buffer.concat(frames);
  const d = new FrameDecoder(1024);
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
  expect(out.map((f) => readSeq(f))).toEqual([1, 2, 3]);
  out.forEach((f, i) => expect(f.equals(frames[i]!)).toBe(true));
});

test('random chunkings of 500 frames of random sizes always give the same frames in order', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rand = rng(seed);
    const frames = Array.from({ length: 500 }, (_, i) =>
      frame(i + 1, Buffer.alloc(Math.floor(rand() * 700), i)),
    );
    const stream = Buffer.concat(frames);
    const d = new FrameDecoder(4096);
    const out: Buffer[] = [];
    for (let off = 0; off < stream.length;) {
      const n = 1 + Math.floor(rand() * 2000);
      out.push(...d.push(stream.subarray(off, off + n)));
      off += n;
    }
    expect(out).toHaveLength(500);
    out.forEach((f, i) => expect(f.equals(frames[i]!)).toBe(true));
  }
});

test('whole frames inside one chunk are views of it (no copy)', () => {
  const chunk = Buffer.concat([frame(1, 'a'), frame(2, 'b')]);
  const out = new FrameDecoder(1024).push(chunk);
  expect(out[0]!.buffer).toBe(chunk.buffer);
  expect(out[1]!.byteOffset).toBe(chunk.byteOffset + out[0]!.length);
});

test('a length below the header is malformed; frames before it are still returned; nothing after', () => {
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(5, 0);
  const d = new FrameDecoder(1024);
  const out = d.push(Buffer.concat([frame(1, 'ok'), bad, frame(2, 'lost')]));
  expect(out.map(readSeq)).toEqual([1]);
  expect(d.error).toBeInstanceOf(MalformedFrameError);
  expect(d.error!.message).toContain('below the 20-byte header');
  expect(d.push(frame(3, 'later'))).toEqual([]);
});

test('an oversized length is refused from the length prefix alone, before any allocation', () => {
  const d = new FrameDecoder(1024);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(0xfffffff0, 0);
  expect(d.push(prefix)).toEqual([]);
  expect(d.error).toBeInstanceOf(FrameTooLargeError);
  expect(d.error!.message).toContain('over maxFrameBytes (1024)');
  expect(d.bufferedBytes).toBe(0);
});

test('an oversized length split across chunks is caught once its prefix completes', () => {
  const d = new FrameDecoder(1024);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(5000, 0);
  expect(d.push(prefix.subarray(0, 2))).toEqual([]);
  expect(d.error).toBeUndefined();
  expect(d.push(prefix.subarray(2))).toEqual([]);
  expect(d.error).toBeInstanceOf(FrameTooLargeError);
});

test('text where a length belongs (an HTTP request) is malformed, and the error quotes it', () => {
  const request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  const whole = new FrameDecoder(1024);
  expect(whole.push(Buffer.from(request))).toEqual([]);
  expect(whole.error).toBeInstanceOf(MalformedFrameError);
  expect(whole.error!.message).toBe(
    'Malformed frame (the connection sent text, not frames of this protocol: "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"); ' +
      'the connection that sent it was closed. Only nestjs-ipc-channel peers may connect to the channel socket.',
  );
  // The prefix split over two reads: the quote still starts at the first byte.
  const split = new FrameDecoder(1024);
  expect(split.push(Buffer.from('HT'))).toEqual([]);
  expect(split.error).toBeUndefined();
  expect(split.push(Buffer.from('TP/1.1 400 Bad Request\r\n'))).toEqual([]);
  expect(split.error).toBeInstanceOf(MalformedFrameError);
  expect(split.error!.message).toContain('"HTTP/1.1 400 Bad Request\\r\\n"');
  expect(split.bufferedBytes).toBe(0);
});

test('a frame exactly at the limit passes; one byte more fails', () => {
  const limit = 1024;
  const ok = frame(1, Buffer.alloc(limit - HEADER_SIZE));
  expect(new FrameDecoder(limit).push(ok)).toHaveLength(1);
  const d = new FrameDecoder(limit);
  d.push(frame(1, Buffer.alloc(limit - HEADER_SIZE + 1)));
  expect(d.error).toBeInstanceOf(FrameTooLargeError);
});

test('fuzz: random bytes never throw out of push(), and never hold more than the limit', () => {
  for (let seed = 100; seed < 400; seed++) {
    const rand = rng(seed);
    const d = new FrameDecoder(2048);
    for (let k = 0; k < 20 && d.error === undefined; k++) {
      const chunk = Buffer.from(
        Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)),
      );
      expect(() => d.push(chunk)).not.toThrow();
      expect(d.bufferedBytes).toBeLessThanOrEqual(2048);
    }
  }
});
