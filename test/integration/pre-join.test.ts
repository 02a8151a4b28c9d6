/**
 * What a connection that has not joined can cost the hub (docs/guarantees.md, "Limits"): any
 * frame but a Join closes it, the handshake timer runs until the Join whatever arrives, a frame
 * before Join is refused past 4 KiB (a Join past 64 KiB), and at most 64 such connections are
 * open at once, on every endpoint kind.
 */
import type { Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { MAX_UNJOINED } from '../../src/channel/hub/admission.js';
import { MAX_JOIN_BYTES, PRE_JOIN_FRAME_BYTES } from '../../src/channel/wire/frame-decoder.js';
import { FrameType, HEADER_SIZE, readJson, writeHeader } from '../../src/channel/wire/frame.js';
import { openHubSocket } from '../helpers/endpoint.js';
import { type PeerState, TwoWayStream, hubAndPeerStreaming } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const box = sandbox({ name: 'prejoin', maxFrameBytes: 64 * MiB }, 'file');
let hub: Proc;
let traffic: TwoWayStream;

beforeAll(async () => {
  ({ hub, traffic } = await hubAndPeerStreaming(box));
});

const openRaw = () => RawPeer.open('prejoin', box.dir);

/** The head of a frame of `type` announcing `size` bytes in all; `body` bytes of it follow. */
function frameHead(type: FrameType, size: number, body = 0): Buffer {
  const f = Buffer.alloc(HEADER_SIZE + body);
  writeHeader(f, type, 0, 0, 0, 0, 0);
  f.writeUInt32LE(size - 4, 0);
  return f;
}

function faultOf(raw: RawPeer): { code: string; message: string } {
  const fault = raw.ofType(FrameType.Fault);
  if (fault === undefined) throw new Error('no Fault frame');
  return readJson(fault);
}

/** Bytes in ArrayBuffers (every Buffer) the hub process holds after a full collection. */
async function hubBufferBytes(): Promise<number> {
  return (await hub.call<NodeJS.MemoryUsage>('memory', { gc: true })).arrayBuffers;
}

test('100 connections that send Leave or Retire before Join are each closed at once with a Fault', async () => {
  const raws: RawPeer[] = [];
  // In batches under the cap of unjoined connections, so that none is closed to make room.
  for (let batch = 0; batch < 4; batch++) {
    const closed = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const raw = await openRaw();
        await raw.hello();
        raw.socket.write(frameHead(i % 2 === 0 ? FrameType.Leave : FrameType.Retire, HEADER_SIZE));
        await raw.ended;
        return raw;
      }),
    );
    raws.push(...closed);
  }
  const faults = raws.map(faultOf);
  // ERR_IPC_PROTOCOL, not ERR_IPC_HANDSHAKE_TIMEOUT: closed for the frame, not by the timer.
  expect(faults.filter((f) => f.code === 'ERR_IPC_PROTOCOL')).toHaveLength(100);
  expect(faults.filter((f) => f.message.includes('a Leave frame before Join'))).toHaveLength(52);
  expect(faults.filter((f) => f.message.includes('a Retire frame before Join'))).toHaveLength(48);
  expect(raws.some((r) => r.ofType(FrameType.Bye) !== undefined)).toBe(false);
  await traffic.more(200);
});

test('the handshake timer runs until Join whatever arrives: part of a Join, or silence, is closed by it', async () => {
  const raws = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const raw = await openRaw();
      await raw.hello();
      if (i % 2 === 0) raw.socket.write(frameHead(FrameType.Join, 1000, 100));
      await raw.ended;
      return raw;
    }),
  );
  expect(raws.map((r) => faultOf(r).code)).toEqual(Array(20).fill('ERR_IPC_HANDSHAKE_TIMEOUT'));
}, 30_000);

test('8 connections announcing 64 MiB frames before Join are refused on the header; 64 held Joins cost 64 × 64 KiB at most', async () => {
  const before = await hubBufferBytes();
  const refused = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const raw = await openRaw();
      await raw.hello();
      const type = i % 2 === 0 ? FrameType.Message : FrameType.Join;
      // The header alone: bytes after it that the hub never reads would turn its close into a
      // reset on loopback TCP, and the Fault could be lost with it.
      raw.socket.write(frameHead(type, 64 * MiB - 1));
      await raw.ended;
      return raw;
    }),
  );
  for (const raw of refused) {
    const fault = faultOf(raw);
    expect(fault.code).toBe('ERR_IPC_FRAME_TOO_LARGE');
    expect(fault.message).toContain('allowed before a Join');
  }

  // The most a stranger can make the hub hold: a Join one byte short of the Join limit, on as
  // many connections as may wait to join.
  const holding = await Promise.all(
    Array.from({ length: MAX_UNJOINED }, async () => {
      const raw = await openRaw();
      await raw.hello();
      raw.socket.write(frameHead(FrameType.Join, MAX_JOIN_BYTES, MAX_JOIN_BYTES - HEADER_SIZE - 1));
      return raw;
    }),
  );
  // A peer joining after them: the hub has read what they wrote before it answers this one.
  const barrier = await openRaw();
  await barrier.hello();
  barrier.join({ incarnation: 0xba55 });
  await barrier.welcome();
  const held = (await hubBufferBytes()) - before;
  expect(held).toBeLessThan(MAX_UNJOINED * MAX_JOIN_BYTES + 2 * MiB);
  await barrier.close();
  // One byte past the limit before Join, for a frame that is not a Join, is refused.
  const over = await openRaw();
  await over.hello();
  over.socket.write(frameHead(FrameType.SetMeta, PRE_JOIN_FRAME_BYTES + 1));
  await over.ended;
  expect(faultOf(over).code).toBe('ERR_IPC_FRAME_TOO_LARGE');
  for (const raw of holding) raw.socket.destroy();
  await Promise.all(holding.map((r) => r.ended));
  await traffic.more(200);
});

test('1,200 silent connections: the hub keeps at most 64 open, a new peer still joins, the others are unaffected', async () => {
  const fdsBefore = readdirSync(`/proc/${hub.child.pid}/fd`).length;
  const hostile: Socket[] = [];
  let open = 0;
  let refused = 0;
  const attempt = async () => {
    try {
      const s = await openHubSocket('prejoin', box.dir);
      open++;
      s.on('error', () => {});
      s.on('close', () => open--);
      s.resume();
      hostile.push(s);
    } catch {
      refused++; // the listen backlog was full (EAGAIN): the kernel turned it away
    }
  };
  for (let batch = 0; batch < 24; batch++) {
    await Promise.all(Array.from({ length: 50 }, attempt));
  }
  expect(hostile.length + refused).toBe(1200);
  await until(() => open === MAX_UNJOINED, 20_000, `${MAX_UNJOINED} hostile connections open`);
  const fdsDuring = readdirSync(`/proc/${hub.child.pid}/fd`).length;
  expect(fdsDuring - fdsBefore).toBeLessThanOrEqual(MAX_UNJOINED);

  const newcomer = box.channel();
  await newcomer.connect();
  expect(newcomer.id).toBe(3);
  await until(async () => (await hub.call<PeerState>('state')).peers.length === 3);
  expect((await hub.call<PeerState>('state')).peers).toEqual([1, 2, 3]);
  // The newcomer's connection took the oldest hostile one's place.
  await until(() => open === MAX_UNJOINED - 1, 20_000, 'the oldest hostile connection closed');
  for (const s of hostile) s.destroy();
  await until(() => open === 0);
  await newcomer.close();
  await traffic.more(200);
});
