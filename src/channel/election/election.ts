import type { Socket } from 'node:net';
import { ElectionLock } from './election-lock.js';
import {
  type Endpoint,
  type EndpointConnectOutcome,
  type Hosted,
  type HubListener,
  rivalEndpoints,
} from '../endpoint/endpoint.js';
import {
  ChannelClosedError,
  ConnectTimeoutError,
  ElectionError,
  TransportMismatchError,
} from '../errors.js';
import { ForeignEndpointError, ElectionLockHeldError, HubSilentError } from '../endpoint-errors.js';
import type { Publication } from '../endpoint/publication.js';
import { describeSent, probeGreeting } from './greeting-probe.js';
import { pidNamespace } from '../util/liveness.js';

/** Outcome of one election: either a connection to the live hub, or the hub's own server. */
export type ElectionResult =
  | { readonly role: 'peer'; readonly socket: Socket }
  | { readonly role: 'hub'; readonly server: HubListener; readonly publication: Publication };

export interface ElectionOptions {
  /** Aborting stops the election at its next step with ChannelClosedError. */
  readonly signal?: AbortSignal;
  /** Probe immediately instead of after a short random delay (the designated successor). */
  readonly eager?: boolean;
  /** Wait this long before the first probe (peers giving a designated successor a head start). */
  readonly delayMs?: number;
  /**
   * A hub just published looks at the same channel on the other endpoint kinds (see
   * rivalEndpoints), and withdraws if a hub is live there: processes with another `transport`
   * setting would otherwise form a second channel of the same name without a word.
   */
  readonly checkRivals?: boolean;
  /**
   * Whether the public name still belongs to a hub this process deposed (it stopped answering
   * heartbeats). It counts as stale, as a dead hub's does, without connecting: a stopped
   * process's socket still accepts connections.
   */
  readonly deposed?: () => boolean;
}

/** What connecting to a deposed hub's name counts as: a refused connect, a stale file. */
const DEPOSED: EndpointConnectOutcome = { code: 'ECONNREFUSED' };

const RACE_CODES = new Set(['ENOENT', 'ECONNREFUSED']);

/**
 * How long a fresh connection waits for the hub's HubHello before it is handed over anyway (a
 * hub under load may be slow; only a connect timeout gives up on it).
 */
const GREETING_WAIT_MS = 2000;

/** What last kept an election from ending, for the error connect() times out with. */
type Obstacle =
  | { readonly kind: 'silent' }
  | { readonly kind: 'lock'; readonly holder: NonNullable<ElectionLock['blockedBy']> };

const obstacles = new WeakMap<Endpoint, Obstacle>();

/**
 * The error for a connect() that timed out: precise when the election saw what was in the way
 * (a lock nobody lets go, a socket that never greets), otherwise a plain ConnectTimeoutError.
 */
export function connectTimeoutError(ms: number, endpoint: Endpoint): ConnectTimeoutError {
  const obstacle = obstacles.get(endpoint);
  if (obstacle?.kind === 'silent') return new HubSilentError(ms, endpoint.path);
  if (obstacle?.kind === 'lock') {
    const { pid, pidNs, refreshedAt } = obstacle.holder;
    return new ElectionLockHeldError(ms, endpoint.path, endpoint.lockPath ?? '', {
      pid,
      sameNamespace: pidNs === undefined || pidNs === pidNamespace(),
      refreshedMsAgo: Date.now() - refreshedAt,
    });
  }
  return new ConnectTimeoutError(ms, endpoint.path);
}
const BUSY_CODES = new Set(['EAGAIN', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * Finds or becomes the hub, using only the endpoint and the file system:
 *
 * 1. Connect. Success means a live hub: be its peer.
 * 2. Nothing listens (ENOENT: nothing published; ECONNREFUSED: a dead hub's file). Take the
 *    election lock; if another live process holds it, wait a few ms and go back to 1.
 * 3. With the lock, connect again (someone may have won meanwhile).
 * 4. Still nobody: listen and publish (endpoint.host). Publishing fails if anyone published
 *    first, so two hubs are never published.
 *
 * A live hub's file is never removed: step 4 replaces a stale one only after a refused connect
 * under the lock. A named pipe has no file and no lock: the first listen wins.
 */
export async function elect(
  endpoint: Endpoint,
  options: ElectionOptions = {},
): Promise<ElectionResult> {
  const lock = endpoint.lockPath === undefined ? undefined : new ElectionLock(endpoint.lockPath);
  if (options.delayMs !== undefined) await pause(0, options.signal, options.delayMs);
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 || !options.eager) await pause(attempt, options.signal);
    checkAborted(options.signal);
    endpoint.verifyDirectory?.();

    const first = options.deposed?.() ? DEPOSED : await endpoint.connect();
    if (first.socket) {
      const peer = await asPeer(endpoint, first.socket);
      if (peer !== undefined) return peer;
      continue;
    }
    if (first.fatal) throw first.fatal;
    if (BUSY_CODES.has(first.code)) continue;
    if (!RACE_CODES.has(first.code)) throw new ElectionError(endpoint.path, first.error);

    if (lock === undefined) {
      const hosted = await endpoint.host(false);
      if (hosted) return hub(endpoint, hosted, options.checkRivals === true);
      continue;
    }

    if (!lock.tryAcquire()) {
      if (lock.blockedBy !== undefined)
        obstacles.set(endpoint, { kind: 'lock', holder: lock.blockedBy });
      continue;
    }
    try {
      checkAborted(options.signal);
      const again = options.deposed?.() ? DEPOSED : await endpoint.connect();
      if (again.socket) {
        const peer = await asPeer(endpoint, again.socket);
        if (peer !== undefined) return peer;
        continue;
      }
      if (again.fatal) throw again.fatal;
      if (!RACE_CODES.has(again.code)) {
        if (BUSY_CODES.has(again.code)) continue;
        throw new ElectionError(endpoint.path, again.error);
      }
      const hosted = await endpoint.host(again.code === 'ECONNREFUSED');
      if (hosted) return hub(endpoint, hosted, options.checkRivals === true);
    } finally {
      lock.release();
    }
  }
}

/**
 * A connection to whatever listens at the path: a hub's greets at once. Undefined when it closed
 * without a word (a hub closing: elect again); another program's fails the election.
 */
async function asPeer(endpoint: Endpoint, socket: Socket): Promise<ElectionResult | undefined> {
  const greeting = await probeGreeting(socket, GREETING_WAIT_MS);
  switch (greeting.kind) {
    case 'hub':
      obstacles.delete(endpoint);
      return { role: 'peer', socket };
    case 'silent':
      // Handed over anyway: a hub under load may greet late, and then it was no obstacle.
      obstacles.set(endpoint, { kind: 'silent' });
      socket.once('data', () => {
        if (obstacles.get(endpoint)?.kind === 'silent') obstacles.delete(endpoint);
      });
      return { role: 'peer', socket };
    case 'closed':
      socket.destroy();
      return undefined;
    case 'foreign':
      socket.destroy();
      throw new ForeignEndpointError(endpoint.path, describeSent(greeting.sent));
  }
}

/**
 * The hub role, once no rival endpoint has a live hub. Looking after publishing, not before,
 * closes the race: of two processes publishing on different kinds at the same moment, the later
 * one always sees the earlier (both may see each other; then both fail, which is as clear).
 */
async function hub(
  endpoint: Endpoint,
  hosted: Hosted,
  checkRivals: boolean,
): Promise<ElectionResult> {
  const result: ElectionResult = { role: 'hub', ...hosted };
  if (!checkRivals) return result;
  for (const rival of rivalEndpoints(endpoint)) {
    const probe = await rival.connect().catch(() => undefined);
    if (probe?.socket === undefined) continue;
    probe.socket.destroy();
    withdraw(result);
    throw new TransportMismatchError(
      endpoint.name,
      { kind: endpoint.kind, path: endpoint.path },
      { kind: rival.kind, path: rival.path },
    );
  }
  return result;
}

/** Undoes a hub election that is no longer wanted (the channel closed meanwhile). */
export function withdraw(result: ElectionResult): void {
  if (result.role === 'peer') {
    result.socket.destroy();
    return;
  }
  result.publication.unpublish();
  result.server.close();
  result.publication.dispose();
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
