import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { lstatSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { isAlive, pidNamespace } from '../util/liveness.js';
import type { EndpointConnectOutcome, Hosted, HubListener } from './endpoint.js';
import { type EndpointRecord, readEndpointFile, writeEndpointFile } from './endpoint-file.js';
import { AuthenticationError, EndpointUnavailableError } from '../errors.js';
import { ForeignEndpointError } from '../endpoint-errors.js';
import { unlinkQuietly } from '../util/files.js';
import { FileEndpoint, channelStem } from './file-endpoint.js';
import { LinkedPublication } from './publication.js';
import { closeServer, listen, tryConnect } from '../io/sockets.js';
import { admitPeer, proveToHub } from './token-gate.js';

/** Loopback only: any other address would open the channel to the network. */
export const LOOPBACK = '127.0.0.1';

/**
 * Loopback TCP, for where a Unix socket or named pipe cannot be used (Windows cluster workers),
 * or when forced. The hub listens on 127.0.0.1 on an ephemeral port and publishes the port, its
 * pid and a random token in an endpoint file in the private directory (mode 0600). Any local
 * user can reach the port, so a peer must prove the token before the hub says anything (see
 * token-gate.ts). The file is published like a socket: written complete under a private name,
 * then hard-linked to the public one, so readers never see half a file and two hubs are never
 * published. A file whose pid is dead, or whose port refuses, is stale: replaced under the lock.
 */
export class TcpEndpoint extends FileEndpoint {
  readonly kind = 'tcp' as const;

  constructor(name: string, dir: string) {
    const { slug, hash } = channelStem(name);
    super(name, dir, slug.length > 0 ? `${slug}-${hash}` : hash, 'tcp');
  }

  async connect(): Promise<EndpointConnectOutcome> {
    const read = this.read();
    if ('code' in read) return read;
    const record = read.record;
    const outcome = await tryConnect({ host: LOOPBACK, port: record.port });
    if (outcome.socket === undefined) return outcome;
    const socket = outcome.socket;
    const gate = await proveToHub(socket, record.token);
    if (gate === 'accepted') return { socket, code: 'OK' };
    socket.destroy();
    // The hub closed without answering (it is closing, or died meanwhile): look again.
    if (gate === 'no-answer') return { code: 'ECONNRESET' };
    // Refused: if the file changed meanwhile, the token we proved was an earlier hub's.
    const now = this.read();
    if (!('record' in now) || !now.record.token.equals(record.token)) return { code: 'ECONNRESET' };
    return {
      code: 'EAUTH',
      fatal: new AuthenticationError(
        gate === 'refused'
          ? `The hub of channel '${this.name}' on ${LOOPBACK}:${record.port} refused the token in ${this.path}. The file was changed by hand, or belongs to another program: remove it and restart the channel's processes.`
          : `The process listening on ${LOOPBACK}:${record.port} (named by ${this.path}) could not prove it knows the channel's token: another program holds that port. Remove ${this.path} and restart the channel's processes.`,
      ),
    };
  }

  async host(replaceStale: boolean): Promise<Hosted | undefined> {
    const hubPath = this.hubPath(process.pid);
    unlinkQuietly(hubPath); // a leftover of an earlier process that had our pid
    const server = createServer();
    const err = await listen(server, { host: LOOPBACK, port: 0 });
    if (err) {
      server.close();
      throw new EndpointUnavailableError(
        '',
        `cannot listen on ${LOOPBACK} (is the loopback interface down?); use transport 'unix' or 'pipe' where available`,
        err,
      );
    }
    const token = randomBytes(32);
    const record: EndpointRecord = {
      port: (server.address() as AddressInfo).port,
      token,
      pid: process.pid,
      pidNs: pidNamespace() || undefined,
    };
    let published: boolean;
    try {
      writeEndpointFile(hubPath, record);
      published = this.publish(hubPath, replaceStale);
    } catch (e) {
      await closeServer(server);
      unlinkQuietly(hubPath);
      throw e instanceof EndpointUnavailableError
        ? e
        : this.failure('cannot write the endpoint file', e);
    }
    if (!published) {
      await closeServer(server);
      unlinkQuietly(hubPath);
      return undefined;
    }
    const ino = lstatSync(this.path).ino;
    return {
      server: new GatedServer(server, token),
      publication: new LinkedPublication(hubPath, this.path, ino, true),
    };
  }

  /** The published record, or the code the election acts on. */
  private read(): { record: EndpointRecord } | EndpointConnectOutcome {
    let record: EndpointRecord | undefined;
    try {
      record = readEndpointFile(this.path);
    } catch (e) {
      const error = e as NodeJS.ErrnoException;
      if (error.code === 'EISDIR') {
        return { code: 'EISDIR', error, fatal: new ForeignEndpointError(this.path, 'a directory') };
      }
      return { code: error.code ?? 'EUNKNOWN', error };
    }
    // Unreadable content, or a dead hub's pid (whoever holds its port now): stale. A pid of
    // another PID namespace tells nothing here: then the connection attempt decides.
    if (record === undefined || !isAlive(record.pid, record.pidNs)) return { code: 'ECONNREFUSED' };
    return { record };
  }
}

/**
 * Connections proving the token at one time. Any local user can open connections to the port
 * without knowing the token; past this many, the oldest still proving is dropped, so that they
 * cannot use up the hub process's file descriptors (its HTTP server's too). A real peer proves
 * the token within milliseconds, so only a flood of more than this many in that time pushes it
 * out, and it retries: joins can be delayed, the hub not exhausted.
 */
export const MAX_PROVING = 64;

/**
 * The hub's view of a loopback server: only connections that proved the token are passed on as
 * 'connection'. Connections still proving are destroyed on close.
 */
class GatedServer extends EventEmitter implements HubListener {
  private readonly proving = new Set<Socket>();
  private closed = false;

  constructor(
    private readonly server: Server,
    token: Buffer,
  ) {
    super();
    server.on('connection', (socket) => {
      if (this.proving.size >= MAX_PROVING) {
        const oldest = this.proving.values().next().value!;
        this.proving.delete(oldest);
        oldest.destroy();
      }
      this.proving.add(socket);
      void admitPeer(socket, token).then((admitted) => {
        this.proving.delete(socket);
        if (!admitted) return;
        if (this.closed) socket.destroy();
        else this.emit('connection', socket);
      });
    });
    server.on('error', (e) => this.emit('error', e));
  }

  /** Where the server listens (always 127.0.0.1). */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  close(): void {
    this.closed = true;
    this.server.close();
    for (const socket of this.proving) socket.destroy();
    this.proving.clear();
  }
}
