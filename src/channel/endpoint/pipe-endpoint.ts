import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import type { EndpointConnectOutcome, Hosted } from './endpoint.js';
import { ElectionError, EndpointUnavailableError } from '../errors.js';
import { channelStem } from './file-endpoint.js';
import { PipePublication } from './publication.js';
import { listen, tryConnect } from '../io/sockets.js';

/**
 * A Windows named pipe `\\.\pipe\nestjs-ipc-<user>-<channel>`. The name exists only while a
 * server holds it, so there is no file to go stale, no lock and nothing to publish: the first
 * listen wins and the others get EADDRINUSE. Not exercised by CI (Linux only).
 */
export class PipeEndpoint {
  readonly kind = 'pipe' as const;
  readonly dir = '';
  readonly lockPath = undefined;
  readonly path: string;

  constructor(readonly name: string) {
    const { slug, hash } = channelStem(name);
    const user = userInfo().username.replace(/[^A-Za-z0-9._-]+/g, '-');
    this.path = `\\\\.\\pipe\\nestjs-ipc-${user}-${slug}-${hash}`;
  }

  connect(): Promise<EndpointConnectOutcome> {
    return tryConnect({ path: this.path });
  }

  async host(): Promise<Hosted | undefined> {
    const server = createServer();
    const err = await listen(server, { path: this.path });
    if (err) {
      server.close();
      if (err.code === 'EADDRINUSE') return undefined;
      if (err.code === 'EACCES') {
        throw new EndpointUnavailableError('', `cannot create the named pipe ${this.path}`, err);
      }
      throw new ElectionError(this.path, err);
    }
    return { server, publication: new PipePublication(this.path) };
  }
}
