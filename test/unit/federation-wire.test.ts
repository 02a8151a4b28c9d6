import { MalformedFrameError } from '../../src/channel/errors.js';
import {
  BRIDGE_ID,
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  MAX_PEER_ID,
  TARGET_ALL,
  isDataType,
  readSeq,
  readTarget,
  writeHeader,
} from '../../src/channel/wire/frame.js';
import { federatedSize, readFederated, writeFederated } from '../../src/channel/wire/federated.js';

function event(name: string, args: string): Buffer {
  const n = Buffer.byteLength(name);
  const frame = Buffer.alloc(HEADER_SIZE + n + Buffer.byteLength(args));
  writeHeader(frame, FrameType.Event, 0, 0, n, 0, 0);
  frame.write(name, HEADER_SIZE);
  frame.write(args, HEADER_SIZE + n);
  return frame;
}

test('the bridge id sits between the peer ids and the broadcast targets', () => {
  expect(MAX_PEER_ID).toBe(0xfffc);
  expect(BRIDGE_ID).toBe(0xfffd);
  expect(FrameFlag.HostOnly).toBe(4);
  expect(FrameType.Federated).toBe(34);
  expect(isDataType(FrameType.Federated)).toBe(true);
});

test('a Federated frame round-trips its header, address and inner frame', () => {
  const inner = event('tick', '[1,"é"]');
  for (const [host, peer, incarnation, seq] of [
    ['B', 3, 0, 0],
    ['hôte-ü', MAX_PEER_ID, 0xffffffff, Number.MAX_SAFE_INTEGER],
    ['x'.repeat(255), 1, 7, 2 ** 32 + 5],
  ] as const) {
    const frame = writeFederated(
      { target: BRIDGE_ID, flags: FrameFlag.NoHold, incarnation: 9, seq: 42 },
      { host, peer, incarnation, seq },
      inner,
    );
    expect(frame.length).toBe(federatedSize(host, inner.length));
    expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
    expect(frame[4]).toBe(FrameType.Federated);
    expect(frame[5]).toBe(FrameFlag.NoHold);
    expect(readTarget(frame)).toBe(BRIDGE_ID);
    expect(readSeq(frame)).toBe(42);
    const read = readFederated(frame);
    expect({ ...read, inner: undefined }).toEqual({
      host,
      peer,
      incarnation,
      seq,
      inner: undefined,
    });
    expect(Buffer.compare(read.inner, inner)).toBe(0);
  }
});

test('host names outside 1..255 UTF-8 bytes cannot be written', () => {
  const inner = event('e', '[]');
  const header = { target: TARGET_ALL, flags: 0, incarnation: 0, seq: 1 };
  for (const host of ['', 'x'.repeat(256), 'é'.repeat(128)]) {
    expect(() => writeFederated(header, { host, peer: 1, incarnation: 0, seq: 0 }, inner)).toThrow(
      RangeError,
    );
  }
});

test('every malformed Federated frame is a MalformedFrameError, never a RangeError', () => {
  const good = writeFederated(
    { target: 2, flags: 0, incarnation: 0, seq: 1 },
    { host: 'host-a', peer: 2, incarnation: 5, seq: 8 },
    event('ev', '[]'),
  );
  const bad: Buffer[] = [];
  // Every truncation, with the length field made consistent.
  for (let n = HEADER_SIZE; n < good.length; n++) {
    const cut = Buffer.from(good.subarray(0, n));
    cut.writeUInt32LE(n - 4, 0);
    bad.push(cut);
  }
  const zeroHost = Buffer.from(good);
  zeroHost[HEADER_SIZE] = 0;
  bad.push(zeroHost);
  const longHost = Buffer.from(good);
  longHost[HEADER_SIZE] = 200;
  bad.push(longHost);
  const badUtf8 = Buffer.from(good);
  badUtf8[HEADER_SIZE + 1] = 0xff;
  bad.push(badUtf8);
  const innerType = Buffer.from(good);
  innerType[HEADER_SIZE + 1 + 6 + 14 + 4] = FrameType.Federated;
  bad.push(innerType);
  const innerLength = Buffer.from(good);
  innerLength.writeUInt32LE(999, HEADER_SIZE + 1 + 6 + 14);
  bad.push(innerLength);
  const nameLength = Buffer.from(good);
  nameLength.writeUInt16LE(500, HEADER_SIZE + 1 + 6 + 14 + 10);
  bad.push(nameLength);
  const bigSeq = Buffer.from(good);
  bigSeq.writeUInt32LE(0xffffffff, HEADER_SIZE + 1 + 6 + 6);
  bad.push(bigSeq);
  const notFederated = Buffer.from(good);
  notFederated[4] = FrameType.Message;
  bad.push(notFederated);
  for (const frame of bad) expect(() => readFederated(frame)).toThrow(MalformedFrameError);
  expect(bad).toHaveLength(good.length - HEADER_SIZE + 8);
});
