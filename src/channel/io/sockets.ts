import { type Server, type Socket, type TcpNetConnectOpts, createConnection } from 'node:net';

/** The result of one connection attempt: a socket, or the error code that says why not. */
export interface ConnectOutcome {
  readonly socket?: Socket;
  readonly code: string;
  readonly error?: Error;
}

/** Connects to a Unix socket / named pipe path, or to a TCP address; never throws. */
export function tryConnect(to: { path: string } | TcpNetConnectOpts): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const socket = createConnection(to);
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

/** Listens; resolves with the error instead of throwing it. */
export function listen(
  server: Server,
  at: { path: string } | { host: string; port: number },
): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => resolve(e);
    server.once('error', onError);
    // exclusive: in a node:cluster or PM2 cluster worker, a non-exclusive listen would ask the
    // primary to own a shared handle, which would outlive this process and defeat the election.
    server.listen({ ...at, exclusive: true }, () => {
      server.removeListener('error', onError);
      resolve(undefined);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Reads exactly `n` bytes, leaving whatever follows in the socket for the next reader.
 * Resolves undefined if the socket ends or fails first, or after `timeoutMs`.
 */
export function readExactly(
  socket: Socket,
  n: number,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const onReadable = () => {
      const chunk = socket.read(n) as Buffer | null;
      // At the end of the stream read() returns what is left, which may be short.
      if (chunk !== null) finish(chunk.length === n ? chunk : undefined);
    };
    const onGone = () => finish(undefined);
    function finish(result: Buffer | undefined) {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onGone);
      socket.removeListener('close', onGone);
      socket.removeListener('error', onGone);
      resolve(result);
    }
    socket.on('readable', onReadable);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onGone);
    // The bytes may be buffered already (read after an earlier readExactly), and 'readable'
    // is not emitted again for them.
    onReadable();
  });
}
