import { Buffer } from 'node:buffer';
import { IpcEmitter } from '../../src/socket-io/index.js';
import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';
import { type TestClient, closeClients, connectClient, untilEach } from './clients.js';
import { type IoWorker, startWorkers } from './workers.js';

const box = sandbox({ name: 'sio' });
afterEach(closeClients);

/** Two clients in room `r` and one outside it on each worker, named `w<id>-<n>`. */
async function clientsOn(
  workers: IoWorker[],
): Promise<{ inRoom: TestClient[]; out: TestClient[] }> {
  const inRoom: TestClient[] = [];
  const out: TestClient[] = [];
  for (const w of workers) {
    inRoom.push(await connectClient(w.port, `w${w.id}-a`, ['r']));
    inRoom.push(await connectClient(w.port, `w${w.id}-b`, ['r', 'extra']));
    out.push(await connectClient(w.port, `w${w.id}-c`));
  }
  return { inRoom, out };
}

test("a room broadcast from one worker reaches the room's clients on every worker, once each, in order", async () => {
  const workers = await startWorkers(box, 3);
  const { inRoom, out } = await clientsOn(workers);
  for (let i = 0; i < 20; i++) {
    await workers[1]!.proc.call('emit', { room: 'r', event: 'news', args: [i] });
  }
  // Then one event to everyone: once the clients outside the room have it, they would have had
  // the room's events too (one sender, one order).
  await workers[1]!.proc.call('emit', { event: 'end', args: [] });
  await untilEach([...inRoom, ...out], 'end', 1);
  for (const c of inRoom)
    expect({ [c.name]: c.firsts('news') }).toEqual({ [c.name]: range(0, 20) });
  for (const c of out) expect({ [c.name]: c.firsts('news') }).toEqual({ [c.name]: [] });
  expect(inRoom.length + out.length).toBe(9);
});

test('fetchSockets(), socketsJoin() and disconnectSockets() see the sockets of every worker', async () => {
  const workers = await startWorkers(box, 3);
  const { inRoom, out } = await clientsOn(workers);
  const fetched = await workers[2]!.proc.call<{ id: string; rooms: string[]; data: unknown }[]>(
    'fetchSockets',
    { room: 'r', timeoutMs: 10_000 },
  );
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  expect(fetched.sort(byId)).toEqual(
    inRoom
      .map((c) => ({
        id: c.socket.id!,
        rooms: (c.name.endsWith('-b') ? [c.socket.id!, 'extra', 'r'] : [c.socket.id!, 'r']).sort(),
        data: { worker: Number(c.name.slice(1, c.name.indexOf('-'))), name: c.name },
      }))
      .sort(byId),
  );

  // Every socket in 'extra' (one per worker) joins 'vip' on whichever server holds it.
  await workers[0]!.proc.call('socketsJoin', { room: 'extra', join: 'vip' });
  await until(async () => {
    const vip = await workers[1]!.proc.call<unknown[]>('fetchSockets', {
      room: 'vip',
      timeoutMs: 10_000,
    });
    return vip.length === 3;
  });
  await workers[1]!.proc.call('emit', { room: 'vip', event: 'vip', args: ['hi'] });
  const vips = inRoom.filter((c) => c.name.endsWith('-b'));
  await untilEach(vips, 'vip', 1);

  // Then the sockets in 'vip' are disconnected, each by the server that holds it; no other.
  await workers[0]!.proc.call('disconnectSockets', { room: 'vip' });
  await until(
    () => vips.every((c) => !c.socket.connected),
    undefined,
    'the vip clients to be disconnected',
  );
  expect(
    [...inRoom, ...out]
      .filter((c) => c.socket.connected)
      .map((c) => c.name)
      .sort(),
  ).toEqual([...inRoom.filter((c) => c.name.endsWith('-a')), ...out].map((c) => c.name).sort());
  for (const c of [...inRoom, ...out]) {
    expect({ [c.name]: c.firsts('vip') }).toEqual({
      [c.name]: c.name.endsWith('-b') ? ['hi'] : [],
    });
  }
});

test('serverSideEmit reaches every other server once, and its acknowledgements come from each', async () => {
  const workers = await startWorkers(box, 3);
  await workers[0]!.proc.call('serverSideEmit', { args: ['one', 1] });
  await workers[0]!.proc.call('serverSideEmit', { args: ['two', 2] });
  const answers = await workers[1]!.proc.call<{ worker: number; question: string }[]>('ask', {
    question: 'who are you',
  });
  expect(answers.sort((a, b) => a.worker - b.worker)).toEqual([
    { worker: 1, question: 'who are you' },
    { worker: 3, question: 'who are you' },
  ]);
  const events = await Promise.all(workers.map((w) => w.proc.call('serverEvents')));
  // Worker 1 published both notes: servers do not receive their own.
  await until(async () => (await workers[2]!.proc.call<unknown[]>('serverEvents')).length === 2);
  expect(events[0]).toEqual([]);
  expect(await workers[1]!.proc.call('serverEvents')).toEqual([
    ['note', 'one', 1],
    ['note', 'two', 2],
  ]);
  expect(await workers[2]!.proc.call('serverEvents')).toEqual([
    ['note', 'one', 1],
    ['note', 'two', 2],
  ]);
});

test('a broadcast with acknowledgements collects the answer of every room client, on every worker', async () => {
  const workers = await startWorkers(box, 3);
  const { inRoom } = await clientsOn(workers);
  const answers = await workers[0]!.proc.call<{ name: string; q: string }[]>('emitWithAck', {
    room: 'r',
    question: 'name?',
  });
  expect(answers.map((a) => a.name).sort()).toEqual(inRoom.map((c) => c.name).sort());
  expect(answers.every((a) => a.q === 'name?')).toBe(true);
});

test('an emitter in a process without a socket.io server reaches rooms on every worker, binary included', async () => {
  const workers = await startWorkers(box, 2);
  const { inRoom, out } = await clientsOn(workers);
  const channel = box.channel();
  await channel.connect();
  const emitter = new IpcEmitter(channel);
  const bytes = Uint8Array.from([0, 1, 2, 250]);
  for (let i = 0; i < 5; i++) emitter.to('r').emit('news', i, { at: i });
  emitter.to('r').except('extra').emit('bytes', Buffer.from('buf'), bytes);
  emitter.emit('end');
  await untilEach([...inRoom, ...out], 'end', 1);
  for (const c of inRoom) {
    expect({ [c.name]: c.got.get('news') }).toEqual({
      [c.name]: range(0, 5).map((i) => [i, { at: i }]),
    });
    const binary = c.got.get('bytes') ?? [];
    if (c.name.endsWith('-b')) expect(binary).toEqual([]);
    else expect(binary).toEqual([[Buffer.from('buf'), Buffer.from(bytes)]]);
  }
  for (const c of out) expect(c.got.get('news')).toBeUndefined();
  expect(() => emitter.emit('disconnect')).toThrow(
    expect.objectContaining({ code: 'ERR_IPC_INVALID_EVENT' }),
  );
  // Its messages are delivered once close() resolves: a run-once job may exit then.
  emitter.to('r').emit('last');
  await channel.close();
  await untilEach(inRoom, 'last', 1);
});
