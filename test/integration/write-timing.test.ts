import { Channel } from '../../src/index.js';
import { channelSandbox, until } from '../helpers/processes.js';

const sandbox = channelSandbox();

async function hubAndPeer(): Promise<[Channel, Channel]> {
  const a = new Channel({ name: 'timing', dir: sandbox.dir.path });
  const b = new Channel({ name: 'timing', dir: sandbox.dir.path });
  sandbox.open.push(a, b);
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
  // cap only keeps a regression from hanging the test: a starved timer fires after it.
  const CAP = 200_000;
  a.on('loop', (_sender: number, i: number) => {
    got.push(i);
    if (running && got.length < CAP) a.to(1).emit('loop', i + 1);
  });
  a.to(1).emit('loop', 0);
  // A timer, and a message from the other peer over its socket, both get their turn.
  const fromB = new Promise<number>((resolve) => a.once('hello', () => resolve(got.length)));
  b.to(1).emit('hello');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const atTimer = got.length;
  running = false;
  const atHello = await fromB;
  // Both came while the loop was still going, after far more round trips than one turn of the
  // event loop allows (64 in-process deliveries).
  expect(atHello).toBeLessThan(CAP);
  expect(atTimer).toBeLessThan(CAP);
  expect(atTimer).toBeGreaterThan(64);
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
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
  expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  // Every message is confirmed back to the sender; how soon depends on the machine's load.
  await until(() => b.pendingBytes === 0, 5000, 'every send confirmed');
  expect(b.pendingBytes).toBe(0);
});
