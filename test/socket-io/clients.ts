import { type Socket, io } from 'socket.io-client';
import { until } from '../helpers/wait.js';

/** A real socket.io client and everything it received, by event name, in arrival order. */
export interface TestClient {
  readonly name: string;
  readonly socket: Socket;
  /** The arguments of each event received, per event name. */
  readonly got: Map<string, unknown[][]>;
  /** The first arguments of every `event` received. */
  firsts(event: string): unknown[];
}

const open = new Set<Socket>();

/**
 * Connects a client to the socket.io server on `port` (websocket only, no reconnection: a
 * client of a killed server stays disconnected), as `name`, in `rooms`. Resolves once connected.
 */
export async function connectClient(
  port: number,
  name: string,
  rooms: string[] = [],
  path?: string,
): Promise<TestClient> {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    reconnection: false,
    auth: { name, rooms },
    ...(path === undefined ? {} : { path }),
  });
  open.add(socket);
  const got = new Map<string, unknown[][]>();
  socket.onAny((event: string, ...args: unknown[]) => {
    let list = got.get(event);
    if (list === undefined) got.set(event, (list = []));
    list.push(args);
  });
  // Answers the servers' `emitWithAck('question', q)` with who it is.
  socket.on('question', (q: unknown, ack: (answer: unknown) => void) => ack({ name, q }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { name, socket, got, firsts: (event) => (got.get(event) ?? []).map((args) => args[0]) };
}

/** Waits until every one of `clients` has received `count` `event`s (or more). */
export function untilEach(clients: TestClient[], event: string, count: number): Promise<boolean> {
  return until(
    () => clients.every((c) => c.firsts(event).length >= count),
    undefined,
    `${clients.length} clients to receive ${count} '${event}'`,
  );
}

/** Disconnects every client still open (tests call this in afterEach). */
export function closeClients(): void {
  for (const socket of open) socket.disconnect();
  open.clear();
}
