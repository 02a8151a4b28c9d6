import { FrameType, HEADER_SIZE, readJson, writeHeader } from '../../src/channel/wire/frame.js';
import {
  type PeerState,
  TwoWayStream,
  hubAndPeerStreaming,
  barrier,
  received,
} from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'robust', maxFrameBytes: 1024 * 1024 }, 'file');
let hub: Proc;
let other: Proc;
let traffic: TwoWayStream;

beforeAll(async () => {
  ({ hub, other, traffic } = await hubAndPeerStreaming(box));
});

const openRaw = () => RawPeer.open('robust', box.dir);
const errorsOfHub = async () => (await received(hub)).errors;

/**
 * The two real peers still exchange traffic both ways: every number either has sent the other
 * in this file, in order, exactly once.
 */
const stillTalking = () => traffic.more(500);

test('an HTTP request gets a fault that quotes it and a closed connection; others keep talking', async () => {
  const raw = await openRaw();
  await raw.hello();
  raw.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await raw.ended;
  const fault = readJson<{ code: string; message: string }>(raw.ofType(FrameType.Fault)!);
  expect(fault.code).toBe('ERR_IPC_MALFORMED_FRAME');
  expect(fault.message).toContain(
    'the connection sent text, not frames of this protocol: "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"',
  );
  await until(async () =>
    (await errorsOfHub()).some(
      (e) => e.name === 'MalformedFrameError' && e.message.includes('GET / HTTP/1.1'),
    ),
  );
  await stillTalking();
});

test('a length below the header size is a malformed frame', async () => {
  const raw = await openRaw();
  await raw.hello();
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(3, 0);
  raw.socket.write(bad);
  await raw.ended;
  expect(readJson<{ code: string }>(raw.ofType(FrameType.Fault)!).code).toBe(
    'ERR_IPC_MALFORMED_FRAME',
  );
  await stillTalking();
});

test('an oversized length is refused before any allocation, before Join and after it', async () => {
  const raw = await openRaw();
  const hello = await raw.hello();
  expect(hello.maxFrameBytes).toBe(1024 * 1024);
  const header = Buffer.alloc(HEADER_SIZE);
  writeHeader(header, FrameType.Join, 0, 0, 0, 0, 0);
  header.writeUInt32LE(2 * 1024 * 1024, 0); // claims 2 MiB, over every limit
  raw.socket.write(header);
  await raw.ended;
  const fault = readJson<{ code: string; message: string }>(raw.ofType(FrameType.Fault)!);
  expect(fault.code).toBe('ERR_IPC_FRAME_TOO_LARGE');
  expect(fault.message).toContain('over the 65536 bytes allowed before a Join');

  const joined = await openRaw();
  await joined.hello();
  joined.join({ incarnation: 0x5eed });
  await joined.welcome();
  const data = Buffer.alloc(HEADER_SIZE);
  writeHeader(data, FrameType.Message, 0, 1, 0, 0, 1);
  data.writeUInt32LE(2 * 1024 * 1024, 0); // over the 1 MiB maxFrameBytes
  joined.socket.write(data);
  await joined.ended;
  const after = readJson<{ code: string; message: string }>(joined.ofType(FrameType.Fault)!);
  expect(after.code).toBe('ERR_IPC_FRAME_TOO_LARGE');
  expect(after.message).toContain('maxFrameBytes (1048576)');
  await stillTalking();
});

test('a truncated frame followed by the end of the connection is reported as malformed', async () => {
  const before = (await errorsOfHub()).length;
  const raw = await openRaw();
  await raw.hello();
  const partial = Buffer.alloc(14);
  partial.writeUInt32LE(100, 0);
  raw.socket.end(partial);
  await raw.ended;
  await until(async () => (await errorsOfHub()).length > before);
  const last = (await errorsOfHub()).at(-1)!;
  expect(last.name).toBe('MalformedFrameError');
  expect(last.message).toContain('unfinished frame');
  await stillTalking();
});

test('a Join for another channel name is rejected with a typed reason', async () => {
  const raw = await openRaw();
  const hello = await raw.hello();
  expect(hello.name).toBe('robust');
  raw.join({ incarnation: 7, name: 'intruder' });
  await raw.ended;
  const reject = readJson<{ reason: string; message: string }>(raw.ofType(FrameType.Reject)!);
  expect(reject.reason).toBe('name-mismatch');
  expect(reject.message).toContain("'robust'");
  expect(raw.ofType(FrameType.Welcome)).toBeUndefined();
  expect((await hub.call<PeerState>('state')).peers).toEqual([1, 2]);
});

test('data before joining, a Join that is not JSON, and an unknown frame type each close only the offender', async () => {
  const cases: [string, Buffer, string][] = [];
  const data = Buffer.alloc(HEADER_SIZE + 2);
  writeHeader(data, FrameType.Message, 0, 1, 0, 1, 1);
  cases.push(['data before join', data, 'ERR_IPC_PROTOCOL']);
  const notJson = Buffer.alloc(HEADER_SIZE + 5);
  writeHeader(notJson, FrameType.Join, 0, 0, 0, 0, 0);
  notJson.write('{oops', HEADER_SIZE);
  cases.push(['join not json', notJson, 'ERR_IPC_MALFORMED_FRAME']);
  const unknown = Buffer.alloc(HEADER_SIZE);
  writeHeader(unknown, 99, 0, 0, 0, 0, 0);
  cases.push(['unknown type', unknown, 'ERR_IPC_MALFORMED_FRAME']);
  for (const [, frame, code] of cases) {
    const raw = await openRaw();
    await raw.hello();
    raw.socket.write(frame);
    await raw.ended;
    expect(readJson<{ code: string }>(raw.ofType(FrameType.Fault)!).code).toBe(code);
  }
  await stillTalking();
});

test('a Join stating epoch 2^53 − 1 is refused; the epoch still rises past what a peer saw', async () => {
  const liar = await openRaw();
  await liar.hello();
  liar.join({ incarnation: 0xe90c, epoch: Number.MAX_SAFE_INTEGER });
  await liar.ended;
  const reject = readJson<{ reason: string; message: string }>(liar.ofType(FrameType.Reject)!);
  expect(reject.reason).toBe('invalid-epoch');
  expect(reject.message).toContain('(the clock in ms plus 2^32)');

  const epoch = (await hub.call<PeerState>('state')).epoch;
  const lagging = await openRaw();
  await lagging.hello();
  lagging.join({ incarnation: 0xe90d, epoch: epoch + 1000 });
  expect((await lagging.welcome()).epoch).toBe(epoch + 1001);
  await until(async () => (await hub.call<PeerState>('state')).epoch === epoch + 1001);
  lagging.socket.destroy();
  await lagging.ended;
  await stillTalking();
});

test('50 clients that crash mid-frame at once do not disturb the hub', async () => {
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const raw = await openRaw();
      // Half a header, then gone without a goodbye: as a process killed mid-write.
      raw.socket.write(Buffer.alloc(i % 20));
      raw.socket.destroy();
      await raw.ended;
    }),
  );
  await stillTalking();
  expect((await hub.call<PeerState>('state')).peers).toEqual([1, 2]);
});

test('a peer that reconnects before the hub noticed its old connection break takes its id back at once', async () => {
  const first = await openRaw();
  await first.hello();
  first.join({ incarnation: 4242 });
  const { id } = await first.welcome();
  expect(id).toBe(3);

  // The same incarnation on a new connection, while the first is still open.
  const second = await openRaw();
  await second.hello();
  second.join({ incarnation: 4242, kind: 'rejoin', claim: id });
  expect((await second.welcome()).id).toBe(3);
  expect(second.ofType(FrameType.Reject)).toBeUndefined();
  await first.ended; // the stale connection was dropped
  expect((await hub.call<PeerState>('state')).peers).toEqual([1, 2, 3]);
  await second.close();
  await until(async () => (await hub.call<PeerState>('state')).peers.length === 2);
});

test('a peer with a smaller maxFrameBytes is not handed larger frames: the sender hears why, the peer stays connected', async () => {
  const small = await Proc.start('peer.js', box.peerEnv({ maxFrameBytes: 64 * 1024 }));
  const { id } = await small.call<PeerState>('connect');
  await until(async () => (await other.call<PeerState>('state')).peers.includes(id));
  const big = 'x'.repeat(200 * 1024);
  try {
    await other.call('send', { to: id, message: big });
    await other.call('emit', { to: 'others', event: 'big', args: [big] });
    await other.call('send', { to: id, message: 'small' });
    await until(async () => (await received(small)).messages.length === 1);
    await until(async () => (await received(other)).errors.length === 1);
    // Nothing more comes to the small peer, nor another refusal to the sender.
    await barrier(other, id, small);
    await barrier(other, 2, other);
    expect((await received(small)).messages).toEqual([[2, 'small']]);
    expect((await received(other)).errors).toEqual([
      expect.objectContaining({
        name: 'UndeliverableError',
        reason: 'frame-too-large',
        target: id,
        message: expect.stringContaining(`larger than the maxFrameBytes of peer ${id}`),
      }),
    ]);
    expect(small.events.filter((e) => e.ev === 'connect')).toHaveLength(1); // never rejoined
    expect(small.events.filter((e) => e.ev === 'disconnect')).toHaveLength(0);
  } finally {
    await small.call('close');
  }
});
