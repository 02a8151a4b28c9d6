import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { Proc, RemoteError, killAll, sleep, tempDir, until } from '../helpers/processes.js';

interface State {
  id: number;
  peers: number[];
  pid: number;
  httpPort: number;
}
interface Seen {
  events: { key: unknown; sender: number; pattern: string; metadata: Record<string, string> }[];
  counted: number[];
  streamEmitted: number;
  streamFinalized: number;
  guarded: number;
  echoed: number;
}

const NO_HANDLER = 'There is no matching message handler defined in the remote service.';

let dir: ReturnType<typeof tempDir>;
/** Workers by peer id. */
let w: Map<number, Proc>;

function worker(
  env: Record<string, string> = {},
  options: Record<string, unknown> = {},
): Promise<Proc> {
  return Proc.start('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'nest', dir: dir.path, ...options }),
    ...env,
  });
}

/** Three Nest apps: 1 (hub), 2 (its 'stats' throws), 3 (also handles 'extra'). */
async function cluster(options: Record<string, unknown> = {}): Promise<void> {
  // 1 first, so that it hosts the hub; the ids are explicit, so 2 and 3 may start together.
  const a = await worker({}, { id: 1, ...options });
  const [b, c] = await Promise.all([
    worker({ WORKER_FAIL_STATS: '1' }, { id: 2, ...options }),
    worker({ WORKER_ROLE: 'extra' }, { id: 3, ...options }),
  ]);
  w = new Map([
    [1, a],
    [2, b],
    [3, c],
  ]);
  await until(async () => (await c.call<State>('state')).peers.length === 3, 10_000);
  await until(async () => (await a.call<State>('state')).peers.length === 3, 10_000);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e instanceof RemoteError ? e.payload : e;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

describe('three Nest microservices on one channel', () => {
  beforeEach(() => cluster());

  test('ids agree across processes: ipc.id on one side is ctx.getSender() on the other', async () => {
    for (const [id, p] of w) expect((await p.call<State>('state')).id).toBe(id);
    const [answer] = await w
      .get(3)!
      .call<{ me: number; sender: number; pattern: string }[]>('send', {
        target: 1,
        pattern: 'whoami',
        data: 'x',
      });
    expect(answer).toMatchObject({ me: 1, sender: 3, pattern: 'whoami' });
  });

  test('targeted emit reaches only that peer', async () => {
    await w.get(1)!.call('emit', { target: 2, pattern: 'cache.invalidate', data: 'k2' });
    await until(async () => (await w.get(2)!.call<Seen>('seen')).events.length === 1, 5000);
    await sleep(100);
    expect((await w.get(2)!.call<Seen>('seen')).events).toEqual([
      { key: 'k2', sender: 1, pattern: 'cache.invalidate', metadata: {} },
    ]);
    expect((await w.get(1)!.call<Seen>('seen')).events).toEqual([]);
    expect((await w.get(3)!.call<Seen>('seen')).events).toEqual([]);
  });

  test('emit() reaches every peer including self; to("others") every peer but self', async () => {
    await w.get(2)!.call('emit', { pattern: 'cache.invalidate', data: 'user:7' });
    await w.get(2)!.call('emit', { target: 'others', pattern: 'cache.invalidate', data: 'k' });
    await until(async () => (await w.get(1)!.call<Seen>('seen')).events.length === 2, 5000);
    await until(async () => (await w.get(3)!.call<Seen>('seen')).events.length === 2, 5000);
    await sleep(100);
    for (const id of [1, 3]) {
      expect((await w.get(id)!.call<Seen>('seen')).events.map((e) => [e.key, e.sender])).toEqual([
        ['user:7', 2],
        ['k', 2],
      ]);
    }
    expect((await w.get(2)!.call<Seen>('seen')).events.map((e) => e.key)).toEqual(['user:7']);
  });

  test('send() without a target takes turns among the peers that handle the pattern; none → NoHandlerPeerError', async () => {
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [r] = await w.get(1)!.call<{ id: number }[]>('send', { pattern: 'whoami', data: i });
      answers.push((r as unknown as { me: number }).me);
    }
    expect(answers.sort()).toEqual([1, 1, 2, 2, 3, 3]);
    // 'extra' is handled by peer 3 only.
    const extras = await Promise.all(
      [0, 1, 2].map(() =>
        w.get(2)!.call<{ pid: number }[]>('send', { pattern: 'extra', data: {} }),
      ),
    );
    const pid3 = (await w.get(3)!.call<State>('state')).pid;
    expect(extras.map(([r]) => r!.pid)).toEqual([pid3, pid3, pid3]);
    const err = await rejection(
      w.get(1)!.call('send', { pattern: 'nobody-handles-this', data: {} }),
    );
    expect(err).toMatchObject({ name: 'NoHandlerPeerError', code: 'ERR_IPC_NO_HANDLER_PEER' });
  });

  test('gather: one IpcReply per handling peer; one peer failing does not abort the others', async () => {
    const replies = await w
      .get(3)!
      .call<{ peer: number; data?: { id: number }; error?: unknown }[]>('send', {
        target: 'all',
        pattern: 'stats',
        data: {},
      });
    expect(replies.map((r) => r.peer).sort()).toEqual([1, 2, 3]);
    const byPeer = new Map(replies.map((r) => [r.peer, r]));
    expect(byPeer.get(1)!.data!.id).toBe(1);
    expect(byPeer.get(3)!.data!.id).toBe(3);
    expect(byPeer.get(2)).toEqual({
      peer: 2,
      error: { status: 'error', message: 'stats are broken here' },
    });
    const others = await w
      .get(3)!
      .call<{ peer: number }[]>('send', { target: 'others', pattern: 'extra', data: {} });
    expect(others).toEqual([]); // only peer 3 handles 'extra', and 'others' excludes it
  });

  test('Nest semantics: streams, async handlers, undefined/null, RpcException, plain errors, unknown patterns', async () => {
    const p = w.get(1)!;
    const call = (pattern: unknown, data: unknown) =>
      p.call<unknown[]>('send', { target: 2, pattern, data });
    expect(await call('stream', 5)).toEqual([0, 1, 2, 3, 4]);
    expect(await call('async', 30)).toEqual(['waited 30']);
    expect(await call('returns-undefined', {})).toEqual([]); // completes without a value, as on TCP
    expect(await call('returns-null', {})).toEqual([null]);
    expect(await call({ v: 1, cmd: 'object' }, 7)).toEqual([{ object: true, data: 7 }]);
    expect(await rejection(call('rpc-error', {}))).toEqual({ code: 42, message: 'object payload' });
    expect(await rejection(call('rpc-error-string', {}))).toEqual({
      status: 'error',
      message: 'boom',
    });
    expect(await rejection(call('plain-error', {}))).toEqual({
      status: 'error',
      message: 'Internal server error',
    });
    expect(await rejection(call('no-such-pattern', {}))).toBe(NO_HANDLER);
  });

  test('guards, interceptors and exception filters apply as on any transport', async () => {
    const p = w.get(3)!;
    expect(await rejection(p.call('send', { target: 1, pattern: 'guarded', data: 1 }))).toEqual({
      status: 'error',
      message: 'Forbidden resource',
    });
    expect((await w.get(1)!.call<Seen>('seen')).guarded).toBe(1);
    expect(await p.call('send', { target: 1, pattern: 'intercepted', data: 5 })).toEqual([
      { wrapped: 5 },
    ]);
    expect(await rejection(p.call('send', { target: 1, pattern: 'filtered', data: 5 }))).toEqual({
      status: 'error',
      message: 'filtered',
      code: 418,
    });
  });

  test('unsubscribing tells the responder to stop streaming', async () => {
    const values = await w.get(1)!.call<number[]>('takeStream', { target: 2, n: 100, take: 3 });
    expect(values).toEqual([0, 1, 2]);
    await until(async () => (await w.get(2)!.call<Seen>('seen')).streamFinalized === 1, 10_000);
    // Torn down by the unsubscription, not run to its end (100 values, 20 ms apart).
    const seen = await w.get(2)!.call<Seen>('seen');
    expect(seen.streamFinalized).toBe(1);
    expect(seen.streamEmitted).toBeLessThan(100);
  });

  test('dispatch-hook metadata arrives in ctx.getMetadata(); ctx.getPattern() and the request id are set', async () => {
    const [r] = await w
      .get(1)!
      .call<Record<string, unknown>[]>('withMetadata', { target: 3, traceId: 'trace-42' });
    expect(r).toMatchObject({
      me: 3,
      sender: 1,
      pattern: 'whoami',
      metadata: { 'x-request-id': 'trace-42' },
    });
    expect(typeof r!.requestId).toBe('string');
  });

  test('a request whose target dies fails at once with PeerLeftError, not a timeout', async () => {
    const pending = rejection(w.get(1)!.call('send', { target: 3, pattern: 'slow', data: 20_000 }));
    await sleep(100);
    await w.get(3)!.kill('SIGKILL');
    // The handler would take 20 s and the client has no timeout: only the death can end it.
    const err = await pending;
    expect(err).toMatchObject({ name: 'PeerLeftError', code: 'ERR_IPC_PEER_LEFT' });
    expect((err as { message: string }).message).toContain('Peer 3 left');
  });

  test('a request to an id nobody holds fails at once with PeerUnavailableError', async () => {
    const err = await rejection(w.get(1)!.call('send', { target: 9, pattern: 'sum', data: [1] }));
    expect(err).toMatchObject({ name: 'PeerUnavailableError', code: 'ERR_IPC_PEER_UNAVAILABLE' });
  });
});

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
  await until(async () => (await w.get(2)!.call<State>('state')).peers.length === 4, 5000);
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
  await until(async () => (await w.get(2)!.call<State>('state')).peers.length === 2, 5000);
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

test('a hybrid app (HTTP + IpcServer) answers HTTP requests through the channel', async () => {
  const a = await worker({}, { id: 1 });
  const h = await worker({ WORKER_MODE: 'hybrid' }, { id: 2 });
  await until(async () => (await h.call<State>('state')).peers.length === 2, 10_000);
  const { httpPort } = await h.call<State>('state');
  const get = (path: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: httpPort, path }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      })
        .on('error', reject)
        .end();
    });
  const answers = await Promise.all([get('/http/sum?a=2&b=3'), get('/http/sum?a=40&b=2')]);
  expect(answers).toEqual([
    { status: 200, body: { total: 5, via: 2 } },
    { status: 200, body: { total: 42, via: 2 } },
  ]);
  // The hybrid worker's own handlers are on the channel too.
  expect(await a.call('send', { target: 2, pattern: 'sum', data: [1, 1] })).toEqual([2]);
  expect(await a.call('send', { target: 2, pattern: 'ipc-only', data: {} })).toEqual(['ipc only']);
  await h.call('close');
  await until(async () => (await a.call<State>('state')).peers.length === 1, 5000);
});

test('enableShutdownHooks: SIGTERM closes the app, hands the hub over and leaves no socket behind', async () => {
  const a = await worker({ WORKER_SHUTDOWN_HOOKS: '1' }, { id: 1 });
  const b = await worker({ WORKER_SHUTDOWN_HOOKS: '1' }, { id: 2 });
  await until(async () => (await b.call<State>('state')).peers.length === 2, 10_000);
  a.child.kill('SIGTERM');
  await a.exited;
  expect(a.signal ?? a.exitCode).toBeTruthy();
  // b took over the hub and still serves.
  await until(async () => (await b.call<State>('state')).peers.length === 1, 10_000);
  expect(await b.call('send', { target: 2, pattern: 'sum', data: [2, 2] })).toEqual([4]);
  b.child.kill('SIGTERM');
  await b.exited;
  expect(readdirSync(dir.path)).toEqual([]);
});

test('a hybrid app whose client joins before its server attaches: what arrives meanwhile waits for the server', async () => {
  const a = await worker({}, { id: 1 });
  // Events for id 2 before any process holds it: the hub keeps them.
  await a.call('emitMany', { target: 2, count: 100 });
  const b = Proc.launch('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify({ name: 'nest', dir: dir.path, id: 2 }),
    WORKER_MODE: 'hybrid',
    WORKER_LATE_SERVER_MS: '1500',
  });
  await b.waitEvent((e) => e.ev === 'client-joined', 20_000);
  // Peer 2 is joined, but its IpcServer is not attached yet.
  const answers = Promise.all(
    [0, 1, 2].map((i) => a.call('send', { target: 2, pattern: 'echo', data: i })),
  );
  await b.waitEvent((e) => e.ev === 'ready', 20_000);
  expect(await answers).toEqual([[0], [1], [2]]);
  await until(async () => (await b.call<Seen>('seen')).counted.length === 100, 10_000);
  expect((await b.call<Seen>('seen')).counted).toEqual(Array.from({ length: 100 }, (_, i) => i));
});
