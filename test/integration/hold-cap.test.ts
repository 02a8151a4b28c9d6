/**
 * The hub holds at most maxHeldBytes for absent ids, all together: 600 frames of 64 KiB to 600
 * ids nobody holds, under a 4 MiB cap, leave exactly 64 held; the other 536 are nacked
 * `hold-full` at once, and a real sender turns that into UndeliverableError.
 */
import { UndeliverableError } from '../../src/index.js';
import { FrameType, OFF_TYPE, readJson, writeHeader } from '../../src/channel/wire/frame.js';
import type { Nack } from '../../src/channel/wire/handshake.js';
import type { PeerState } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const FRAME = 64 * 1024;
const box = sandbox({ name: 'holdcap', maxHeldBytes: 4 * MiB, graceMs: 60_000 });

function nackedSeqs(raw: RawPeer, reason: string): number[] {
  return raw.frames
    .filter((f) => f[OFF_TYPE] === FrameType.Nack)
    .map((f) => readJson<Nack>(f))
    .filter((n) => n.reason === reason)
    .flatMap((n) => n.seqs);
}

test('600 × 64 KiB to ids nobody holds under a 4 MiB cap: 64 held, 536 nacked hold-full', async () => {
  const hub = await Proc.start('peer.js', box.peerEnv());
  await hub.call('connect');
  expect((await hub.call<PeerState>('state')).isHub).toBe(true);
  const before = (await hub.call<NodeJS.MemoryUsage>('memory', { gc: true })).arrayBuffers;

  const raw = await RawPeer.open('holdcap', box.dir);
  await raw.hello();
  raw.join({ incarnation: 0x401d });
  await raw.welcome();
  for (let seq = 1; seq <= 600; seq++) {
    const frame = Buffer.alloc(FRAME);
    writeHeader(frame, FrameType.Message, 0, 1000 + seq, 0, 0, seq);
    frame.writeUInt32LE(FRAME - 4, 0);
    raw.socket.write(frame);
  }
  await until(() => nackedSeqs(raw, 'hold-full').length === 600 - 64, 20_000, '536 nacks');
  const nacked = nackedSeqs(raw, 'hold-full');
  // The first 64 fit; every later one was refused.
  expect(nacked).toEqual(Array.from({ length: 536 }, (_, i) => 65 + i));
  const heldBytes = async () =>
    (await hub.call<NodeJS.MemoryUsage>('memory', { gc: true })).arrayBuffers - before;
  // Without the cap the hub would hold all 600 (37.5 MiB); the reads they came in are freed
  // once collected, and what stays is the 64 held copies.
  await until(async () => (await heldBytes()) < 6 * MiB, 10_000, 'the hub to hold under 6 MiB');
  await raw.close();
});

test('a sender over the cap gets UndeliverableError hold-full, whose message names maxHeldBytes', async () => {
  const hub = box.channel({ maxHeldBytes: 256 * 1024, closeTimeoutMs: 100 });
  await hub.connect();
  // The two held messages still wait when the test ends: close() need not wait for them.
  const sender = box.channel({ closeTimeoutMs: 100 });
  await sender.connect();
  const errors: UndeliverableError[] = [];
  sender.on('error', (e) => errors.push(e as UndeliverableError));
  const big = 'x'.repeat(100 * 1024);
  for (let id = 10; id < 15; id++) sender.to(id).send(big);
  await until(() => errors.length === 3);
  expect(errors.map((e) => [e.constructor, e.reason, e.target])).toEqual([
    [UndeliverableError, 'hold-full', 12],
    [UndeliverableError, 'hold-full', 13],
    [UndeliverableError, 'hold-full', 14],
  ]);
  expect(errors[0]!.message).toContain(
    'the hub already holds maxHeldBytes of messages for absent peers',
  );
  expect(errors[0]!.message).toContain('raise maxHeldBytes on every process');
});
