import {
  FrameType,
  HEADER_SIZE,
  forEachInRanges,
  rangesFrame,
  readIncarnation,
  readSeq,
  readTarget,
  writeHeader,
} from '../../src/channel/wire/frame.js';

test('the header round-trips every field, sequences up to 2^53 - 1', () => {
  for (const seq of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    const f = Buffer.alloc(HEADER_SIZE + 3);
    writeHeader(f, FrameType.Event, 1, 0xfffe, 3, 0xdeadbeef, seq);
    expect(f.readUInt32LE(0)).toBe(f.length - 4);
    expect(f[4]).toBe(FrameType.Event);
    expect(f[5]).toBe(1);
    expect(readTarget(f)).toBe(0xfffe);
    expect(f.readUInt16LE(10)).toBe(3);
    expect(readIncarnation(f)).toBe(0xdeadbeef);
    expect(readSeq(f)).toBe(seq);
  }
});

test('ranges frames carry any set of sequences compactly', () => {
  const seqs = [5, 3, 4, 10, 11, 11, 1, 2 ** 40, 2 ** 40 + 1, 7];
  const f = rangesFrame(FrameType.Ack, [...seqs]);
  const got: number[] = [];
  forEachInRanges(f, (s) => got.push(s));
  expect(got).toEqual([...new Set(seqs)].sort((a, b) => a - b));
  // 1, 3-5, 7, 10-11, 2^40..2^40+1: five ranges of 16 bytes.
  expect(f.length).toBe(HEADER_SIZE + 5 * 16);
  const inOrder = rangesFrame(
    FrameType.Ack,
    Array.from({ length: 10_000 }, (_, i) => i + 1),
  );
  expect(inOrder.length).toBe(HEADER_SIZE + 16);
});
