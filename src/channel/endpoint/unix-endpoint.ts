import { chmodSync, lstatSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { EndpointConnectOutcome, Hosted } from './endpoint.js';
import { EndpointPathTooLongError } from '../errors.js';
import { ForeignEndpointError } from '../endpoint-errors.js';
import { unlinkQuietly } from '../util/files.js';
import { FileEndpoint, channelStem } from './file-endpoint.js';
import { LinkedPublication } from './publication.js';
import { closeServer, listen, tryConnect } from '../io/sockets.js';

/**
 * Unix socket paths must fit in sun_path: 104 bytes on macOS and the BSDs, 108 on Linux, both
 * including the terminating NUL. Node 20 truncates longer paths without a word, which would make
 * two channels meet on one truncated name, so the limit is checked here.
 */
const SUN_PATH_MAX = process.platform === 'linux' ? 107 : 103;
/** Widest pid suffix a hub path can carry. */
const PID_WIDTH = 10;

/** A Unix socket in the private directory; its file mode (0600) is the access control. */
export class UnixEndpoint extends FileEndpoint {
  readonly kind = 'unix' as const;

  constructor(name: string, dir: string) {
    super(name, dir, socketBase(name, dir), 'sock');
  }

  async connect(): Promise<EndpointConnectOutcome> {
    const outcome = await tryConnect({ path: this.path });
    if (outcome.code !== 'ECONNREFUSED') return outcome;
    // Refused: a dead hub's socket, or no socket at all. Only a socket may be replaced.
    const found = nonSocketAt(this.path);
    if (found === undefined) return outcome;
    return { ...outcome, fatal: new ForeignEndpointError(this.path, found) };
  }

  async host(replaceStale: boolean): Promise<Hosted | undefined> {
    const hubPath = this.hubPath(process.pid);
    unlinkQuietly(hubPath); // a leftover of an earlier process that had our pid
    const server = createServer();
    const err = await listen(server, { path: hubPath });
    if (err) throw this.failure('cannot bind a socket', err);
    try {
      chmodSync(hubPath, 0o600);
    } catch (e) {
      await closeServer(server);
      throw this.failure('cannot restrict the socket to this user', e);
    }
    let published: boolean;
    try {
      published = this.publish(hubPath, replaceStale);
    } catch (e) {
      await closeServer(server);
      throw e;
    }
    if (!published) {
      await closeServer(server); // unlinks hubPath
      return undefined;
    }
    const ino = lstatSync(this.path).ino;
    // The server's close unlinks the private name it bound, so the publication owns no file.
    return { server, publication: new LinkedPublication(hubPath, this.path, ino, false) };
  }
}

/** What is at `path` if it is not a socket ('a directory', ...); undefined for a socket or nothing. */
function nonSocketAt(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isSocket()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a regular file';
  return 'a file that is not a socket';
}

function socketBase(name: string, directory: string): string {
  const { slug, hash } = channelStem(name);
  const fits = (base: string) =>
    Buffer.byteLength(join(directory, `${base}.${'9'.repeat(PID_WIDTH)}.hub`)) <= SUN_PATH_MAX;
  let base = slug.length > 0 ? `${slug}-${hash}` : hash;
  if (!fits(base)) base = hash;
  if (!fits(base)) {
    throw new EndpointPathTooLongError(join(directory, `${base}.sock`), SUN_PATH_MAX);
  }
  return base;
}
