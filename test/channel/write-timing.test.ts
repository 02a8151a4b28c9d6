import type { Channel } from '../../src/index.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'timing' });

async function hubAndPeer(): Promise<[Channel, Channel]> {
  const a = box.channel();
  const b = box.channel();
  await a.connect();
  await b.connect();
  expect(a.isHub).toBe(true);
  return [a, b];
}

test('a hub-process peer that messages itself without end still lets timers and I/O run', async () => {
  const [a, b] = await hubAndPeer();
  const got: number[] = [];
  let running = true;
  // Each message to itself goes peer -> hub -> peer inside this process, without a socket. The
  // cap only keeps a regression from hanging the test: what a starved loop lets through comes
  // after it.
  const CAP = 200_000;
  // Armed once the loop has run for far more round trips than one turn of the event loop allows
  // (64 in-process deliveries): a timer that fires while it still runs had its turn.
  const ARM_AT = 1000;
  let atTimer: number | undefined;
  a.on('loop', (_sender: number, i: number) => {
    got.push(i);
    if (i === ARM_AT) setTimeout(() => (atTimer = got.length), 0);
    if (running && got.length < CAP) a.to(1).emit('loop', i + 1);
  });
  a.to(1).emit('loop', 0);
  // A message from the other peer over its socket gets its turn too.
  const fromB = new Promise<number>((resolve) => a.once('hello', () => resolve(got.length)));
  b.to(1).emit('hello');
  await until(() => atTimer !== undefined, undefined, 'the timer');
  const atHello = await fromB;
  running = false;
  expect(atTimer).toBeLessThan(CAP);
  expect(atHello).toBeLessThan(CAP);
  expect(got).toEqual(range(0, got.length));
});

test('a burst of sends arrives whole and in order, whatever piece sizes it was written in', async () => {
  const [a, b] = await hubAndPeer();
  const seen: number[] = [];
  const all = new Promise<void>((resolve) =>
    a.on('n', (_sender: number, i: number) => {
      seen.push(i);
      if (seen.length === 1000) resolve();
    }),
  );
  // 1000 in one synchronous loop: written in pieces of 16 as they queue, the rest at the end
  // of the tick.
  for (let i = 0; i < 1000; i++) expect(b.to(1).emit('n', i)).toBe(true);
  await all;
  expect(seen).toEqual(range(0, 1000));
  // Every message is confirmed back to the sender.
  await until(() => b.pendingBytes === 0, undefined, 'every send confirmed');
  expect(b.pendingBytes).toBe(0);
});
