import { BatchAuth, TRAILER_BYTES } from '../../src/channel/federation/batch-auth.js';
import { splitBatch } from '../../src/channel/federation/bridge-inbound.js';
import { MalformedFrameError } from '../../src/channel/errors.js';
import { readFederated, writeFederated } from '../../src/channel/wire/federated.js';
import {
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  TARGET_ALL,
  TARGET_OTHERS,
  readTarget,
  writeHeader,
} from '../../src/channel/wire/frame.js';

function federated(target: number, text: string): Buffer {
  const inner = Buffer.alloc(HEADER_SIZE + text.length);
  writeHeader(inner, FrameType.Message, 0, 0, 0, 0, 0);
  inner.write(text, HEADER_SIZE);
  return writeFederated(
    { target, flags: 0, incarnation: 0, seq: 0 },
    { host: 'A', peer: 2, incarnation: 3, seq: 4 },
    inner,
  );
}

test('a sealed batch opens only under the same secret and channel, and unaltered', () => {
  const body = Buffer.from('frames');
  const auth = new BatchAuth('s', 'chan');
  const sealed = auth.seal(body);
  expect(sealed.length).toBe(body.length + TRAILER_BYTES);
  expect(auth.open(sealed)).toEqual(body);
  expect(new BatchAuth('s', 'chan').open(sealed)).toEqual(body);
  expect(new BatchAuth('t', 'chan').open(sealed)).toBeUndefined();
  expect(new BatchAuth('s', 'other').open(sealed)).toBeUndefined();
  const altered = Buffer.from(sealed);
  altered[0] ^= 1;
  expect(auth.open(altered)).toBeUndefined();
  expect(auth.open(Buffer.alloc(5))).toBeUndefined();
  expect(auth.open(body)).toBeUndefined();
});

test('without a secret, batches travel as they are', () => {
  const auth = new BatchAuth(undefined, 'chan');
  const body = Buffer.from('frames');
  expect(auth.sealed).toBe(false);
  expect(auth.seal(body)).toBe(body);
  expect(auth.open(body)).toBe(body);
});

test('a batch splits into its Federated frames; broadcasts become ALL for this host only', () => {
  const frames = splitBatch(
    Buffer.concat([
      federated(3, 'one'),
      federated(TARGET_OTHERS, 'two'),
      federated(TARGET_ALL, 'x'),
    ]),
  );
  expect(frames.map(readTarget)).toEqual([3, TARGET_ALL, TARGET_ALL]);
  expect(frames.map((f) => f[5]! & FrameFlag.HostOnly)).toEqual([0, 4, 4]);
  expect(frames.map((f) => readFederated(f).inner.toString('utf8', HEADER_SIZE))).toEqual([
    'one',
    'two',
    'x',
  ]);
  expect(splitBatch(Buffer.alloc(0))).toEqual([]);
});

test('a batch that does not parse into valid Federated frames is a MalformedFrameError', () => {
  const good = federated(3, 'one');
  const plain = Buffer.alloc(HEADER_SIZE);
  writeHeader(plain, FrameType.Message, 0, 3, 0, 0, 0);
  const cases = [
    good.subarray(0, 3),
    good.subarray(0, good.length - 1),
    Buffer.concat([good, Buffer.from([1, 0])]),
    plain,
    federated(0, 'zero'),
    federated(0xfffd, 'bridge'),
  ];
  for (const batch of cases) expect(() => splitBatch(batch)).toThrow(MalformedFrameError);
});
