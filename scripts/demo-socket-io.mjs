/**
 * The demo's socket.io scenario (scripts/demo.mjs calls it once the cluster runs): real
 * socket.io clients connect to the PM2 cluster's port, each on a fresh connection, so PM2 hands
 * them to different workers; all join one room; one client's message, an HTTP request's and a
 * run-once job's reach every client once, whichever worker holds it; GET /rooms/:room lists the
 * room's sockets on every worker.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { io } from 'socket.io-client';

const ROOM = 'lobby';
const CLIENTS = 4;
/** Fresh connections tried for clients on at least two workers (PM2 deals them out in turn). */
const MAX_TRIES = 12;

/** A client in ROOM: its socket, the worker holding it, and the texts it received. */
async function joinRoom(port) {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const got = [];
  socket.on('said', (said) => got.push(said));
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const { worker } = await socket.timeout(10_000).emitWithAck('join', ROOM);
  return { socket, worker, got };
}

async function until(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(50);
  }
}

/**
 * Runs the scenario against the cluster on `port`; `out` is the demo's helpers (`step`, `say`,
 * `table`, `green`, `red`, `dim`, and `http`: one request on a fresh connection) and `env` the
 * environment a process of the app's channel needs (NESTJS_IPC_DIR). Resolves with whether every
 * client got every message.
 */
export async function socketIoScenario(port, root, env, out) {
  const { step, say, table, green, red, dim, http } = out;
  const json = async (method, path, body) => (await http(port, method, path, body)).body;
  step(`socket.io: one room across the workers (IpcIoAdapter)`);
  const clients = [];
  try {
    for (let i = 0; i < MAX_TRIES; i++) {
      const workers = new Set(clients.map((c) => c.worker));
      if (clients.length >= CLIENTS && workers.size >= 2) break;
      const client = await joinRoom(port);
      // Keep at most two clients per worker, so the room spans as many workers as PM2 gives.
      if (clients.filter((c) => c.worker === client.worker).length >= 2) client.socket.close();
      else clients.push(client);
    }
    say(
      `   ${clients.length} socket.io clients joined '${ROOM}', on workers ${[...new Set(clients.map((c) => c.worker))].sort().join(', ')}.`,
    );
    const members = await json('GET', `/rooms/${ROOM}`);
    say(
      `   GET /rooms/${ROOM} (answered by worker ${members.answeredBy}, fetchSockets() across workers): ${members.sockets.length} sockets.`,
    );

    const expected = [];
    const first = clients[0];
    await first.socket.timeout(10_000).emitWithAck('say', { room: ROOM, text: 'hi from a client' });
    expected.push('hi from a client');
    const posted = await json('POST', `/rooms/${ROOM}`, { text: 'hi from HTTP' });
    expected.push('hi from HTTP');
    await new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        [join(root, 'sample/dist/socket-io/announce.js'), ROOM, 'hi from a run-once job'],
        { env: { ...process.env, ...env }, timeout: 30_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${stderr}${stdout}`)) : resolve()),
      ),
    );
    expected.push('hi from a run-once job');
    await until(
      () => clients.every((c) => c.got.length >= expected.length),
      'every client to get every message',
    ).catch(() => undefined);

    table(
      clients.map((c, i) => ({
        client: `#${i + 1}`,
        worker: c.worker,
        got: c.got.map((s) => `"${s.text}" (from ${s.from})`).join(', '),
      })),
      [
        ['client', 'client'],
        ['worker', 'on worker'],
        ['got', 'received (from peer id)'],
      ],
    );
    say(
      dim(
        `   The client's message went through worker ${first.worker}, the HTTP one through worker ${posted.from}; the job was a peer of its own.`,
      ),
    );
    // Three senders, so no order between them: each client must have each message once.
    const sorted = (texts) => [...texts].sort().join('\n');
    const ok = clients.every((c) => sorted(c.got.map((s) => s.text)) === sorted(expected));
    say(
      ok
        ? green('   ✔ Every client got all three, once each, whichever worker holds it.')
        : red('   ✘ A client is missing a message: see the table above.'),
    );
    return ok;
  } finally {
    for (const c of clients) c.socket.close();
  }
}
