import { range } from '../helpers/range.js';
import { sandbox } from '../helpers/sandbox.js';
import { type TestClient, closeClients, connectClient, untilEach } from './clients.js';
import { type IoWorker, startWorkers } from './workers.js';

const box = sandbox({ name: 'sio-kill' });
afterEach(closeClients);

/**
 * A heartbeat timeout far beyond the test's: a killed server can only be dropped because its
 * process left the channel.
 */
const NO_HEARTBEAT_DROP = { heartbeatTimeout: 600_000 };

async function roomClients(workers: IoWorker[]): Promise<Map<number, TestClient[]>> {
  const clients = new Map<number, TestClient[]>();
  for (const w of workers) {
    clients.set(w.id, [
      await connectClient(w.port, `w${w.id}-a`, ['r']),
      await connectClient(w.port, `w${w.id}-b`, ['r']),
    ]);
  }
  return clients;
}

const sortedIds = (clients: TestClient[]) => clients.map((c) => c.socket.id!).sort();

async function fetchIds(worker: IoWorker): Promise<string[]> {
  const sockets = await worker.proc.call<{ id: string }[]>('fetchSockets', {
    room: 'r',
    timeoutMs: 30_000,
  });
  return sockets.map((s) => s.id).sort();
}

test("the hub's worker killed mid-broadcast: the other workers' clients get every event, once, in order", async () => {
  const workers = await startWorkers(box, 3, NO_HEARTBEAT_DROP);
  const [hub, sender, other] = workers as [IoWorker, IoWorker, IoWorker];
  expect(await hub.proc.call('state')).toMatchObject({ isHub: true });
  const clients = await roomClients(workers);
  const survivors = [...clients.get(sender.id)!, ...clients.get(other.id)!];

  await sender.proc.call('streamStart', { room: 'r', perTick: 5 });
  await untilEach(clients.get(other.id)!, 'n', 200);
  await hub.proc.kill();
  const atKill = Math.max(...survivors.map((c) => c.firsts('n').length));
  // The stream goes on through the new hub, then stops.
  await untilEach(clients.get(other.id)!, 'n', atKill + 200);
  const sent = await sender.proc.call<number>('streamStop');

  await untilEach(survivors, 'n', sent);
  for (const c of survivors) {
    expect({ [c.name]: c.firsts('n') }).toEqual({ [c.name]: range(0, sent) });
  }
  expect(sent).toBeGreaterThan(atKill);
  // The dead server's sockets are gone from the cluster's view, without a heartbeat timeout.
  expect(await fetchIds(other)).toEqual(sortedIds(survivors));
  expect(clients.get(hub.id)!.map((c) => c.socket.connected)).toEqual([false, false]);
});

test('the broadcasting worker killed mid-broadcast: every surviving client gets the same gap-free prefix, once', async () => {
  const workers = await startWorkers(box, 3, NO_HEARTBEAT_DROP);
  const [hub, sender, other] = workers as [IoWorker, IoWorker, IoWorker];
  const clients = await roomClients(workers);
  const survivors = [...clients.get(hub.id)!, ...clients.get(other.id)!];

  await sender.proc.call('streamStart', { room: 'r', perTick: 5 });
  await untilEach(survivors, 'n', 200);
  await sender.proc.kill();
  // Each surviving server tells its clients once the killed process has left the channel;
  // everything it sent before dying reached them before that.
  await untilEach(survivors, 'peer-left', 1);
  const prefix = survivors[0]!.firsts('n').length;
  for (const c of survivors) {
    expect({ [c.name]: c.firsts('n') }).toEqual({ [c.name]: range(0, prefix) });
    expect(c.firsts('peer-left')).toEqual([sender.id]);
  }
  expect(prefix).toBeGreaterThanOrEqual(200);
  expect(await fetchIds(hub)).toEqual(sortedIds(survivors));
  expect(await fetchIds(other)).toEqual(sortedIds(survivors));
});

test("the broadcasting worker that also hosts the hub killed mid-broadcast: each surviving worker's clients get one gap-free prefix, once", async () => {
  const workers = await startWorkers(box, 3, NO_HEARTBEAT_DROP);
  const [sender, ...alive] = workers as [IoWorker, IoWorker, IoWorker];
  expect(await sender.proc.call('state')).toMatchObject({ isHub: true });
  const clients = await roomClients(workers);
  const survivors = alive.flatMap((w) => clients.get(w.id)!);

  await sender.proc.call('streamStart', { room: 'r', perTick: 5 });
  await untilEach(survivors, 'n', 200);
  await sender.proc.kill();
  await untilEach(survivors, 'peer-left', 1);
  for (const w of alive) {
    // What the hub had written to a worker's socket before it died: the same for all its clients.
    const [a, b] = clients.get(w.id)!;
    const prefix = a!.firsts('n').length;
    expect(prefix).toBeGreaterThanOrEqual(200);
    for (const c of [a!, b!]) {
      expect({ [c.name]: c.firsts('n') }).toEqual({ [c.name]: range(0, prefix) });
      expect(c.firsts('peer-left')).toEqual([sender.id]);
    }
  }
  for (const w of alive) expect(await fetchIds(w)).toEqual(sortedIds(survivors));
});
