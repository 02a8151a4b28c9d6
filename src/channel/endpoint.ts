import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { EndpointPathTooLongError, UnsafeDirectoryError } from './errors.js';

/** Where a channel's hub listens, and the files the election uses beside it. */
export interface Endpoint {
  /** The channel name the endpoint was derived from. */
  readonly name: string;
  /** The private directory holding the socket (empty for Windows named pipes). */
  readonly dir: string;
  /** The socket path (or pipe name) peers connect to. */
  readonly path: string;
  /** The election lock file beside the socket. */
  readonly lockPath: string;
  /** Whether this is a Windows named pipe (no files, no stale sockets, no locks). */
  readonly isPipe: boolean;
  /** A second name for the hub's socket, private to the hub process (see election). */
  hubPath(pid: number): string;
}

/**
 * Unix socket paths must fit in sun_path: 104 bytes on macOS and the BSDs, 108 on Linux, both
 * including the terminating NUL. Node 20 truncates longer paths without a word, which would make
 * two channels meet on one truncated name, so the limit is checked here.
 */
const SUN_PATH_MAX = process.platform === 'linux' ? 107 : 103;
/** Widest pid suffix a hub path can carry. */
const PID_WIDTH = 10;

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

export function resolveEndpoint(name: string, dir?: string): Endpoint {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  const slug = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(-24)
    .replace(/^[-.]+/, '');

  if (process.platform === 'win32') {
    const user = userInfo().username.replace(/[^A-Za-z0-9._-]+/g, '-');
    const path = `\\\\.\\pipe\\nestjs-ipc-${user}-${slug}-${hash}`;
    return {
      name,
      dir: '',
      path,
      lockPath: '',
      isPipe: true,
      hubPath: () => path,
    };
  }

  const directory = dir ?? defaultDirectory();
  const fits = (base: string) =>
    Buffer.byteLength(join(directory, `${base}.${'9'.repeat(PID_WIDTH)}.hub`)) <= SUN_PATH_MAX;
  let base = slug.length > 0 ? `${slug}-${hash}` : hash;
  if (!fits(base)) base = hash;
  if (!fits(base)) {
    throw new EndpointPathTooLongError(join(directory, `${base}.sock`), SUN_PATH_MAX);
  }
  return {
    name,
    dir: directory,
    path: join(directory, `${base}.sock`),
    lockPath: join(directory, `${base}.lock`),
    isPipe: false,
    hubPath: (pid: number) => join(directory, `${base}.${pid}.hub`),
  };
}

/**
 * Creates the socket directory with mode 0700 if missing, and refuses one that other users could
 * enter: file permissions on the socket are the channel's access control, and they mean nothing
 * inside a directory anybody can write to.
 */
export function ensurePrivateDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new UnsafeDirectoryError(
        `Cannot create the channel directory ${dir} (${(e as Error).message}). Pass a writable 'dir' option.`,
      );
    }
  }
  const st = lstatSync(dir);
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
}
