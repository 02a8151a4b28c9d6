import fc from 'fast-check';
import {
  FrameType,
  HEADER_SIZE,
  MAX_PEER_ID,
  OFF_SENDER,
  PROTOCOL_VERSION,
  TARGET_ALL,
  TARGET_OTHERS,
  jsonFrame,
  readJson,
  writeHeader,
} from '../../src/channel/wire/frame.js';
import {
  type PeerState,
  TwoWayStream,
  hubAndPeerStreaming,
  received,
} from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { EXITED_PID, RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { sleep, until, within } from '../helpers/wait.js';

/**
 * Hostile clients on a live hub: forged identities, frames out of order, random and truncated
 * bytes. The hub must cut off only the offender, and the two honest peers must lose nothing.
 */

const MAX_FRAME = 64 * 1024;
const box = sandbox({ name: 'fuzz', maxFrameBytes: MAX_FRAME }, 'file');
let hub: Proc;
let other: Proc;
let hubPid: number;
let honest: TwoWayStream;

beforeAll(async () => {
  ({ hub, other, hubPid, traffic: honest } = await hubAndPeerStreaming(box));
});

const openRaw = () => RawPeer.open('fuzz', box.dir);

/** A data frame with every header field chosen by the caller, as a forger would write it. */
function forged(
  type: number,
  target: number,
  sender: number,
  incarnation: number,
  seq: number,
  payload: Buffer,
  aux = 0,
  flags = 0,
): Buffer {
  const f = Buffer.alloc(HEADER_SIZE + payload.length);
  writeHeader(f, type, flags, target, aux, incarnation, seq);
  f.writeUInt16LE(sender, OFF_SENDER);
  payload.copy(f, HEADER_SIZE);
  return f;
}

/** An 'n' event as the channel encodes it (JSON codec): name bytes, then the arguments. */
function eventPayload(n: number): { payload: Buffer; aux: number } {
  const name = Buffer.from('n');
  return { payload: Buffer.concat([name, Buffer.from(JSON.stringify([n]))]), aux: name.length };
}

/**
 * Each honest peer streams 300 more numbers to the other; both must then hold every number
 * streamed so far, in order, exactly once: nothing lost, nothing twice, nothing forged. The
 * hub is the same process, still hosting.
 */
async function honestStreamsIntact(): Promise<void> {
  await honest.more(300);
  const state = await hub.call<PeerState>('state');
  expect(state.pid).toBe(hubPid);
  expect(state.isHub).toBe(true);
  expect(state.peers.filter((id) => id <= 2)).toEqual([1, 2]);
}

test('a forged sender id and incarnation are overwritten by the hub: a peer never sends as another', async () => {
  await honestStreamsIntact();
  const raw = await openRaw();
  await raw.hello();
  raw.join({ incarnation: 0x5eed });
  const welcome = await raw.welcome();
  const victim = welcome.peers.find((p) => p.id === 2)!;
  expect(welcome.id).toBe(3);
  // Claims to be peer 2 (its id and incarnation) with a sequence far ahead of peer 2's own: if
  // the hub passed it on, peer 1 would take it from peer 2 and drop peer 2's next frames.
  const message = Buffer.from(JSON.stringify('forged'));
  raw.socket.write(forged(FrameType.Message, 1, 2, victim.incarnation, 2 ** 52, message));
  const { payload, aux } = eventPayload(-1);
  raw.socket.write(forged(FrameType.Event, 1, 2, victim.incarnation, 2 ** 52 + 1, payload, aux));
  try {
    // Two writes may arrive in two reads (they do on loopback TCP): wait for both frames.
    await until(
      async () => {
        const got = await received(hub);
        return got.messages.some(([, m]) => m === 'forged') && got.numbers['3'] !== undefined;
      },
      undefined,
      'the forged message and event',
    );
    const got = await received(hub);
    expect(got.messages.filter(([, m]) => m === 'forged')).toEqual([[3, 'forged']]);
    expect(got.numbers['3']).toEqual([-1]);
    await honestStreamsIntact();
  } finally {
    // A failed check must not leave peer 3 joined for the next test.
    await raw.close();
  }
});

test("a Join with another live peer's incarnation is refused; the peer keeps its id", async () => {
  const probe = await openRaw();
  await probe.hello();
  probe.join({ incarnation: 0xabc });
  const victim = (await probe.welcome()).peers.find((p) => p.id === 2)!;
  await probe.close();

  const raw = await openRaw();
  await raw.hello();
  raw.join({ incarnation: victim.incarnation });
  await raw.ended;
  const reject = readJson<{ reason: string; message: string }>(raw.ofType(FrameType.Reject)!);
  expect(reject.reason).toBe('incarnation-taken');
  expect(raw.ofType(FrameType.Welcome)).toBeUndefined();
  await honestStreamsIntact();
});

/** One hostile session: what it sends, after (or instead of) a handshake. */
type Attack =
  | { kind: 'bytes'; chunks: Uint8Array[] }
  | { kind: 'truncated'; cut: number }
  | { kind: 'oversized'; length: number }
  | { kind: 'before-join'; type: number }
  | { kind: 'leave-first' }
  | { kind: 'slow-join'; pieces: number[]; pauseMs: number }
  | { kind: 'after-join'; frames: FuzzFrame[] };
interface FuzzFrame {
  type: number;
  target: number;
  sender: number;
  incarnation: number;
  seq: number;
  aux: number;
  flags: number;
  payload: Uint8Array;
}

const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.record({
  type: fc.oneof(
    fc.constantFrom(FrameType.Message, FrameType.Event),
    fc.integer({ min: 0, max: 255 }),
  ),
  target: fc.oneof(
    fc.constantFrom(0, 1, 2, 3, TARGET_ALL, TARGET_OTHERS, MAX_PEER_ID, MAX_PEER_ID + 1),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  sender: fc.constantFrom(0, 1, 2, 0xffff),
  incarnation: fc.integer({ min: 0, max: 0xffffffff }),
  seq: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
  aux: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 200 }),
});

const attack: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({
    kind: fc.constant('bytes' as const),
    chunks: fc.array(fc.uint8Array({ minLength: 1, maxLength: 100 }), {
      minLength: 1,
      maxLength: 5,
    }),
  }),
  fc.record({ kind: fc.constant('truncated' as const), cut: fc.integer({ min: 1, max: 60 }) }),
  fc.record({
    kind: fc.constant('oversized' as const),
    length: fc.integer({ min: MAX_FRAME - 3, max: 0xffffffff }),
  }),
  fc.record({
    kind: fc.constant('before-join' as const),
    type: fc.constantFrom(
      FrameType.Message,
      FrameType.Event,
      FrameType.Receipt,
      FrameType.Leave,
      FrameType.Retire,
      FrameType.HandoverDone,
      FrameType.Ack,
      FrameType.Welcome,
    ),
  }),
  fc.record({ kind: fc.constant('leave-first' as const) }),
  fc.record({
    kind: fc.constant('slow-join' as const),
    pieces: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
    pauseMs: fc.integer({ min: 0, max: 40 }),
  }),
  fc.record({
    kind: fc.constant('after-join' as const),
    frames: fc.array(fuzzFrame, { minLength: 1, maxLength: 8 }),
  }),
);

/** A Join as RawPeer.join writes it, as bytes. */
function joinBytes(incarnation: number): Buffer {
  return jsonFrame(FrameType.Join, {
    protocol: PROTOCOL_VERSION,
    name: 'fuzz',
    codec: 'json',
    pid: EXITED_PID,
    claim: 0,
    kind: 'none',
    meta: null,
    nonce: 'n',
    incarnation,
  });
}

/**
 * Plays one hostile session, then goes. It ends its side rather than vanish, and waits for the
 * hub to close the connection: the hub has then read and judged every byte, where a socket
 * destroyed at once could lose its last bytes (on tcp, unread data turns a close into a reset).
 */
async function run(a: Attack, incarnation: number): Promise<void> {
  const raw = await openRaw();
  await raw.hello();
  switch (a.kind) {
    case 'bytes':
      for (const c of a.chunks) raw.socket.write(c);
      break;
    case 'truncated': {
      const whole = jsonFrame(FrameType.Join, { protocol: PROTOCOL_VERSION, name: 'fuzz' });
      raw.socket.write(whole.subarray(0, Math.min(a.cut, whole.length - 1)));
      break;
    }
    case 'oversized': {
      const prefix = Buffer.alloc(8);
      prefix.writeUInt32LE(a.length, 0);
      raw.socket.write(prefix);
      break;
    }
    case 'before-join':
      raw.socket.write(forged(a.type, 1, 0, 0, 1, Buffer.from('[1]')));
      break;
    case 'leave-first':
      // A Leave must not stop the handshake timer, nor let a Join after it in.
      raw.socket.write(
        Buffer.concat([
          forged(FrameType.Leave, 0, 0, 0, 0, Buffer.alloc(0)),
          joinBytes(incarnation),
        ]),
      );
      await within(raw.ended, 'the hub to close the connection');
      expect(readJson<{ code: string }>(raw.ofType(FrameType.Fault)!).code).toBe(
        'ERR_IPC_PROTOCOL',
      );
      expect(raw.ofType(FrameType.Welcome)).toBeUndefined();
      return;
    case 'slow-join': {
      // The Join in pieces, split anywhere (inside its length and type too), with pauses.
      const join = joinBytes(incarnation);
      let off = 0;
      for (const n of a.pieces) {
        if (off >= join.length) break;
        raw.socket.write(join.subarray(off, off + n));
        off += n;
        await sleep(a.pauseMs);
      }
      if (off < join.length) raw.socket.write(join.subarray(off));
      expect((await raw.welcome()).id).toBeGreaterThanOrEqual(3);
      break;
    }
    case 'after-join':
      raw.join({ incarnation });
      for (const f of a.frames) {
        const body = Buffer.from(f.payload);
        raw.socket.write(
          forged(f.type, f.target, f.sender, f.incarnation, f.seq, body, f.aux, f.flags),
        );
      }
      break;
  }
  raw.socket.end();
  await within(raw.ended, 'the hub to close the connection');
}

test('200 seeded hostile sessions (random, truncated, oversized, mis-ordered, forged frames, Leave-first and slow Joins) leave the hub and the honest peers untouched', async () => {
  const attacks = fc.sample(attack, { seed: 0xfa22, numRuns: 200 });
  const kinds = new Set(attacks.map((a) => a.kind));
  expect([...kinds].sort()).toEqual([
    'after-join',
    'before-join',
    'bytes',
    'leave-first',
    'oversized',
    'slow-join',
    'truncated',
  ]);
  for (let i = 0; i < attacks.length; i += 10) {
    await Promise.all(attacks.slice(i, i + 10).map((a, k) => run(a, 0x10000 + i + k)));
  }
  await until(
    async () => (await hub.call<PeerState>('state')).peers.length === 2,
    undefined,
    'the attackers to be gone',
  );
  await honestStreamsIntact();
  // Whatever the attackers got through to the honest peers came under their own ids.
  for (const p of [hub, other]) {
    const got = await received(p);
    const peer = p === hub ? '2' : '1';
    for (const sender of Object.keys(got.numbers)) {
      if (sender !== peer) expect(Number(sender)).toBeGreaterThanOrEqual(3);
    }
    for (const [sender] of got.messages) expect(sender).toBeGreaterThanOrEqual(3);
  }
}, 120_000);
