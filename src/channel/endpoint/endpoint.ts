import { accessSync, constants, lstatSync, mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { userInfo } from 'node:os';
import type { TransportKind } from './endpoint-choice.js';
import {
  EndpointUnavailableError,
  type IpcChannelError,
  UnsafeDirectoryError,
  isUnwritable,
} from '../errors.js';
import { checkAncestors } from './directory-guard.js';
import type { Publication } from './publication.js';
import { PipeEndpoint } from './pipe-endpoint.js';
import type { ConnectOutcome } from '../io/sockets.js';
import { TcpEndpoint } from './tcp-endpoint.js';
import { UnixEndpoint } from './unix-endpoint.js';

/** What the hub needs of its server: connections (already admitted), errors, and close. */
export interface HubListener {
  on(event: 'connection', listener: (socket: Socket) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): unknown;
}

/** A hub that is listening and published. */
export interface Hosted {
  readonly server: HubListener;
  readonly publication: Publication;
}

/** The outcome of a connection attempt; `fatal` is an error retrying cannot cure. */
export interface EndpointConnectOutcome extends ConnectOutcome {
  readonly fatal?: IpcChannelError;
}

/**
 * Where a channel's hub listens, and how peers find it. The election (election.ts) is the same
 * for every kind; what differs is here: how to reach a live hub, and how to listen and publish.
 */
export interface Endpoint {
  readonly kind: TransportKind;
  /** The channel name the endpoint was derived from. */
  readonly name: string;
  /** The private directory (mode 0700) holding the endpoint's files; '' for a named pipe. */
  readonly dir: string;
  /** The public name: the socket path, the pipe name, or (tcp) the endpoint file. */
  readonly path: string;
  /** The election lock beside the public file; undefined when there is no file to replace. */
  readonly lockPath: string | undefined;
  /**
   * Connects to the hub. ENOENT: nothing published. ECONNREFUSED: a stale publication (its
   * hub is dead). Other codes: see election.ts.
   */
  connect(): Promise<EndpointConnectOutcome>;
  /**
   * Listens and publishes. Undefined if another process published first. `replaceStale`: the
   * public name belongs to a dead hub (the caller holds the election lock).
   */
  host(replaceStale: boolean): Promise<Hosted | undefined>;
  /**
   * Checks, before each election, that the directory is the one this process first elected in
   * and that nobody else can replace it (see DirectoryPin); throws UnsafeDirectoryError if not.
   */
  verifyDirectory?(): void;
}

/**
 * The default directory does not follow TMPDIR or XDG_RUNTIME_DIR: a process started from cron,
 * one from a login shell and one from the PM2 daemon see different environments, and they must
 * still find one another. NESTJS_IPC_DIR is the operator's override for all of them at once.
 */
export function defaultDirectory(): string {
  const fromEnv = process.env.NESTJS_IPC_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const uid = typeof process.getuid === 'function' ? process.getuid() : userInfo().username;
  return `/tmp/nestjs-ipc-${uid}`;
}

export function resolveEndpoint(
  name: string,
  options: { dir?: string | undefined; transport: TransportKind },
): Endpoint {
  switch (options.transport) {
    case 'pipe':
      return new PipeEndpoint(name);
    case 'tcp':
      return new TcpEndpoint(name, options.dir ?? defaultDirectory());
    case 'unix':
      return new UnixEndpoint(name, options.dir ?? defaultDirectory());
  }
}

/**
 * The endpoints of the same channel name and directory on the other kinds this platform has:
 * where a process with another `transport` setting would host the hub. A kind that cannot be
 * built here (a Unix path too long for this directory) is left out: nobody can host there.
 */
export function rivalEndpoints(endpoint: Endpoint): Endpoint[] {
  const others: TransportKind[] =
    endpoint.kind !== 'tcp' ? ['tcp'] : process.platform === 'win32' ? ['pipe'] : ['unix'];
  const dir = endpoint.dir === '' ? undefined : endpoint.dir;
  const rivals: Endpoint[] = [];
  for (const transport of others) {
    try {
      rivals.push(resolveEndpoint(endpoint.name, { dir, transport }));
    } catch {
      // e.g. EndpointPathTooLongError: no hub can be there either
    }
  }
  return rivals;
}

/**
 * Creates the endpoint directory with mode 0700 if missing, and refuses one that other users
 * could enter: file permissions on the socket (and the tcp endpoint file) are the channel's
 * access control, and they mean nothing inside a directory anybody can write to.
 */
export function ensurePrivateDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new EndpointUnavailableError(dir, 'the directory cannot be created', e);
    }
  }
  const st = lstatSync(dir);
  checkAncestors(dir);
  if (st.isSymbolicLink()) {
    throw new UnsafeDirectoryError(
      `The channel directory ${dir} is a symbolic link, which another user could have planted. Remove it or pass another 'dir' option.`,
    );
  }
  if (!st.isDirectory()) {
    throw new UnsafeDirectoryError(
      `The channel path ${dir} exists and is not a directory. Remove it or pass another 'dir' option.`,
    );
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new UnsafeDirectoryError(
      `The channel directory ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}). Another user created it: remove it, or pass another 'dir' option.`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new UnsafeDirectoryError(
      `The channel directory ${dir} has mode ${mode}; it must be private to its owner (0700) because other users could reach the socket. Run 'chmod 700 ${dir}' or pass another 'dir' option.`,
    );
  }
  try {
    // Found now rather than as an endless retry of an election that can never bind.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    if (isUnwritable(e))
      throw new EndpointUnavailableError(dir, 'the directory is not writable', e);
    throw e;
  }
}
