/** Three Nest microservices in their own processes on one channel: the transport as users see it. */
import { sleep, until } from '../helpers/processes.js';
import { type Seen, type WorkerState, nestWorkers, rejection } from '../helpers/nest-workers.js';

const NO_HANDLER = 'There is no matching message handler defined in the remote service.';

const { w, cluster } = nestWorkers();

describe('three Nest microservices on one channel', () => {
  beforeEach(() => cluster());

  test('ids agree across processes: ipc.id on one side is ctx.getSender() on the other', async () => {
    for (const [id, p] of w) expect((await p.call<WorkerState>('state')).id).toBe(id);
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
    const pid3 = (await w.get(3)!.call<WorkerState>('state')).pid;
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
