import { FrameSlab, coalesce } from '../../src/channel/wire/frame-slab.js';

test('frames allocated in a row are adjacent, and coalesce turns them into one view with the same bytes', () => {
  const slab = new FrameSlab();
  const frames = [3, 10, 1, 200].map((n, i) => slab.alloc(n).fill(i + 1));
  const runs = coalesce(frames);
  expect(runs).toHaveLength(1);
  expect(runs[0]!.equals(Buffer.concat(frames))).toBe(true);
});

test('allocWithText writes UTF-8 of any width exactly, leaving the head for the caller', () => {
  const slab = new FrameSlab();
  for (const text of ['', 'ascii', 'été', '日本語', '𝄞 clef', '{"s":"' + 'x'.repeat(5000) + '"}']) {
    const frame = slab.allocWithText(7, text);
    expect(frame.length).toBe(7 + Buffer.byteLength(text));
    expect(frame.toString('utf8', 7)).toBe(text);
  }
});

test('a slab that is too full starts a new one; big frames get their own buffer', () => {
  const slab = new FrameSlab();
  const a = slab.alloc(10_000);
  const b = slab.alloc(10_000);
  expect(b.buffer).toBe(a.buffer);
  const big = slab.alloc(100_000);
  expect(big.buffer).not.toBe(a.buffer);
  expect(big.length).toBe(100_000);
  const many = Array.from({ length: 10 }, () => slab.alloc(10_000));
  expect(new Set(many.map((f) => f.buffer)).size).toBeGreaterThan(1); // crossed into new slabs
  const runs = coalesce(many);
  expect(Buffer.concat(runs).equals(Buffer.concat(many))).toBe(true);
});

test('coalesce keeps order and leaves non-adjacent buffers apart', () => {
  const x = Buffer.from('abc');
  const y = Buffer.from('def');
  const pool = Buffer.from('0123456789');
  const parts = [pool.subarray(0, 3), pool.subarray(3, 5), x, pool.subarray(6, 8), y];
  const runs = coalesce(parts);
  expect(runs.map((r) => r.toString())).toEqual(['01234', 'abc', '67', 'def']);
  expect(coalesce([])).toEqual([]);
});
