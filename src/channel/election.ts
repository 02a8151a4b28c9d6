import { chmodSync, linkSync, lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { ElectionLock, isAlive } from './election-lock.js';
import type { Endpoint } from './endpoint.js';
import { ChannelClosedError, ElectionError } from './errors.js';

/** Outcome of one election: either a connection to the live hub, or the hub's own server. */
export type ElectionResult =
  | { readonly role: 'peer'; readonly socket: Socket }
  | { readonly role: 'hub'; readonly server: Server; readonly publication: Publication };

/** How the hub's socket is published under the endpoint path (see {@link elect}). */
export interface Publication {
  /** The name the server is bound to; only this process uses it. */
  readonly hubPath: string;
  /** The public path: a hard link to the same socket inode. */
  readonly path: string;
  /** The socket inode, to tell our socket file from a replacement. */
  readonly ino: number;
}

export interface ElectionOptions {
  /** Aborting stops the election at its next step with ChannelClosedError. */
  readonly signal?: AbortSignal;
  /** Probe immediately instead of after a short random delay (the designated successor). */
  readonly eager?: boolean;
  /** Wait this long before the first probe (peers giving a designated successor a head start). */
  readonly delayMs?: number;
}

const RACE_CODES = new Set(['ENOENT', 'ECONNREFUSED']);
const BUSY_CODES = new Set(['EAGAIN', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * Finds or becomes the hub, using only the socket and the file system:
 *
 * 1. Connect. Success means a live hub: be its peer.
 * 2. Nothing listens (ENOENT: no file; ECONNREFUSED: a dead hub's file). Take the election lock;
 *    if another live process holds it, wait a few ms and go back to 1.
 * 3. With the lock, connect again (someone may have won meanwhile).
 * 4. Still nobody: bind a private name `<base>.<pid>.hub`, listen, then publish it by hard-linking
 *    it to the public path (after unlinking a stale file). `link` fails with EEXIST if anyone
 *    published first, so two hubs are never published; the private name also means that closing
 *    the server (which unlinks its bound path) can never remove another hub's public file.
 *
 * A live hub's file is never unlinked: step 4 only runs after a refused connect under the lock.
 */
export async function elect(
  endpoint: Endpoint,
  options: ElectionOptions = {},
): Promise<ElectionResult> {
  const lock = endpoint.isPipe ? undefined : new ElectionLock(endpoint.lockPath);
  if (options.delayMs !== undefined) await pause(0, options.signal, options.delayMs);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 || !options.eager) await pause(attempt, options.signal);
    checkAborted(options.signal);

    const first = await tryConnect(endpoint.path);
    if (first.socket) return { role: 'peer', socket: first.socket };
    if (BUSY_CODES.has(first.code)) continue;
    if (!RACE_CODES.has(first.code)) throw new ElectionError(endpoint.path, first.error);

    if (endpoint.isPipe) {
      const hosted = await tryHostPipe(endpoint);
      if (hosted) return hosted;
      continue;
    }

    if (!lock!.tryAcquire()) continue;
    try {
      checkAborted(options.signal);
      const again = await tryConnect(endpoint.path);
      if (again.socket) return { role: 'peer', socket: again.socket };
      if (!RACE_CODES.has(again.code)) {
        if (BUSY_CODES.has(again.code)) continue;
        throw new ElectionError(endpoint.path, again.error);
      }
      const hosted = await host(endpoint, again.code === 'ECONNREFUSED');
      if (hosted) return hosted;
    } finally {
      lock!.release();
    }
  }
}

interface ConnectOutcome {
  socket?: Socket;
  code: string;
  error?: Error;
}

function tryConnect(path: string): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const onError = (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ code: error.code ?? 'EUNKNOWN', error });
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.removeListener('error', onError);
      resolve({ socket, code: 'OK' });
    });
  });
}

function listen(server: Server, path: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => resolve(e);
    server.once('error', onError);
    // exclusive: in a node:cluster or PM2 cluster worker, a non-exclusive listen would ask the
    // primary to own a shared handle, which would outlive this process and defeat the election.
    server.listen({ path, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve(undefined);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function host(
  endpoint: Endpoint,
  replaceStale: boolean,
): Promise<ElectionResult | undefined> {
  const hubPath = endpoint.hubPath(process.pid);
  unlinkQuietly(hubPath); // a leftover of an earlier process that had our pid
  const server = createServer();
  const err = await listen(server, hubPath);
  if (err) throw new ElectionError(endpoint.path, err);
  try {
    chmodSync(hubPath, 0o600);
    if (replaceStale) {
      unlinkQuietly(endpoint.path);
      removeDebris(endpoint);
    }
    linkSync(hubPath, endpoint.path);
  } catch (e) {
    await closeServer(server);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined; // someone else won
    throw new ElectionError(endpoint.path, e);
  }
  const ino = lstatSync(endpoint.path).ino;
  return { role: 'hub', server, publication: { hubPath, path: endpoint.path, ino } };
}

async function tryHostPipe(endpoint: Endpoint): Promise<ElectionResult | undefined> {
  const server = createServer();
  const err = await listen(server, endpoint.path);
  if (err) {
    server.close();
    if (err.code === 'EADDRINUSE') return undefined;
    throw new ElectionError(endpoint.path, err);
  }
  return {
    role: 'hub',
    server,
    publication: { hubPath: endpoint.path, path: endpoint.path, ino: 0 },
  };
}

/**
 * Files that crashed processes leave beside the socket: private hub names (`<base>.<pid>.hub`)
 * and lock drafts (`<base>.lock.<pid>.<hex>`). Removed when their pid is dead.
 */
function removeDebris(endpoint: Endpoint): void {
  const base = basename(endpoint.hubPath(0)).replace(/\.0\.hub$/, '');
  let names: string[];
  try {
    names = readdirSync(endpoint.dir);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^\.(?:lock\.)?(\d+)(?:\.hub|\.[0-9a-f]+)$/.exec(name.slice(base.length));
    if (!name.startsWith(base) || match === null) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !isAlive(pid)) unlinkQuietly(join(endpoint.dir, name));
  }
}

/** Undoes a hub election that is no longer wanted (the channel closed meanwhile). */
export function withdraw(result: ElectionResult): void {
  if (result.role === 'peer') {
    result.socket.destroy();
    return;
  }
  const pub = result.publication;
  if (pub.ino !== 0) {
    try {
      if (lstatSync(pub.path).ino === pub.ino) unlinkSync(pub.path);
    } catch {
      /* gone */
    }
  }
  result.server.close();
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* not there */
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ChannelClosedError('join the channel');
}

/** A short random pause keeps a herd of processes from probing in lockstep. */
function pause(attempt: number, signal: AbortSignal | undefined, fixedMs?: number): Promise<void> {
  const ceiling = Math.min(2 + attempt * 3, 40);
  const ms = fixedMs ?? 1 + Math.random() * ceiling;
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', done);
      clearTimeout(timer);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
