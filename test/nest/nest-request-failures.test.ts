/**
 * Requests that cannot be answered as asked, across Nest processes: each fails its caller alone,
 * with a typed error that says why (undelivered, timed out, unread, too large, peer gone).
 */
import { sleep, until } from '../helpers/processes.js';
import { type Seen, type WorkerState, nestWorkers, rejection } from '../helpers/nest-workers.js';

const { w, worker, cluster } = nestWorkers();

test("an undelivered request fails only its caller; the raw channel's 'error' listeners hear of undelivered events alone", async () => {
  await cluster({ graceMs: 300 });
  const err = await rejection(w.get(1)!.call('send', { target: 9, pattern: 'sum', data: [1] }));
  expect(err).toMatchObject({ name: 'PeerUnavailableError', code: 'ERR_IPC_PEER_UNAVAILABLE' });
  expect(await w.get(1)!.call('emit', { target: 9, pattern: 'noted', data: 1 })).toBe(true);
  await until(async () => (await w.get(1)!.call<unknown[]>('rawErrors')).length > 0, 5000);
  await sleep(400); // a second report, if there were one, would have come by now
  expect(await w.get(1)!.call('rawErrors')).toEqual([
    {
      name: 'UndeliverableError',
      code: 'ERR_IPC_UNDELIVERABLE',
      target: 9,
      reason: 'grace-expired',
      event: '@nest/ev',
    },
  ]);
  for (const id of [2, 3]) expect(await w.get(id)!.call('rawErrors')).toEqual([]);
});

test('the timeout option fails a slow request with RequestTimeoutError and stops the responder', async () => {
  await cluster({ timeout: 300 });
  const started = Date.now();
  const err = await rejection(w.get(1)!.call('send', { target: 2, pattern: 'stream', data: 100 }));
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  expect(err).toMatchObject({
    name: 'RequestTimeoutError',
    code: 'ERR_IPC_REQUEST_TIMEOUT',
    read: true,
    message: expect.stringMatching(/^Peer 2 read 'stream' but no answer came within 300 ms/),
  });
  await until(async () => (await w.get(2)!.call<Seen>('seen')).streamFinalized === 1, 10_000);
});

test('a request to a peer whose event loop is blocked times out as unread, and runs once the peer catches up', async () => {
  await cluster({ timeout: 300 });
  await w.get(3)!.call('block', { ms: 5000 }); // long past the timeout, however slow this machine
  const err = await rejection(w.get(2)!.call('send', { target: 3, pattern: 'echo', data: 7 }));
  expect(err).toMatchObject({
    name: 'RequestTimeoutError',
    code: 'ERR_IPC_REQUEST_TIMEOUT',
    read: false,
    message: expect.stringMatching(
      /^Peer 3 had not even read 'echo' after 300 ms: its event loop \(or that of the hub's process, peer 1\) is blocked/,
    ),
  });
  // Request and cancel are read together once the loop turns: the handler runs, nothing answers.
  await until(async () => (await w.get(3)!.call<Seen>('seen')).echoed === 1, 15_000);
  await sleep(200);
  expect((await w.get(3)!.call<Seen>('seen')).echoed).toBe(1);
  expect(await w.get(2)!.call('rawErrors')).toEqual([]);
});

test('an answer larger than the requester reads fails the request with the reason instead of vanishing', async () => {
  await cluster();
  const small = await worker({}, { id: 4, maxFrameBytes: 64 * 1024 });
  w.set(4, small);
  await until(async () => (await w.get(2)!.call<WorkerState>('state')).peers.length === 4, 5000);
  const err = await rejection(small.call('send', { target: 2, pattern: 'big', data: 200_000 }));
  expect(err).toEqual({
    status: 'error',
    message: expect.stringMatching(
      /^The handler's answer could not be sent: .* to peer 4 was not delivered: it is larger than the maxFrameBytes of peer 4/,
    ),
  });
  expect(await small.call('send', { target: 2, pattern: 'sum', data: [1, 2] })).toEqual([3]);
});

test("a request whose handler takes the hub's process down fails with PeerLeftError: it ran, so it is not retried", async () => {
  await cluster();
  const err = await rejection(w.get(2)!.call('send', { target: 1, pattern: 'die', data: 0 }));
  // The request reached the new hub again, which knows no id 1: that must not read as
  // "never sent" (PeerUnavailableError), which send() without a target would retry elsewhere.
  expect(err).toMatchObject({ name: 'PeerLeftError', code: 'ERR_IPC_PEER_LEFT' });
  await until(async () => (await w.get(2)!.call<WorkerState>('state')).peers.length === 2, 5000);
  expect(await w.get(2)!.call('rawErrors')).toEqual([]);
});

test("an answer to a requester that crashed is not taken by its successor's request", async () => {
  await cluster();
  // The process holding id 3 asks for an answer in 6 s (by then its successor has joined and
  // asked too, however slow this machine), then dies; PM2 would restart it.
  void w
    .get(3)!
    .call('send', { target: 2, pattern: 'slow', data: 6000 })
    .catch(() => {});
  await sleep(100);
  await w.get(3)!.kill('SIGKILL');
  // Its successor asks the same peer the same way: the first answer to reach id 3 is the dead
  // process's, and must not settle the new request (both were the process's first request).
  const next = await worker({ WORKER_ROLE: 'extra' }, { id: 3 });
  w.set(3, next);
  expect(await next.call('send', { target: 2, pattern: 'slow', data: 6500 })).toEqual([6500]);
});

test('a retiring worker still gets the answers to its own requests, and takes no new ones', async () => {
  await cluster();
  // A worker being reloaded finishes its last HTTP requests, which await answers from peer 2.
  const answer = w.get(3)!.call('send', { target: 2, pattern: 'slow', data: 600 });
  await sleep(100);
  await w.get(3)!.call('retireChannel');
  expect(await Promise.race([answer, sleep(3000).then(() => 'no answer')])).toEqual([600]);
  const err = await rejection(w.get(1)!.call('send', { target: 3, pattern: 'echo', data: 1 }));
  expect(err).toMatchObject({ name: 'PeerUnavailableError', code: 'ERR_IPC_PEER_UNAVAILABLE' });
  expect((await w.get(3)!.call<Seen>('seen')).echoed).toBe(0);
});

test('the hub is kill -9-ed while requests and events are in flight between two other peers: all complete, exactly once', async () => {
  await cluster();
  const requests = w
    .get(2)!
    .call<number[]>('requestMany', { target: 3, pattern: 'echo', count: 3000, concurrency: 20 });
  const events = w.get(3)!.call('emitMany', { target: 2, count: 3000, paceEvery: 5 });
  const before = await until(async () => {
    const n = (await w.get(2)!.call<Seen>('seen')).counted.length;
    return n > 300 ? n : 0;
  }, 10_000);
  await w.get(1)!.kill('SIGKILL');
  expect(before).toBeLessThan(3000);
  const results = await requests;
  await events;
  // Every request answered, with its own answer.
  expect(results).toEqual(Array.from({ length: 3000 }, (_, i) => i));
  await until(async () => (await w.get(2)!.call<Seen>('seen')).counted.length === 3000, 10_000);
  expect((await w.get(2)!.call<Seen>('seen')).counted).toEqual(
    Array.from({ length: 3000 }, (_, i) => i),
  );
}, 60_000);
