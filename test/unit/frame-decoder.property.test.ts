import fc from 'fast-check';
import { FrameTooLargeError, MalformedFrameError } from '../../src/channel/errors.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import { FrameType, HEADER_SIZE, MIN_LENGTH, writeHeader } from '../../src/channel/wire/frame.js';

/**
 * Properties of the decoder over generated inputs. Seeded and bounded, so a run is fast and a
 * failure prints a seed and a shrunk counterexample that replays exactly.
 */
const RUNS = { seed: 0x1c0ffee, numRuns: 300 };
const MAX = 4096;

function frame(seq: number, type: number, payload: Uint8Array): Buffer {
  const f = Buffer.alloc(HEADER_SIZE + payload.length);
  writeHeader(f, type, 0, 2, 0, 7, seq);
  f.set(payload, HEADER_SIZE);
  return f;
}

/** Valid frames whose total size stays within MAX. */
const frames = fc
  .array(
    fc.record({
      type: fc.constantFrom(FrameType.Message, FrameType.Event, FrameType.Receipt, FrameType.Join),
      payload: fc.uint8Array({ maxLength: MAX - HEADER_SIZE }),
    }),
    { maxLength: 40 },
  )
  .map((specs) => specs.map((s, i) => frame(i + 1, s.type, s.payload)));

/** Splits `stream` at the given fractions of its length (any number of cuts, empty chunks too). */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = cuts.map((c) => Math.floor(c * stream.length)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(stream.subarray(from, p));
    from = p;
  }
  chunks.push(stream.subarray(from));
  return chunks;
}

/** The largest buffer the decoder holds for a frame in progress (private, read for the limit). */
function gathering(d: FrameDecoder): number {
  return (d as unknown as { partial: Buffer | undefined }).partial?.length ?? 0;
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 });

test('any split of valid frames into chunks decodes to the same frames, in order', () => {
  fc.assert(
    fc.property(frames, cutsArb, (valid, cuts) => {
      const d = new FrameDecoder(MAX);
      const out: Buffer[] = [];
      for (const chunk of split(Buffer.concat(valid), cuts)) out.push(...d.push(chunk));
      expect(d.error).toBeUndefined();
      expect(d.bufferedBytes).toBe(0);
      expect(out).toHaveLength(valid.length);
      out.forEach((f, i) => expect(f.equals(valid[i]!)).toBe(true));
    }),
    RUNS,
  );
});

test('random bytes in random chunks never throw, never allocate past maxFrameBytes, and either stop at a typed error or yield well-formed frames', () => {
  const chunks = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 });
  fc.assert(
    fc.property(chunks, fc.integer({ min: MIN_LENGTH + 4, max: MAX }), (input, limit) => {
      const d = new FrameDecoder(limit);
      const out: Buffer[] = [];
      let fed = 0;
      for (const chunk of input) {
        out.push(...d.push(Buffer.from(chunk)));
        if (d.error === undefined) fed += chunk.length;
        expect(gathering(d)).toBeLessThanOrEqual(limit);
        expect(d.bufferedBytes).toBeLessThanOrEqual(limit);
      }
      for (const f of out) {
        expect(f.length).toBeLessThanOrEqual(limit);
        expect(f.length).toBeGreaterThanOrEqual(HEADER_SIZE);
        expect(f.readUInt32LE(0)).toBe(f.length - 4);
      }
      if (d.error !== undefined) {
        expect(
          d.error instanceof FrameTooLargeError || d.error instanceof MalformedFrameError,
        ).toBe(true);
        expect(typeof d.error.code).toBe('string');
        expect(d.push(Buffer.from(input.at(-1) ?? []))).toEqual([]);
      } else {
        // No fault: every byte is in a returned frame or waits as the start of the next one.
        const framed = out.reduce((n, f) => n + f.length, 0);
        expect(framed + d.bufferedBytes).toBe(fed);
      }
    }),
    RUNS,
  );
});

/** The decoder's own rule, restated: printable ASCII, tab, CR or LF where the length belongs. */
function looksLikeText(prefix: Buffer): boolean {
  return [...prefix].every((b) => (b >= 0x20 && b <= 0x7e) || b === 9 || b === 10 || b === 13);
}

test('valid frames followed by garbage: the valid ones come out, then a typed error or a wait', () => {
  const garbage = fc.uint8Array({ minLength: 4, maxLength: 64 }).filter((g) => {
    const length = Buffer.from(g).readUInt32LE(0);
    return length < MIN_LENGTH || length + 4 > MAX;
  });
  fc.assert(
    fc.property(frames, garbage, cutsArb, (valid, bad, cuts) => {
      const d = new FrameDecoder(MAX);
      const out: Buffer[] = [];
      for (const chunk of split(Buffer.concat([...valid, bad]), cuts)) out.push(...d.push(chunk));
      expect(out).toHaveLength(valid.length);
      out.forEach((f, i) => expect(f.equals(valid[i]!)).toBe(true));
      const prefix = Buffer.from(bad).subarray(0, 4);
      expect(d.error).toBeInstanceOf(
        prefix.readUInt32LE(0) < MIN_LENGTH || looksLikeText(prefix)
          ? MalformedFrameError
          : FrameTooLargeError,
      );
    }),
    RUNS,
  );
});

test('a length prefix over the limit is refused before any bytes of the body are gathered', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: MAX - 3, max: 0xffffffff }),
      fc.integer({ min: 1, max: 4 }),
      (length, firstPart) => {
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(length, 0);
        const d = new FrameDecoder(MAX);
        d.push(prefix.subarray(0, firstPart));
        d.push(prefix.subarray(firstPart));
        expect(d.error).toBeInstanceOf(
          looksLikeText(prefix) ? MalformedFrameError : FrameTooLargeError,
        );
        expect(gathering(d)).toBe(0);
      },
    ),
    RUNS,
  );
});
