import type { ChannelOptions } from '../../src/index.js';
import { countFrom, expectNumbers, numbersFrom } from '../helpers/peer-fixture.js';
import { Proc } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

interface Memory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

const box = sandbox({ name: 'bp' });

/** Starts hub (id 1), a sender (id 2) and a slow receiver (id 3), in that order. */
async function trio(
  senderOptions: ChannelOptions,
  slowMicros: number,
): Promise<[Proc, Proc, Proc]> {
  const hub = await Proc.start('peer.js', box.peerEnv({ id: 1 }));
  await hub.call('connect');
  const sender = await Proc.start('peer.js', box.peerEnv({ id: 2, ...senderOptions }));
  const slow = await Proc.start('peer.js', {
    ...box.peerEnv({ id: 3 }),
    PEER_SLOW_US: String(slowMicros),
  });
  await Promise.all([sender.call('connect'), slow.call('connect')]);
  return [hub, sender, slow];
}

test('a slow receiver makes send() return false; the sender waits for drain and its backlog stays under highWaterMark', async () => {
  const hwm = 64 * 1024;
  const [, sender, slow] = await trio({ highWaterMark: hwm }, 100);
  const result = await sender.call<{ falses: number; maxPending: number }>(
    'stream',
    { to: 3, count: 20_000 },
    60_000,
  );
  expect(result.falses).toBeGreaterThan(0);
  // Never more than the high-water mark plus the one message that crossed it.
  expect(result.maxPending).toBeLessThan(hwm + 256);
  await expectNumbers(slow, 2, range(0, 20_000), 30_000);
}, 60_000);

test('a sender that ignores false hits maxQueueBytes with QueueFullError; everything accepted is delivered', async () => {
  const [, sender, slow] = await trio({ highWaterMark: 64 * 1024, maxQueueBytes: 512 * 1024 }, 20);
  const flood = await sender.call<{
    accepted: number;
    falses: number;
    error: { name: string; code: string } | null;
  }>('flood', { to: 3, count: 1_000_000 });
  expect(flood.error).toEqual({ name: 'QueueFullError', code: 'ERR_IPC_QUEUE_FULL' });
  expect(flood.falses).toBeGreaterThan(0);
  expect(flood.accepted).toBeGreaterThan(1000);
  expect(flood.accepted).toBeLessThan(1_000_000);
  await expectNumbers(slow, 2, range(0, flood.accepted), 30_000);
}, 60_000);

test('100k messages queued for a slow peer: the hub holds only a window of them, its memory stays flat', async () => {
  const [hub, sender, slow] = await trio({}, 20);
  // What the hub holds (JavaScript heap and buffers, after a full GC), not its RSS: how far V8
  // lets a heap grow before it collects differs between Node versions.
  const held = async () => {
    const m = await hub.call<Memory>('memory', { gc: true });
    return m.heapUsed + m.arrayBuffers;
  };
  const before = await held();
  const flood = await sender.call<{ accepted: number; error: unknown }>('flood', {
    to: 3,
    count: 100_000,
  });
  expect(flood).toMatchObject({ accepted: 100_000, error: null });
  let peak = 0;
  await until(
    async () => {
      peak = Math.max(peak, await held());
      return (await countFrom(slow, 2)) >= 100_000;
    },
    60_000,
    'the slow peer to get all 100k',
  );
  // The sender keeps the backlog (it must, to resend after a failover); the hub only the
  // sender's window (8192 frames, about 1 MiB here) and a record per frame. Holding all 100k
  // frames would take about 30 MiB.
  expect(peak - before).toBeLessThan(12 * 1024 * 1024);
  expect(await numbersFrom(slow, 2)).toEqual(range(0, 100_000));
}, 90_000);
