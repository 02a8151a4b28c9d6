import { FrameTooLargeError } from '../../src/channel/errors.js';
import {
  FrameDecoder,
  MAX_JOIN_BYTES,
  PRE_JOIN_FRAME_BYTES,
} from '../../src/channel/wire/frame-decoder.js';
import { FrameType, OFF_TYPE, writeHeader } from '../../src/channel/wire/frame.js';

/** A frame of `type` that is `size` bytes long in all. */
function frameOf(type: FrameType, size: number): Buffer {
  const f = Buffer.alloc(size);
  writeHeader(f, type, 0, 0, 0, 0, 0);
  f.writeUInt32LE(size - 4, 0);
  return f;
}

const MiB = 1024 * 1024;

test('before Join, a frame other than Join is held up to 4 KiB and refused above, before it is buffered', () => {
  const fits = new FrameDecoder(64 * MiB, true);
  const leave = frameOf(FrameType.Leave, PRE_JOIN_FRAME_BYTES);
  expect(fits.push(leave.subarray(0, PRE_JOIN_FRAME_BYTES - 1))).toEqual([]);
  expect(fits.bufferedBytes).toBe(PRE_JOIN_FRAME_BYTES - 1);
  expect(fits.error).toBeUndefined();

  const over = new FrameDecoder(64 * MiB, true);
  // The 64 MiB a stranger announces is refused on its 5-byte head: nothing is allocated.
  over.push(frameOf(FrameType.Leave, PRE_JOIN_FRAME_BYTES + 1).subarray(0, 5));
  expect(over.error).toBeInstanceOf(FrameTooLargeError);
  expect(over.error!.message).toContain(
    `over the ${PRE_JOIN_FRAME_BYTES} bytes allowed before a Join`,
  );
  expect(over.bufferedBytes).toBe(0);
  const huge = new FrameDecoder(64 * MiB, true);
  const head = Buffer.alloc(5);
  head.writeUInt32LE(64 * MiB - 5, 0);
  head[OFF_TYPE] = FrameType.Message;
  huge.push(head);
  expect(huge.error).toBeInstanceOf(FrameTooLargeError);
  expect(huge.bufferedBytes).toBe(0);
});

test('a Join may be up to 64 KiB, judged on its type byte even when the head is split', () => {
  const join = frameOf(FrameType.Join, MAX_JOIN_BYTES);
  const d = new FrameDecoder(64 * MiB, true);
  for (let i = 0; i < 5; i++) expect(d.push(join.subarray(i, i + 1))).toEqual([]);
  expect(d.bufferedBytes).toBe(5);
  const out = d.push(join.subarray(5));
  expect(out).toHaveLength(1);
  expect(out[0]!.equals(join)).toBe(true);
  expect(d.error).toBeUndefined();

  const tooBig = new FrameDecoder(64 * MiB, true);
  tooBig.push(frameOf(FrameType.Join, MAX_JOIN_BYTES + 1).subarray(0, 4));
  expect(tooBig.error).toBeUndefined(); // the type byte is not in yet
  tooBig.push(Buffer.from([FrameType.Join]));
  expect(tooBig.error).toBeInstanceOf(FrameTooLargeError);
  expect(tooBig.error!.message).toContain("too large a 'meta' option");
});

test('after the first Join the full maxFrameBytes applies, even to frames in the same chunk', () => {
  const d = new FrameDecoder(MiB, true);
  const join = frameOf(FrameType.Join, 200);
  const big = frameOf(FrameType.Message, 512 * 1024);
  const out = d.push(Buffer.concat([join, big]));
  expect(out.map((f) => f.length)).toEqual([200, 512 * 1024]);
  expect(d.beforeJoin).toBe(false);
  expect(d.error).toBeUndefined();
  d.push(frameOf(FrameType.Message, MiB + 1).subarray(0, 4));
  expect(d.error).toBeInstanceOf(FrameTooLargeError);
  expect(d.error!.message).toContain('over maxFrameBytes');
});

test('without the pre-join mode a decoder judges frames by maxFrameBytes alone', () => {
  const d = new FrameDecoder(MiB);
  const out = d.push(frameOf(FrameType.Leave, 64 * 1024));
  expect(out).toHaveLength(1);
  expect(d.error).toBeUndefined();
});
