import { Proc, killAll, startMany, tempDir, until } from '../helpers/processes.js';

interface Received {
  numbers: Record<string, number[]>;
}
interface Memory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Starts hub (id 1), a sender (id 2) and a slow receiver (id 3), in that order. */
async function trio(
  senderOptions: Record<string, unknown>,
  slowMicros: number,
): Promise<[Proc, Proc, Proc]> {
  const opts = (extra: Record<string, unknown>) =>
    JSON.stringify({ name: 'bp', dir: dir.path, ...extra });
  const [hub] = await startMany(1, 'peer.js', () => ({ PEER_OPTIONS: opts({ id: 1 }) }));
  await hub!.call('connect');
  const sender = await Proc.start('peer.js', { PEER_OPTIONS: opts({ id: 2, ...senderOptions }) });
  const slow = await Proc.start('peer.js', {
    PEER_OPTIONS: opts({ id: 3 }),
    PEER_SLOW_US: String(slowMicros),
  });
  await Promise.all([sender.call('connect'), slow.call('connect')]);
  return [hub!, sender, slow];
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
  await until(
    async () => (await slow.call<Record<string, number>>('counts'))['2'] === 20_000,
    30_000,
  );
  expect((await slow.call<Received>('received')).numbers['2']).toEqual(range(20_000));
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
  await until(
    async () => (await slow.call<Record<string, number>>('counts'))['2'] === flood.accepted,
    30_000,
  );
  expect((await slow.call<Received>('received')).numbers['2']).toEqual(range(flood.accepted));
}, 60_000);

test('100k messages queued for a slow peer: the hub holds only a window of them, its memory stays flat', async () => {
  const [hub, sender, slow] = await trio({}, 20);
  // What the hub holds (JavaScript heap and buffers, after a full GC), not its RSS: how far V8
  // lets a heap grow before it collects differs between Node versions (the same run raised RSS
  // by 11-14 MiB on Node 20 and 33-38 MiB on Node 26).
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
  await until(async () => {
    peak = Math.max(peak, await held());
    return (await slow.call<Record<string, number>>('counts'))['2'] === 100_000;
  }, 60_000);
  // The sender keeps the backlog (it must, to resend after a failover); the hub only the
  // sender's window (8192 frames, about 1 MiB here) and a record per frame: 2-3 MiB on Node
  // 20, 24 and 26. Holding all 100k frames would take about 30 MiB.
  expect(peak - before).toBeLessThan(12 * 1024 * 1024);
  expect((await slow.call<Received>('received')).numbers['2']).toEqual(range(100_000));
}, 90_000);
