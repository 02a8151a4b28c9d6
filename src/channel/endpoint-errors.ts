import { ConnectTimeoutError, EndpointUnavailableError, UnsafeDirectoryError } from './errors.js';

/*
 * What the election finds in its way: something else at the endpoint, a lock nobody lets go, a
 * directory that was replaced. Each says what is there and what to do.
 */

/**
 * Something that is not a hub of this channel is at the channel's socket path: a directory or
 * another kind of file, or a server of another program. No hub can listen there, so connect()
 * fails at once instead of timing out.
 */
export class ForeignEndpointError extends EndpointUnavailableError {
  constructor(
    /** The socket path. */
    readonly path: string,
    /** What is there, e.g. `a directory`. */
    readonly found: string,
  ) {
    super(path.slice(0, Math.max(0, path.lastIndexOf('/'))), found, undefined, {
      code: 'ERR_IPC_FOREIGN_ENDPOINT',
      message: `Something else is at the channel's socket path ${path}: ${found}. No hub can listen there: remove it or stop the program that listens there, or give this channel another 'dir'.`,
    });
  }
}

/**
 * connect() timed out while the election lock was held by a process that neither hosted a hub
 * nor let the lock go: it is stuck, or it is not a process of this library.
 */
export class ElectionLockHeldError extends ConnectTimeoutError {
  constructor(
    ms: number,
    endpoint: string,
    readonly lockPath: string,
    /** The pid the lock names (NaN if it names none), and how long ago it was last written. */
    readonly holder: { pid: number; sameNamespace: boolean; refreshedMsAgo: number },
  ) {
    const who = Number.isNaN(holder.pid)
      ? 'a lock file that names no pid'
      : `pid ${holder.pid}${holder.sameNamespace ? '' : ' of another PID namespace'}`;
    super(ms, endpoint, {
      code: 'ERR_IPC_LOCK_HELD',
      message: `the election lock ${lockPath} is held by ${who}, refreshed ${Math.round(holder.refreshedMsAgo)} ms ago, and no hub listens. A process that keeps it without hosting is stuck: stop it, or remove ${lockPath}.`,
    });
  }
}

/**
 * connect() timed out connected to something at the socket path that never greeted as a hub
 * does (a HubHello right away): a hub whose process is blocked, or a server of another program.
 */
export class HubSilentError extends ConnectTimeoutError {
  constructor(ms: number, endpoint: string) {
    super(ms, endpoint, {
      code: 'ERR_IPC_HUB_SILENT',
      message: `a process accepts connections at that path but never greeted. Either the hub's process is blocked (see its CPU use), or another program listens there (on Linux, 'ss -xlp' names it): stop it, or give this channel another 'dir'.`,
    });
  }
}

/**
 * The channel's directory is no longer the one this process joined in (it was renamed or
 * replaced), or a directory on its path became writable by others. Whoever did that could
 * pose as the hub: this process does not rejoin there.
 */
export class DirectoryReplacedError extends UnsafeDirectoryError {}
